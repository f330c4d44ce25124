// A kernel's run-time functions, from data alone: the uniform's u32 values and the workgroup
// counts for this step's dims. Used by the builder and when kernels are read back from an artifact.
import { type Dim, type DimBindings, dimToString, evalDim } from '../../ir/dim.js';
import type { WgslKernel } from './types.js';

/** The uniform values and workgroup counts of a kernel, from its dims. */
export function kernelRuntime(uniformDims: readonly Dim[], grid: readonly [Dim, Dim, Dim], maxWorkgroups: number, where: string): Pick<WgslKernel, 'uniforms' | 'workgroups'> {
  const n4 = Math.max(1, Math.ceil(uniformDims.length / 4));
  return {
    uniforms(env: DimBindings): Uint32Array {
      const out = new Uint32Array(n4 * 4);
      uniformDims.forEach((d, i) => {
        const v = evalDim(d, env);
        if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Error(`${where}: dim ${dimToString(d)} = ${v} does not fit in u32`);
        out[i] = v;
      });
      return out;
    },
    workgroups(env: DimBindings): [number, number, number] {
      const g = grid.map((d) => evalDim(d, env)) as [number, number, number];
      if (g.some((c) => c > maxWorkgroups)) throw new Error(`${where}: ${g.join('×')} workgroups exceed maxComputeWorkgroupsPerDimension ${maxWorkgroups}`);
      return g;
    },
  };
}
