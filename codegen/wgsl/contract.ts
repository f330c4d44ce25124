// What a lowered WGSL program and the runtime that launches it agree on, apart from the emitters,
// so that a runtime (and an artifact loaded without the compiler) imports this and the types
// only: buffer sizes and a tensor's bytes, the binding types a kernel declares, each launch's
// slice of the program's uniform buffer, how big a node's shared scratch buffers are, and the
// step-dims kernel's table of distinct dims and its bindings.
import { type Dim, type DimBindings, evalDim } from '../../ir/dim.js';
import { storageBytes } from '../../ir/dtype.js';
import type { Node } from '../../ir/graph.js';
import { type HostTensor, tensor, type TensorData } from '../../ir/tensor.js';
import type { TensorType } from '../../ir/types.js';
import { scratchBytes } from '../kernel.js';
import type { WgslKernel, WgslLowering } from './types.js';

/** WebGPU buffer sizes must be multiples of 4 (and we never make an empty one). */
export function paddedSize(bytes: number): number {
  return Math.max(4, Math.ceil(bytes / 4) * 4);
}

/** Bytes a tensor of this type occupies once its dims are bound. */
export function tensorBytes(t: TensorType, dims: DimBindings): number {
  return storageBytes(t.dtype, t.shape.map((d) => evalDim(d, dims)));
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

/** Buffer binding types as WebGPU names them (GPUBufferBindingType). */
export type BindingType = 'read-only-storage' | 'storage' | 'uniform';

/** A kernel's bind group layout: one entry per @binding, the uniform last. */
export function bindingLayout(k: WgslKernel): BindingType[] {
  return [...k.bindings.map((b): BindingType => (b.kind === 'operand' ? 'read-only-storage' : 'storage')), 'uniform'];
}

/**
 * Bytes of each launch's slice of the program's uniform buffer: launch i reads bytes
 * [i·UNIFORM_SLICE, (i+1)·UNIFORM_SLICE). 256 is the largest minUniformBufferOffsetAlignment
 * WebGPU allows, and holds the 64 dims a kernel's uniform may have.
 */
export const UNIFORM_SLICE = 256;

/** One launch of a program: the node it belongs to and the kernel, in launch order. */
export interface ProgramLaunch {
  readonly node: Node;
  readonly kernel: WgslKernel;
}

/** Every node's kernels in launch order (launch i's uniform is slice i). */
export function programLaunches(nodes: readonly { readonly node: Node; readonly lowering: WgslLowering }[]): ProgramLaunch[] {
  return nodes.flatMap(({ node, lowering }) => lowering.kernels.map((kernel) => ({ node, kernel })));
}

/**
 * A node's scratch buffers by id: the largest any of `kernels` asks for at `dims`. Kernels of one
 * node that name the same id share the buffer, and a later kernel may want more than the first.
 */
export function nodeScratchBytes(kernels: readonly WgslKernel[], dims: DimBindings): Map<number, number> {
  const sizes = new Map<number, number>();
  for (const k of kernels) {
    for (const b of k.bindings) {
      if (b.kind === 'scratch') sizes.set(b.id, Math.max(sizes.get(b.id) ?? 0, scratchBytes(b.bytes, dims)));
    }
  }
  return sizes;
}

/**
 * The distinct dims of a program's launches, in first-use order (uniform words, then the grid,
 * then the run condition, launch by launch): the table the step-dims kernel evaluates and the
 * runtime indexes its launches' dims into.
 */
export function distinctDims(kernels: readonly WgslKernel[]): Dim[] {
  const seen = new Map<string, Dim>();
  for (const k of kernels) {
    for (const d of [...k.uniformDims, ...k.grid, ...(k.when ? [k.when.dim] : [])]) {
      const key = dimKey(d);
      if (!seen.has(key)) seen.set(key, d);
    }
  }
  return [...seen.values()];
}

/** A dim's identity in the table: equal dims (canonical polynomials) have equal keys. */
export function dimKey(d: Dim): string {
  return typeof d === 'number' ? String(d) : d.key;
}

/** The step-dims kernel: entry point, workgroup size and binding layout. */
export const DIMS_ENTRY = 'step_dims';
export const DIMS_WORKGROUP = 64;
export const DIMS_BINDINGS = { symbols: 0, map: 1, words: 2, pos: 3 } as const;

/**
 * A program's step-dims kernel (dims-kernel.ts writes it at compile time): `table` is the
 * program's distinct dims, evaluated from the `symbols` buffer (values in this order).
 */
export interface DimsKernel {
  /** Stable identity, as a kernel's: equal WGSL ⇒ equal key (the artifact's file name). */
  readonly key: string;
  readonly symbols: readonly string[];
  readonly table: readonly Dim[];
  readonly wgsl: string;
}
