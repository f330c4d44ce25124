// A whole graph lowered for WebGPU: every node's kernels, the memory plan that says which storage
// each operand and result lives in, and the step-dims kernel that fills the launches' uniforms
// on the GPU. The runtime executes this; an artifact stores it.
import type { Graph, Node } from '../../ir/graph.js';
import { type DimBounds, type MemoryPlan, planMemory } from '../../ir/memory.js';
import { assertCompilerAllowed } from '../../ir/compiler-guard.js';
import { type DimsKernel, programLaunches } from './contract.js';
import { dimsKernel } from './dims-kernel.js';
import { emitWgslKernel } from './emit.js';
import type { WgslTarget } from './target.js';
import type { WgslLowering } from './types.js';

export interface WgslProgram {
  readonly graph: Graph;
  readonly plan: MemoryPlan;
  readonly bounds: DimBounds;
  readonly nodes: readonly { readonly node: Node; readonly lowering: WgslLowering }[];
  /** The step's first dispatch: every launch's dims from the graph's symbols (the step executor's). */
  readonly dims: DimsKernel;
}

/**
 * Lowers every node. `bounds` are the largest dims the program serves (S ≤ prefill chunk,
 * P + S ≤ context): buffers are sized for them.
 */
export function lowerGraphToWgsl(graph: Graph, target: WgslTarget, bounds: DimBounds): WgslProgram {
  assertCompilerAllowed(`WGSL code generation for @${graph.name}`);
  // The memory planner keeps kv_append results in the state's storage, so the kernels must write in place.
  const t: WgslTarget = { ...target, aliasViews: true, kvAppendInPlace: true };
  const plan = planMemory(graph, bounds);
  const nodes = graph.nodes.map((node) => {
    const lowering = emitWgslKernel(node, t);
    const aliased = plan.storageOf.get(node.outputs[0]) === plan.storageOf.get(node.inputs[0]);
    if ((lowering.aliasOf === 0) !== aliased && node.outputs.length === 1) {
      throw new Error(`${node.op} %${node.outputs[0].name}: the WGSL lowering and the memory plan disagree on whether the result aliases its operand`);
    }
    return { node, lowering };
  });
  const dims = dimsKernel(programLaunches(nodes).map((l) => l.kernel), graph.symbols);
  return { graph, plan, bounds, nodes, dims };
}
