// Weights larger than one storage binding (maxStorageBufferBindingSize), bound as row ranges.
//
// Design: a weight that does not fit is cut into row ranges, each bound as a buffer of its own,
// and the node gets one kernel per range (GEMM/GEMV: the output columns those rows make; an
// embedding: the ids those rows hold). Each kernel still binds exactly one weight buffer, so the
// split never raises the storage-buffer count per stage, the kernel bodies are the unsplit ones
// over local row indices, and fused epilogues still see global column indices. The alternative,
// several bindings per kernel chosen by row, would branch on every weight read and multiply the
// bindings; splitting the graph would need slices of the epilogue operands. The row ranges depend
// only on the weight's type and the limit, so every node reading one weight (a tied embedding and
// classifier) asks for the same ranges and the executor uploads each range once.
import { storageBytes } from '../../ir/dtype.js';
import type { TensorType } from '../../ir/types.js';
import type { WgslTarget } from './target.js';

/** Rows [first, first + count) of a 2-D weight, bound on their own from byte 0. */
export interface RowRange {
  readonly first: number;
  readonly count: number;
}

/** Bytes of one row of a static 2-D tensor (quantized rows are whole blocks). */
export function rowBytes(type: TensorType): number {
  const cols = type.shape[type.shape.length - 1];
  if (type.shape.length !== 2 || typeof cols !== 'number') throw new Error(`only a static 2-D tensor has rows to split, not ${type.dtype}[${type.shape.join(', ')}]`);
  return storageBytes(type.dtype, [1, cols]);
}

/** The byte range of `rows` within a row-major tensor of this type. */
export function rowRangeBytes(type: TensorType, rows: RowRange): { start: number; end: number } {
  const r = rowBytes(type);
  return { start: rows.first * r, end: (rows.first + rows.count) * r };
}

/**
 * The row ranges a weight is bound as on `target`, or undefined when it fits one binding (or its
 * shape is symbolic: the executor checks those at run time). Ranges are balanced (no sliver at
 * the end) and each holds at most `maxStorageBindingSize` bytes.
 */
export function weightParts(type: TensorType, target: WgslTarget): RowRange[] | undefined {
  const shape = type.shape;
  if (shape.length !== 2 || !shape.every((d): d is number => typeof d === 'number')) return undefined;
  const limit = target.maxStorageBindingSize;
  if (storageBytes(type.dtype, shape) <= limit) return undefined;
  const perRow = rowBytes(type);
  const maxRows = Math.floor(limit / perRow);
  if (maxRows === 0) {
    throw new Error(`one row of ${type.dtype}[${shape.join(', ')}] is ${perRow} bytes, over the device's maxStorageBufferBindingSize of ${limit} bytes: it cannot be split by rows`);
  }
  // As few ranges as the limit allows, their sizes differing by at most one row.
  const rows = shape[0];
  const parts = Math.ceil(rows / maxRows);
  const base = Math.floor(rows / parts), longer = rows % parts;
  return Array.from({ length: parts }, (_, i) => ({ first: i * base + Math.min(i, longer), count: base + (i < longer ? 1 : 0) }));
}
