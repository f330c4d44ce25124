// WGSL kernels to and from artifact data: everything but the WGSL text is data (dims as text),
// and the run-time functions (uniform values, workgroup counts) are rebuilt from it.
import { type Dim, dimToString } from '../../ir/dim.js';
import { kernelRuntime } from './kernel-runtime.js';
import { parseDim } from '../../ir/parse/dim.js';
import type { WgslKernelData, WgslProgramData } from '../artifact/manifest.js';
import { planFromData, planToData } from '../artifact/plan-data.js';
import type { WgslProgram } from './program.js';
import type { RowRange } from './split.js';
import type { WgslBinding, WgslKernel } from './types.js';
import type { Graph } from '../../ir/graph.js';

type BindingData = WgslKernelData['bindings'][number];

// An operand's row range (a split weight) rides along as an extra `rows` field of its entry.
function bindingToData(b: WgslBinding): BindingData {
  if (b.kind !== 'scratch') return b;
  if (typeof b.bytes === 'function') throw new Error('a scratch buffer sized by a function cannot be stored in an artifact; size it with a dim');
  return { kind: 'scratch', id: b.id, bytes: dimToString(b.bytes) };
}

function bindingFromData(b: BindingData, dim: (s: string) => Dim): WgslBinding {
  if (b.kind === 'scratch') return { kind: 'scratch', id: b.id, bytes: dim(String(b.bytes)) };
  if (b.kind === 'result') return b;
  const rows = (b as { rows?: RowRange }).rows;
  if (rows === undefined) return { kind: 'operand', index: b.index };
  if (!Number.isInteger(rows.first) || !Number.isInteger(rows.count) || rows.first < 0 || rows.count < 1) {
    throw new Error(`operand ${b.index}: bad row range ${JSON.stringify(rows)}`);
  }
  return { kind: 'operand', index: b.index, rows: { first: rows.first, count: rows.count } };
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
  const bindings = d.bindings.map((b) => bindingFromData(b, dim));
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
  const dims = { key: p.dims.key, symbols: [...p.dims.symbols], table: p.dims.table.map(dimToString), file: `kernels/${p.dims.key}.wgsl` };
  files.set(dims.file, p.dims.wgsl);
  return { data: { plan: planToData(p.plan, p.bounds, p.graph), nodes, dims }, files };
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
  if (!d.dims) throw new Error('the WebGPU program has no step-dims kernel ("dims")');
  const dims = { key: d.dims.key, symbols: d.dims.symbols, table: d.dims.table.map((s) => parseDim(s, graph.symbols)), wgsl: readFile(d.dims.file) };
  return { graph, plan: planFromData(d.plan, graph), bounds: d.plan.bounds, nodes, dims };
}
