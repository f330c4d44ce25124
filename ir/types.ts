// Tensor types: an element type and a (possibly symbolic) shape.
import { type Dim, dimSymbols, shapeToString, shapesEqual } from './dim.js';
import type { DType } from './dtype.js';

export interface TensorType {
  readonly dtype: DType;
  readonly shape: readonly Dim[];
}

export function tensorType(dtype: DType, shape: readonly Dim[]): TensorType {
  return { dtype, shape: [...shape] };
}

export function typeToString(t: TensorType): string {
  return `${t.dtype}${shapeToString(t.shape)}`;
}

export function typesEqual(a: TensorType, b: TensorType): boolean {
  return a.dtype === b.dtype && shapesEqual(a.shape, b.shape);
}

export function typeSymbols(t: TensorType, into = new Set<string>()): Set<string> {
  for (const d of t.shape) dimSymbols(d, into);
  return into;
}
