// The emitter contract: dispatch and errors, stable keys, the binding/uniform layout, limits, and
// (on the device) that the WGSL also compiles and runs with dims baked in as constants and with
// `layout: 'auto'`, as an executor on a real GPU would use it.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { type Dim, type DType, GraphBuilder, type HostTensor, makeNode, type Node, sym, tensorType } from '../../../ir/index.js';
import { emitWgslKernel } from '../../../codegen/wgsl/emit.js';
import { WEBGPU_DEFAULT_TARGET, type WgslTarget } from '../../../codegen/wgsl/target.js';
import { runKernel } from '../../../runtime/webgpu/run-kernel.js';
import { checkOp, closeGpu, expectAdapter, openGpu, randomInts, randomTensor, referenceRun } from './harness.js';

const gpu = await openGpu();
expectAdapter(gpu);
const S = sym('S');

/** A node of `op` over fresh inputs of the given types (type-checked by the builder). */
type Input = readonly [name: string, shape: readonly Dim[], dtype?: DType];
function nodeOf(op: string, inputs: readonly Input[], attrs = {}): Node {
  const b = new GraphBuilder('t', ['S', 'T']);
  const vs = inputs.map(([name, shape, dtype]) => b.input(name, dtype ?? 'f32', shape));
  b.op(op, vs, attrs);
  return b.graph.nodes[0];
}

describe('WGSL emitter contract', () => {
  it('names the op it has no kernel for', () => {
    const node = makeNode('frobnicate', [], {}, [{ name: 'y', type: tensorType('f32', [1]) }]);
    expect(() => emitWgslKernel(node, WEBGPU_DEFAULT_TARGET)).toThrow(/no WGSL kernel for op 'frobnicate'/);
  });

  it('gives equal WGSL equal keys and different WGSL different keys', () => {
    const a = emitWgslKernel(nodeOf('silu', [['x', [S, 64]]]), WEBGPU_DEFAULT_TARGET).kernels[0];
    const b = emitWgslKernel(nodeOf('silu', [['x', [S, 64]]]), WEBGPU_DEFAULT_TARGET).kernels[0];
    const c = emitWgslKernel(nodeOf('relu', [['x', [S, 64]]]), WEBGPU_DEFAULT_TARGET).kernels[0];
    expect(b.key).toBe(a.key);
    expect(b.wgsl).toBe(a.wgsl);
    expect(c.key).not.toBe(a.key);
    expect(a.key).toMatch(/^unary_silu-[0-9a-f]{16}$/);
  });

  it('declares bindings in order with the uniform last, and bakes static dims unless loops are rolled', () => {
    const node = nodeOf('matmul', [['x', [S, 40]], ['w', [24, 40], 'q8_0'], ['b', [24]]]);
    const [gemv, gemm] = emitWgslKernel(node, WEBGPU_DEFAULT_TARGET).kernels;
    for (const k of [gemv, gemm]) {
      expect(k.bindings).toEqual([{ kind: 'operand', index: 0 }, { kind: 'operand', index: 1 }, { kind: 'operand', index: 2 }, { kind: 'result', index: 0 }]);
      expect(k.wgsl).toContain('@group(0) @binding(4) var<uniform> U: Dims;');
      expect(k.wgsl).toMatch(/_ = U\.v\[0\];/);
    }
    expect(gemm.uniformDims.map(String)).toEqual(['S']);
    expect(gemm.uniforms({ S: 70 })).toEqual(new Uint32Array([70, 0, 0, 0]));
    expect(gemm.workgroups({ S: 70 })).toEqual([1, 2, 1]);
    expect(gemm.wgsl).toContain('let K = 40u;');
    const rolled = emitWgslKernel(node, { ...WEBGPU_DEFAULT_TARGET, rollLoops: true }).kernels[1];
    expect(rolled.wgsl).not.toContain('let K = 40u;');
    expect(Array.from(rolled.uniforms({ S: 70 })).slice(0, 3)).toEqual([70, 24, 40]);
  });

  it('folds large launches into two grid dimensions and refuses ones beyond the limit', () => {
    const k = emitWgslKernel(nodeOf('exp', [['x', [S, 1000]]]), WEBGPU_DEFAULT_TARGET).kernels[0];
    expect(k.workgroups({ S: 3 })).toEqual([12, 1, 1]);
    const big = k.workgroups({ S: 20_000 }); // 20M elements: 78125 workgroups of 256
    expect(big[0]).toBe(65535);
    expect(big[0] * big[1]).toBeGreaterThanOrEqual(78125);
    const tiny: WgslTarget = { ...WEBGPU_DEFAULT_TARGET, maxWorkgroupsPerDimension: 4 };
    const g = emitWgslKernel(nodeOf('matmul', [['x', [S, 8]], ['w', [1000, 8]]]), tiny).kernels[1];
    expect(() => g.workgroups({ S: 10 })).toThrow(/exceed maxComputeWorkgroupsPerDimension 4/);
  });

  it('binds a weight larger than one storage binding as row ranges, and refuses other such tensors, naming the size', () => {
    const node = nodeOf('embedding', [['table', [300_000, 4096]], ['ids', [S], 'i32']]);
    const ranges = emitWgslKernel(node, WEBGPU_DEFAULT_TARGET).kernels.map((k) => k.bindings[0]);
    expect(ranges).toHaveLength(37); // 4.9 GB in ranges of at most 8192 rows of 16 KiB
    expect(ranges[0]).toEqual({ kind: 'operand', index: 0, rows: { first: 0, count: 8109 } });
    const big = nodeOf('add', [['x', [300_000, 4096]], ['y', [300_000, 4096]]]);
    expect(() => emitWgslKernel(big, WEBGPU_DEFAULT_TARGET)).toThrow(/operand 0 %x: f32\[300000, 4096\] is 4915200000 bytes, over the device's maxStorageBufferBindingSize of 134217728/);
  });

  it('sizes attention tiles to the workgroup memory it is given', () => {
    for (const [d, limit] of [[64, 16384], [128, 16384], [256, 16384], [256, 32768]] as const) {
      const node = nodeOf('attention', [['q', [S, 4, d]], ['k', [S, 2, d]], ['v', [S, 2, d]]], { scale: 0.1 });
      const flash = emitWgslKernel(node, { ...WEBGPU_DEFAULT_TARGET, maxWorkgroupStorage: limit }).kernels.find((k) => k.entryPoint === 'attention_flash')!;
      let bytes = 0;
      for (const m of flash.wgsl.matchAll(/var<workgroup> \w+: array<f32, (\d+)>/g)) bytes += 4 * Number(m[1]);
      expect(bytes).toBeLessThanOrEqual(limit);
      expect(bytes).toBeGreaterThan(limit / 4);
    }
  });

  it('reports the in-place kv_append it cannot do (several sequences)', () => {
    const node = nodeOf('kv_append', [['past', [2, S, 2, 4]], ['new', [2, 1, 2, 4]]]);
    expect(() => emitWgslKernel(node, { ...WEBGPU_DEFAULT_TARGET, kvAppendInPlace: true })).toThrow(/in-place kv_append needs an unbatched cache or batch 1/);
  });
});

describe.runIf(gpu.ctx)('WGSL on the device with constants baked in', () => {
  afterAll(() => closeGpu(gpu));
  // What a real GPU runs: static dims as WGSL constants. Compiling these is slow on lavapipe
  // (it unrolls every constant loop), so a handful of small cases per family.
  const baked = () => ({ ...gpu.target!, rollLoops: false });

  it('elementwise, norms, reductions, layout, embedding', async () => {
    const x = randomTensor('f32', [3, 20], 1);
    await checkOp(gpu, { op: 'mul', operands: [{ t: x }, { t: randomTensor('f16', [20], 2) }] }, { target: baked() });
    await checkOp(gpu, { op: 'rms_norm', attrs: { eps: 1e-6 }, operands: [{ t: x }, { t: randomTensor('f32', [20], 3) }] }, { target: baked() });
    await checkOp(gpu, { op: 'softmax', attrs: { axis: 0 }, operands: [{ t: x }] }, { target: baked() });
    await checkOp(gpu, { op: 'transpose', attrs: { perm: [1, 0] }, operands: [{ t: randomTensor('f16', [3, 5], 4) }] }, { target: baked(), tol: 0 });
    await checkOp(gpu, { op: 'embedding', operands: [{ t: randomTensor('q4_0', [5, 40], 5) }, { t: randomInts([4], 6, 0, 5) }] }, { target: baked(), tol: 0 });
  });

  it('matmul (both kernels) and attention (both forms)', async () => {
    await fc.assert(fc.asyncProperty(fc.constantFrom(1, 9), fc.integer(), async (rows, seed) => {
      await checkOp(gpu, { op: 'matmul', operands: [{ t: randomTensor('f32', [rows, 33], seed) }, { t: randomTensor('q8_0', [7, 33], seed + 1) }] }, { target: baked(), tol: 1e-5 });
      const s = rows === 1 ? 1 : 4;
      await checkOp(gpu, {
        op: 'attention', attrs: { scale: 0.25, window: 3 },
        operands: [{ t: randomTensor('f32', [s, 2, 8], seed) }, { t: randomTensor('f32', [6, 1, 8], seed + 1) }, { t: randomTensor('f32', [6, 1, 8], seed + 2) }],
      }, { target: baked() });
    }), { numRuns: 2 });
  });

  it("runs with layout: 'auto' (every binding, the uniform included, is statically used)", async () => {
    const x = randomTensor('f32', [4, 8], 7);
    const { node, want } = referenceRun({ op: 'neg', operands: [{ t: x }] });
    const k = emitWgslKernel(node, baked()).kernels[0];
    expect(k.uniformDims).toEqual([]);
    const [, y] = await runKernel(gpu.ctx!, {
      wgsl: k.wgsl, entryPoint: k.entryPoint, workgroups: k.workgroups({}),
      buffers: [x.data as Float32Array, { output: Float32Array, length: 32 }, { uniform: k.uniforms({}) }],
    });
    expect(Array.from(y)).toEqual(Array.from((want[0] as HostTensor).data as Float32Array));
  });
});
