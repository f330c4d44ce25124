// WGSL kernels to and from artifact data: everything but the WGSL text is data (dims as text),
// and the run-time functions (uniform values, workgroup counts) are rebuilt from it.
import { type Dim, dimToString } from '../../ir/dim.js';
import { kernelRuntime } from './kernel-runtime.js';
import { parseDim } from '../../ir/parser.js';
import type { WgslKernelData, WgslProgramData } from '../artifact/manifest.js';
import { planFromData, planToData } from '../artifact/plan-data.js';
import type { BindingRef } from '../kernel.js';
import type { WgslProgram } from './program.js';
import type { WgslKernel } from './types.js';
import type { Graph } from '../../ir/graph.js';

function bindingToData(b: BindingRef): WgslKernelData['bindings'][number] {
  if (b.kind !== 'scratch') return b;
  if (typeof b.bytes === 'function') throw new Error('a scratch buffer sized by a function cannot be stored in an artifact; size it with a dim');
  return { kind: 'scratch', id: b.id, bytes: dimToString(b.bytes) };
}

export function kernelToData(k: WgslKernel): WgslKernelData {
  return {
    key: k.key, file: `kernels/${k.key}.wgsl`, entryPoint: k.entryPoint, label: k.label,
    bindings: k.bindings.map(bindingToData),
    uniformDims: k.uniformDims.map(dimToString),
    grid: k.grid.map(dimToString) as [string, string, string],
    ...(k.when ? { when: { dim: dimToString(k.when.dim), ...(k.when.min !== undefined ? { min: k.when.min } : {}), ...(k.when.max !== undefined ? { max: k.when.max } : {}) } } : {}),
  };
}

export function kernelFromData(d: WgslKernelData, wgsl: string, symbols: readonly string[], maxWorkgroups: number): WgslKernel {
  const dim = (s: string) => parseDim(s, symbols);
  const uniformDims = d.uniformDims.map(dim);
  const grid = d.grid.map(dim) as [Dim, Dim, Dim];
  const bindings: BindingRef[] = d.bindings.map((b) => (b.kind === 'scratch' ? { kind: 'scratch', id: b.id, bytes: dim(String(b.bytes)) } : b));
  return {
    key: d.key, wgsl, entryPoint: d.entryPoint, label: d.label, bindings, uniformDims, grid,
    ...(d.when ? { when: { dim: dim(d.when.dim), ...(d.when.min !== undefined ? { min: d.when.min } : {}), ...(d.when.max !== undefined ? { max: d.when.max } : {}) } } : {}),
    ...kernelRuntime(uniformDims, grid, maxWorkgroups, `${d.label}`),
  };
}

export function programToData(p: WgslProgram): { data: WgslProgramData; files: Map<string, string> } {
  const files = new Map<string, string>();
  const nodes = p.nodes.map(({ lowering }) => ({
    kernels: lowering.kernels.map((k) => {
      const d = kernelToData(k);
      files.set(d.file, k.wgsl);
      return d;
    }),
    ...(lowering.aliasOf !== undefined ? { aliasOf: lowering.aliasOf } : {}),
  }));
  return { data: { plan: planToData(p.plan, p.bounds, p.graph), nodes }, files };
}

export function programFromData(d: WgslProgramData, graph: Graph, readFile: (path: string) => string, maxWorkgroups: number): WgslProgram {
  if (d.nodes.length !== graph.nodes.length) throw new Error(`the WebGPU program has ${d.nodes.length} nodes, the graph ${graph.nodes.length}`);
  const nodes = graph.nodes.map((node, i) => ({
    node,
    lowering: {
      kernels: d.nodes[i].kernels.map((k) => kernelFromData(k, readFile(k.file), graph.symbols, maxWorkgroups)),
      ...(d.nodes[i].aliasOf !== undefined ? { aliasOf: d.nodes[i].aliasOf } : {}),
    },
  }));
  return { graph, plan: planFromData(d.plan, graph), bounds: d.plan.bounds, nodes };
}
