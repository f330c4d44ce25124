// Buffers and pipelines for a program run as one whole graph per call (the encoder batch executor,
// the paged decode step): weights resident, each distinct weight source uploaded once; activations
// in buffers shared by storages whose lifetimes do not overlap (WebGPU validates usage per buffer,
// so storages live at once never share one); inputs, outputs and states in buffers of their own.
import { conditionHolds } from '../../codegen/kernel.js';
import { paddedSize, programLaunches, tensorToBytes } from '../../codegen/wgsl/contract.js';
import type { WgslProgram } from '../../codegen/wgsl/program.js';
import type { WgslKernel } from '../../codegen/wgsl/types.js';
import type { MemoryPlan, Storage } from '../../ir/memory.js';
import { ResourceError } from '../../ir/errors.js';
import { formatWeight } from '../../ir/printer.js';
import type { ParamResolver } from '../reference/interpreter.js';
import { BufferUsage, type GpuContext } from './gpu-context.js';
import { assignActivationSlots, type BoundLaunch } from './program-buffers.js';
import { getPipeline } from './run-kernel.js';

export const STORAGE_USAGE = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;

/** Makes a buffer the caller owns (and destroys on dispose). */
export type CreateBuffer = (bytes: number, usage: number, label: string) => GPUBuffer;

/** Throws when a storage is larger than one binding may be; `advice` says what to change. */
export function checkBindingSizes(ctx: GpuContext, plan: MemoryPlan, advice: string): void {
  const maxBinding = ctx.limits.maxStorageBufferBindingSize ?? 128 << 20;
  for (const s of plan.storages) {
    if (s.maxBytes > maxBinding) throw new ResourceError(`%${s.owner.name} needs ${s.maxBytes} bytes, more than this device binds at once (${maxBinding}); ${advice}`);
  }
}

/** The buffer of each storage of `plan`, made on first use. */
export function storageBuffers(device: GPUDevice, plan: MemoryPlan, params: ParamResolver, create: CreateBuffer): (s: Storage) => GPUBuffer {
  const { slotOf, sizes } = assignActivationSlots(plan.storages.filter((s) => s.role === 'activation'));
  const slots = sizes.map((bytes, i) => create(bytes, STORAGE_USAGE, `activations ${i}`));
  const weights = new Map<string, GPUBuffer>();
  const own = new Map<Storage, GPUBuffer>();
  return (s) => {
    if (s.role === 'activation') return slots[slotOf.get(s)!];
    if (s.role === 'param') {
      if (s.owner.def.kind !== 'param') throw new Error(`%${s.owner.name} is not a parameter`);
      const key = formatWeight(s.owner.def.source);
      let b = weights.get(key);
      if (!b) {
        // Written as a copy padded to whole words (WebGPU writes multiples of 4 bytes).
        const t = tensorToBytes(params(s.owner));
        const bytes = new Uint8Array(paddedSize(t.byteLength));
        bytes.set(t);
        b = create(bytes.byteLength, STORAGE_USAGE, `param ${s.owner.name}`);
        device.queue.writeBuffer(b, 0, bytes);
        weights.set(key, b);
      }
      return b;
    }
    let b = own.get(s);
    if (!b) {
      b = create(s.maxBytes, STORAGE_USAGE, `${s.role} ${s.owner.name}`);
      own.set(s, b);
    }
    return b;
  };
}

/** One compute pipeline per distinct kernel the program launches. */
export async function programPipelines(ctx: GpuContext, program: WgslProgram): Promise<Map<WgslKernel, GPUComputePipeline>> {
  const pipelines = new Map<WgslKernel, GPUComputePipeline>();
  for (const { kernel } of programLaunches(program.nodes)) {
    if (!pipelines.has(kernel)) pipelines.set(kernel, await getPipeline(ctx, kernel.wgsl, kernel.entryPoint, undefined, kernel.label));
  }
  return pipelines;
}

/**
 * The dims of each launch that applies at `dims`, and a command encoder holding one compute pass
 * that dispatches them. `uniforms` is the caller's host copy of the uniform buffer, kept from call
 * to call so that a step allocates nothing; it is written to the device before the caller submits.
 */
export function encodeGraphPass(device: GPUDevice, launches: readonly BoundLaunch[], dims: Readonly<Record<string, number>>, uniform: GPUBuffer, uniforms: Uint8Array<ArrayBuffer>): GPUCommandEncoder {
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  for (const l of launches) {
    if (!conditionHolds(l.kernel.when, dims)) continue;
    const [x, y, z] = l.kernel.workgroups(dims);
    if (x === 0 || y === 0 || z === 0) continue;
    const u = l.kernel.uniforms(dims);
    uniforms.set(new Uint8Array(u.buffer, u.byteOffset, u.byteLength), l.uniformOffset);
    pass.setPipeline(l.pipeline);
    pass.setBindGroup(0, l.bindGroup);
    pass.dispatchWorkgroups(x, y, z);
  }
  pass.end();
  device.queue.writeBuffer(uniform, 0, uniforms);
  return encoder;
}
