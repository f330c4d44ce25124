// How a WebGPU executor gives a lowered program's launches their buffers, shared by the step
// executor (executor.ts) and the batch executor (runtime/batch/webgpu.ts): activation storages
// placed in a few reused buffers, one set of scratch buffers per node sized for the largest of its
// kernels, and one bind group per launch whose uniform is the launch's slice of one buffer.
import { nodeScratchBytes, programLaunches, UNIFORM_SLICE } from '../../codegen/wgsl/contract.js';
import type { WgslProgram } from '../../codegen/wgsl/program.js';
import type { WgslBinding, WgslKernel } from '../../codegen/wgsl/types.js';
import type { Node, Value } from '../../ir/graph.js';
import type { Storage } from '../../ir/memory.js';

/**
 * Activation storages → buffer slots such that storages live at the same time never share a
 * buffer. WebGPU validates storage usage per buffer, not per byte range, so one arena cannot be
 * read and written by the same dispatch; interval colouring keeps the reuse without that.
 */
export function assignActivationSlots(storages: readonly Storage[]): { slotOf: Map<Storage, number>; sizes: number[] } {
  const slotOf = new Map<Storage, number>();
  const sizes: number[] = [];
  const freeAfter: number[] = [];
  for (const s of [...storages].sort((a, b) => a.firstDef - b.firstDef || b.maxBytes - a.maxBytes)) {
    // Among slots free before this storage starts, take the one whose size fits best.
    let best = -1;
    for (let i = 0; i < sizes.length; i++) {
      if (freeAfter[i] >= s.firstDef) continue;
      const waste = (k: number) => Math.abs(sizes[k] - s.maxBytes);
      if (best === -1 || waste(i) < waste(best)) best = i;
    }
    if (best === -1) {
      best = sizes.length;
      sizes.push(0);
      freeAfter.push(-Infinity);
    }
    sizes[best] = Math.max(sizes[best], s.maxBytes);
    freeAfter[best] = s.lastUse;
    slotOf.set(s, best);
  }
  return { slotOf, sizes };
}

/** Bytes of a program's uniform buffer: one slice per launch (at least one). */
export function uniformBytes(p: WgslProgram): number {
  return Math.max(1, programLaunches(p.nodes).length) * UNIFORM_SLICE;
}

/** What the executor supplies: the buffer range behind an operand or result, and new buffers. */
export interface LaunchBuffers {
  /** The binding of `value`, operand or result `binding` of `kernel`. */
  value(value: Value, binding: Extract<WgslBinding, { kind: 'operand' | 'result' }>, kernel: WgslKernel): GPUBufferBinding;
  /** A new storage buffer of `bytes` (a node's scratch). */
  create(bytes: number, label: string): GPUBuffer;
}

export interface BoundLaunch {
  readonly node: Node;
  readonly kernel: WgslKernel;
  readonly pipeline: GPUComputePipeline;
  readonly bindGroup: GPUBindGroup;
  /** Byte offset of this launch's slice of the uniform buffer. */
  readonly uniformOffset: number;
}

/**
 * One bind group per launch of `p`, in launch order. Scratch is made per node at the program's
 * bounds: each id as large as the largest of the node's kernels naming it asks (a later kernel
 * may need more than the first), shared by those kernels.
 */
export function bindProgram(device: GPUDevice, p: WgslProgram, pipelineOf: (k: WgslKernel) => GPUComputePipeline, uniform: GPUBuffer, buffers: LaunchBuffers): BoundLaunch[] {
  const launches: BoundLaunch[] = [];
  for (const { node, lowering } of p.nodes) {
    const scratch = new Map<number, GPUBuffer>();
    const sizes = nodeScratchBytes(lowering.kernels, p.bounds);
    for (const kernel of lowering.kernels) {
      const entries: GPUBindGroupEntry[] = kernel.bindings.map((ref, binding) => {
        if (ref.kind !== 'scratch') return { binding, resource: buffers.value((ref.kind === 'operand' ? node.inputs : node.outputs)[ref.index], ref, kernel) };
        let buffer = scratch.get(ref.id);
        if (!buffer) {
          buffer = buffers.create(sizes.get(ref.id)!, `scratch ${ref.id} of ${node.op} %${node.outputs[0]?.name ?? '?'}`);
          scratch.set(ref.id, buffer);
        }
        return { binding, resource: { buffer } };
      });
      const uniformOffset = launches.length * UNIFORM_SLICE;
      entries.push({ binding: kernel.bindings.length, resource: { buffer: uniform, offset: uniformOffset, size: UNIFORM_SLICE } });
      const pipeline = pipelineOf(kernel);
      const bindGroup = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries, label: kernel.label });
      launches.push({ node, kernel, pipeline, bindGroup, uniformOffset });
    }
  }
  return launches;
}
