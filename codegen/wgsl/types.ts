// The kernels a node lowers to, as the graph executor consumes them.
import type { Dim, DimBindings } from '../../ir/dim.js';
import type { BindingRef, KernelCondition } from '../kernel.js';
import type { RowRange } from './split.js';

/**
 * A kernel binding: BindingRef, where an operand may be a row range of a weight too large for one
 * binding (split.ts). Such a binding holds just those rows, from byte 0 of its buffer.
 */
export type WgslBinding =
  | Exclude<BindingRef, { kind: 'operand' }>
  | { readonly kind: 'operand'; readonly index: number; readonly rows?: RowRange };

/**
 * One compute shader launch of a node.
 *
 * Bindings: `@group(0) @binding(i)` holds `bindings[i]`; operands are `var<storage, read>`,
 * results and scratch `var<storage, read_write>`. The last binding, `@binding(bindings.length)`,
 * is always a uniform buffer (`struct { v: array<vec4u, N> }`) holding `uniforms(dims)`: the
 * values of the symbolic dims this kernel needs (static dims are WGSL constants). Every binding
 * is statically used, so both explicit bind group layouts and `layout: 'auto'` work.
 *
 * Storage buffers are the tensors' bytes padded to a multiple of 4; f16/bf16 tensors are read
 * and written as packed u32 pairs, block-quantized types as u32 words over the raw GGUF block bytes.
 */
export interface WgslKernel {
  /** Stable identity: equal WGSL (and entry point) ⇒ equal key. For pipeline caches and file names. */
  readonly key: string;
  readonly wgsl: string;
  readonly entryPoint: string;
  /** Human-readable, e.g. `matmul.gemm 64x64x16`. */
  readonly label: string;
  readonly bindings: readonly WgslBinding[];
  /** The uniform's u32 values are these dims evaluated (in order, zero-padded to whole vec4s). */
  readonly uniformDims: readonly Dim[];
  /** Workgroup counts as dim expressions. */
  readonly grid: readonly [Dim, Dim, Dim];
  /** Run only when this holds (shape-specialised variants); always when absent. */
  readonly when?: KernelCondition;
  uniforms(dims: DimBindings): Uint32Array;
  workgroups(dims: DimBindings): [number, number, number];
}

/** A node's kernels, run in order (skipping those whose `when` fails). */
export interface WgslLowering {
  readonly kernels: readonly WgslKernel[];
  /**
   * Result 0 lives in this operand's buffer instead of a buffer of its own: a pure view
   * (reshape; `kernels` is then empty), or an in-place update (kv_append with
   * `kvAppendInPlace`). Kernels never bind an aliased operand.
   */
  readonly aliasOf?: number;
}
