// Shared helpers for op definitions: operand checks that produce readable type errors, and
// broadcasting over symbolic shapes.
import { type Dim, type DimBindings, dimEquals, dimToString, evalDim, shapeToString } from '../dim.js';
import { type DType, isQuantized } from '../dtype.js';
import { TypeInferenceError } from '../errors.js';
import { type HostTensor, numel, tensor, toF32 } from '../tensor.js';
import { type TensorType, typeToString } from '../types.js';

export function fail(message: string): never {
  throw new TypeInferenceError(message);
}

export function expectRank(t: TensorType, what: string, ranks: readonly number[]): void {
  if (!ranks.includes(t.shape.length)) fail(`${what} must have rank ${ranks.join(' or ')}, got ${typeToString(t)}`);
}

export function expectFloat(t: TensorType, what: string): void {
  if (t.dtype !== 'f32' && t.dtype !== 'f16' && t.dtype !== 'bf16') fail(`${what} must be a float tensor, got ${typeToString(t)}`);
}

export function expectDType(t: TensorType, what: string, dtypes: readonly DType[]): void {
  if (!dtypes.includes(t.dtype)) fail(`${what} must be ${dtypes.join(' or ')}, got ${typeToString(t)}`);
}

export function expectDim(actual: Dim, expected: Dim, what: string): void {
  if (!dimEquals(actual, expected)) fail(`${what}: expected ${dimToString(expected)}, got ${dimToString(actual)}`);
}

export function lastDim(t: TensorType): Dim {
  return t.shape[t.shape.length - 1];
}

/** Numpy-style broadcast of two symbolic shapes (aligned at the right; a dim of 1 stretches). */
export function broadcastShapes(a: readonly Dim[], b: readonly Dim[]): Dim[] {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (dimEquals(x, y) || y === 1) out.push(x);
    else if (x === 1) out.push(y);
    else fail(`shapes ${shapeToString(a)} and ${shapeToString(b)} do not broadcast`);
  }
  return out;
}

/** For each flat index of the broadcast output, the flat index into an operand of shape `from`. */
export function broadcastIndex(from: readonly number[], to: readonly number[]): Int32Array {
  const n = numel(to);
  const idx = new Int32Array(n);
  const rank = to.length;
  const strides = new Array<number>(rank).fill(0);
  let s = 1;
  for (let i = from.length - 1; i >= 0; i--) {
    const axis = rank - from.length + i;
    strides[axis] = from[i] === 1 ? 0 : s;
    s *= from[i];
  }
  const pos = new Array<number>(rank).fill(0);
  for (let k = 0; k < n; k++) {
    let off = 0;
    for (let i = 0; i < rank; i++) off += pos[i] * strides[i];
    idx[k] = off;
    for (let i = rank - 1; i >= 0; i--) {
      if (++pos[i] < to[i]) break;
      pos[i] = 0;
    }
  }
  return idx;
}

/** Float operands as f32 arrays (the reference computes in f32/f64 whatever the storage type). */
export function floats(t: HostTensor): Float32Array {
  return toF32(t);
}

export function outF32(shape: readonly number[], data: Float32Array): HostTensor {
  return tensor('f32', shape, data);
}

/** Activations are f32 (weights may be stored narrower or quantized; ops read them as f32). */
export function f32Type(shape: readonly Dim[]): TensorType {
  return { dtype: 'f32', shape: [...shape] };
}

/** Normalizes a possibly negative axis (-1 = last) against a rank, naming the attribute when it is out of range. */
export function normAxis(axis: number, rank: number, what = 'axis'): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) fail(`${what} ${axis} is out of range for rank ${rank}`);
  return axis < 0 ? axis + rank : axis;
}

/** Row-major strides of a static shape. */
export function stridesOf(shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    out[i] = s;
    s *= shape[i];
  }
  return out;
}

/** A shape's dims under this run's symbol bindings. */
export function evalShape(shape: readonly Dim[], dims: DimBindings): number[] {
  return shape.map((d) => evalDim(d, dims));
}

/** Fails unless the operand is stored element by element (layout ops cannot cut GGUF blocks). */
export function expectUnblocked(t: TensorType, what: string): void {
  if (isQuantized(t.dtype)) fail(`${what} must not be block-quantized, got ${typeToString(t)}`);
}

/** A new tensor of `t`'s dtype whose elements are picked from `t` by flat index (layout ops on any plain dtype). */
export function gather(t: HostTensor, shape: readonly number[], index: (k: number) => number): HostTensor {
  const src = t.data as ArrayLike<number>;
  const n = numel(shape);
  const out = newLike(t, n);
  for (let k = 0; k < n; k++) out[k] = src[index(k)];
  return tensor(t.dtype, shape, out);
}

/** An empty array of the same typed-array kind as t's data. */
export function newLike(t: HostTensor, n: number): Float32Array | Int32Array | Uint32Array | Uint16Array {
  const data = t.data;
  if (data instanceof Float32Array) return new Float32Array(n);
  if (data instanceof Int32Array) return new Int32Array(n);
  if (data instanceof Uint32Array) return new Uint32Array(n);
  if (data instanceof Uint16Array) return new Uint16Array(n);
  throw new Error(`cannot move elements of a ${t.dtype} tensor`);
}

/** True when a dim is a constant below zero: `end - start` or `size - end` proven negative. */
export function provenNegative(d: Dim): boolean {
  return typeof d === 'number' && d < 0;
}
