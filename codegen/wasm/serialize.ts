// CPU programs to and from artifact data: kernels are named entries of the compiled cpu.wasm,
// with their bindings and run-time dims as text, so loading needs no AssemblyScript.
import { type Dim, dimToString } from '../../ir/dim.js';
import type { Graph } from '../../ir/graph.js';
import { parseDim } from '../../ir/parse/dim.js';
import { planFromData, planToData } from '../artifact/plan-data.js';
import type { PlanData } from '../artifact/manifest.js';
import type { KernelBinding, WasmKernel } from './kernel.js';
import type { CompiledModule } from './module.js';
import { assertWasmFeatures, type WasmFeature } from './features.js';
import type { WasmProgram } from './program.js';

type BindingData = Exclude<KernelBinding, { kind: 'scratch' }> | { readonly kind: 'scratch'; readonly slot: number; readonly bytes: string; readonly perThread: boolean };

export interface WasmKernelData {
  readonly name: string;
  readonly bindings: readonly BindingData[];
  readonly dims: readonly string[];
}

export interface WasmProgramData {
  readonly plan: PlanData;
  readonly nodes: readonly { readonly kernels: readonly WasmKernelData[] }[];
}

export interface WasmTargetData {
  readonly file: string;
  readonly sha256: string;
  /** The AssemblyScript the module was compiled from (cpu.ts), for reading; absent in older artifacts. */
  readonly source?: { readonly file: string; readonly sha256: string };
  /** Kernel names in the module's dispatch order. */
  readonly kernels: readonly string[];
  /** Optional WebAssembly features cpu.wasm uses (absent: none). */
  readonly features?: readonly string[];
  readonly programs: Readonly<Record<string, WasmProgramData>>;
}

export function wasmProgramToData(p: WasmProgram): WasmProgramData {
  return {
    plan: planToData(p.plan, p.bounds, p.graph),
    nodes: p.nodes.map((n) => ({
      kernels: n.kernels.map((k) => ({
        name: k.name,
        bindings: k.bindings.map((b) => (b.kind === 'scratch' ? { ...b, bytes: dimToString(b.bytes) } : b)),
        dims: k.dims.map(dimToString),
      })),
    })),
  };
}

export function wasmProgramFromData(d: WasmProgramData, graph: Graph): WasmProgram {
  if (d.nodes.length !== graph.nodes.length) throw new Error(`the CPU program has ${d.nodes.length} nodes, the graph ${graph.nodes.length}`);
  const dim = (s: string): Dim => parseDim(s, graph.symbols);
  const plan = planFromData(d.plan, graph);
  return {
    graph,
    plan,
    bounds: d.plan.bounds,
    nodes: graph.nodes.map((node, i) => ({
      node,
      kernels: d.nodes[i].kernels.map((k): WasmKernel => ({
        name: k.name,
        key: k.name,
        // The code lives in cpu.wasm; the runtime needs only the calling convention.
        source: '',
        bindings: k.bindings.map((b) => (b.kind === 'scratch' ? { ...b, bytes: dim(b.bytes) } : b)),
        dims: k.dims.map(dim),
      })),
    })),
  };
}

/** A compiled module from stored bytes and its kernel order (`compiled`: those bytes, already compiled). */
export async function moduleFromBinary(binary: Uint8Array<ArrayBuffer>, kernelNames: readonly string[], features: readonly string[] = [], compiled?: WebAssembly.Module): Promise<CompiledModule> {
  // Before compiling: this also turns the engine's support on where it is behind a flag.
  assertWasmFeatures(features, 'cpu.wasm');
  const index = new Map(kernelNames.map((n, i) => [n, i]));
  return {
    source: '',
    kernels: [],
    features: features as WasmFeature[],
    binary,
    module: compiled ?? await WebAssembly.compile(binary),
    compileMs: 0,
    indexOf(name: string): number {
      const i = index.get(name);
      if (i === undefined) throw new Error(`cpu.wasm has no kernel ${name}`);
      return i;
    },
  };
}
