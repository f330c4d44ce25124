// Device-free planning for running one node's kernels: which variants run at these dims, how big
// every buffer is, the uniform values and workgroup counts, and the bind group layout each kernel
// expects. A device runner (tests, the executor) only has to create buffers and encode.
import { type DimBindings, evalDim } from '../../ir/dim.js';
import { storageBytes } from '../../ir/dtype.js';
import type { Node } from '../../ir/graph.js';
import { type HostTensor, tensor, type TensorData } from '../../ir/tensor.js';
import type { TensorType } from '../../ir/types.js';
import { conditionHolds, scratchBytes } from '../kernel.js';
import type { WgslKernel, WgslLowering } from './types.js';

/** Buffer binding types as WebGPU names them (GPUBufferBindingType). */
export type BindingType = 'read-only-storage' | 'storage' | 'uniform';

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

/** Bytes a tensor of this type occupies once its dims are bound. */
export function tensorBytes(t: TensorType, dims: DimBindings): number {
  return storageBytes(t.dtype, t.shape.map((d) => evalDim(d, dims)));
}

export function bindingLayout(k: WgslKernel): BindingType[] {
  return [...k.bindings.map((b): BindingType => (b.kind === 'operand' ? 'read-only-storage' : 'storage')), 'uniform'];
}

export function planNodeRun(node: Node, lowering: WgslLowering, dims: DimBindings): NodeRunPlan {
  const scratch = new Map<number, number>();
  const launches: KernelLaunch[] = [];
  for (const kernel of lowering.kernels) {
    if (!conditionHolds(kernel.when, dims)) continue;
    for (const b of kernel.bindings) {
      if (b.kind === 'scratch') scratch.set(b.id, Math.max(scratch.get(b.id) ?? 0, scratchBytes(b.bytes, dims)));
    }
    launches.push({ kernel, uniforms: kernel.uniforms(dims), workgroups: kernel.workgroups(dims), layout: bindingLayout(kernel) });
  }
  return {
    operandBytes: node.inputs.map((v) => tensorBytes(v.type, dims)),
    resultBytes: node.outputs.map((v) => tensorBytes(v.type, dims)),
    scratchBytes: scratch,
    launches,
    ...(lowering.aliasOf !== undefined ? { aliasOf: lowering.aliasOf } : {}),
  };
}

/** WebGPU buffer sizes must be multiples of 4 (and we never make an empty one). */
export function paddedSize(bytes: number): number {
  return Math.max(4, Math.ceil(bytes / 4) * 4);
}

/** A host tensor's bytes, as a storage buffer holds them. */
export function tensorToBytes(t: HostTensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/** A host tensor of the given dtype and shape read from buffer bytes (copied; extra padding ignored). */
export function tensorFromBytes(type: { dtype: TensorType['dtype']; shape: readonly number[] }, bytes: Uint8Array): HostTensor {
  const n = storageBytes(type.dtype, type.shape);
  const own = bytes.slice(0, n).buffer;
  let data: TensorData;
  switch (type.dtype) {
    case 'f32': data = new Float32Array(own); break;
    case 'i32': data = new Int32Array(own); break;
    case 'u32': data = new Uint32Array(own); break;
    case 'f16': case 'bf16': data = new Uint16Array(own); break;
    default: data = new Uint8Array(own);
  }
  return tensor(type.dtype, type.shape, data);
}
