// A whole graph lowered for the CPU: every node's kernels plus the memory plan. Views (reshape)
// and in-place KV appends that the plan aliases need no copy; the runtime drops or narrows them.
// Rows appended to a KV cache are computed at the cache's tail where the plan allows it
// (PlanOptions.appendAtTail), so their append launches nothing.
import { assertCompilerAllowed } from '../../ir/compiler-guard.js';
import type { Graph, Node } from '../../ir/graph.js';
import { type DimBounds, type MemoryPlan, planMemory } from '../../ir/memory.js';
import { emitWasmKernel } from './emit.js';
import type { WasmEmitContext, WasmKernel } from './kernel.js';

export interface WasmProgram {
  readonly graph: Graph;
  readonly plan: MemoryPlan;
  readonly bounds: DimBounds;
  readonly nodes: readonly { readonly node: Node; readonly kernels: readonly WasmKernel[] }[];
}

export function lowerGraphToWasm(graph: Graph, bounds: DimBounds, ctx: WasmEmitContext = {}): WasmProgram {
  assertCompilerAllowed(`WebAssembly code generation for @${graph.name}`);
  const plan = planMemory(graph, bounds, { appendAtTail: true });
  const nodes = graph.nodes.map((node) => {
    const aliased = node.outputs.length === 1 && plan.storageOf.get(node.outputs[0]) === plan.storageOf.get(node.inputs[0]);
    // A view that shares its operand's storage moves no data, nor does a KV append whose rows
    // were computed in place at the cache's tail.
    const appended = node.op === 'kv_append' && aliased && plan.storageOf.get(node.inputs[1])?.tailOf === plan.storageOf.get(node.inputs[0])?.id;
    const kernels = (aliased && node.op === 'reshape') || appended ? [] : emitWasmKernel(node, ctx);
    return { node, kernels };
  });
  return { graph, plan, bounds, nodes };
}

/** Every distinct kernel of some programs, for one module. */
export function programKernels(programs: readonly WasmProgram[]): WasmKernel[] {
  const byName = new Map<string, WasmKernel>();
  for (const p of programs) for (const n of p.nodes) for (const k of n.kernels) byName.set(k.name, k);
  return [...byName.values()];
}
