// Device-free planning for running one node's kernels on their own (kernel tests, the op table):
// which variants run at these dims, how big every buffer is, the uniform values and workgroup
// counts, and the bind group layout each kernel expects. A device runner only has to create
// buffers and encode. (Executors run whole programs through runtime/webgpu/program-buffers.ts.)
import type { DimBindings } from '../../ir/dim.js';
import type { Node } from '../../ir/graph.js';
import { conditionHolds } from '../kernel.js';
import { type BindingType, bindingLayout, nodeScratchBytes, tensorBytes } from './contract.js';
import type { WgslKernel, WgslLowering } from './types.js';

// A runner needs these with the plan: buffer padding and a tensor's bytes (the runtime's contract).
export { paddedSize, tensorFromBytes, tensorToBytes } from './contract.js';

export interface KernelLaunch {
  readonly kernel: WgslKernel;
  readonly uniforms: Uint32Array;
  readonly workgroups: [number, number, number];
  /** One entry per @binding, the uniform last. */
  readonly layout: readonly BindingType[];
}

export interface NodeRunPlan {
  /** Bytes of each operand and result (unpadded). */
  readonly operandBytes: readonly number[];
  readonly resultBytes: readonly number[];
  /** Scratch buffer sizes by id: the largest any running kernel asks for. */
  readonly scratchBytes: ReadonlyMap<number, number>;
  readonly launches: readonly KernelLaunch[];
  readonly aliasOf?: number;
}

export function planNodeRun(node: Node, lowering: WgslLowering, dims: DimBindings): NodeRunPlan {
  const running = lowering.kernels.filter((k) => conditionHolds(k.when, dims));
  const launches = running.map((kernel): KernelLaunch => ({ kernel, uniforms: kernel.uniforms(dims), workgroups: kernel.workgroups(dims), layout: bindingLayout(kernel) }));
  return {
    operandBytes: node.inputs.map((v) => tensorBytes(v.type, dims)),
    resultBytes: node.outputs.map((v) => tensorBytes(v.type, dims)),
    scratchBytes: nodeScratchBytes(running, dims),
    launches,
    ...(lowering.aliasOf !== undefined ? { aliasOf: lowering.aliasOf } : {}),
  };
}
