// Kernel-level types shared by the code generators (wgsl/, wasm/) and the runtime's launch
// planning: what each kernel binding holds, when a kernel variant runs, how big scratch is.
// Everything here is data plus dim expressions, so a launch list can be written to a manifest.
import { type Dim, type DimBindings, evalDim } from '../ir/dim.js';

/** Bytes of a scratch buffer: a dim expression (serializable) or, for odd cases, a function. */
export type ScratchSize = Dim | ((dims: DimBindings) => number);

/** What a kernel binding holds, in binding order. */
export type BindingRef =
  /** The node's operand `index` (read only). */
  | { readonly kind: 'operand'; readonly index: number }
  /** The node's result `index` (written). */
  | { readonly kind: 'result'; readonly index: number }
  /**
   * Temporary storage private to one node (e.g. split-K partial results). Kernels of the same
   * node that name the same id share the buffer; its contents are undefined before the first of
   * them runs, and nothing reads it after the node.
   */
  | { readonly kind: 'scratch'; readonly id: number; readonly bytes: ScratchSize };

/**
 * Runs a kernel only when `min ≤ dim ≤ max` under this step's dims (bounds optional). Lets one
 * node carry shape-specialised variants, e.g. a GEMV for one row and a tiled GEMM for many.
 */
export interface KernelCondition {
  readonly dim: Dim;
  readonly min?: number;
  readonly max?: number;
}

export function conditionHolds(c: KernelCondition | undefined, dims: DimBindings): boolean {
  if (!c) return true;
  const v = evalDim(c.dim, dims);
  return (c.min === undefined || v >= c.min) && (c.max === undefined || v <= c.max);
}

export function scratchBytes(size: ScratchSize, dims: DimBindings): number {
  return typeof size === 'function' ? size(dims) : evalDim(size, dims);
}
