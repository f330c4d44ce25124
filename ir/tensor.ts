// Host tensors: the concrete arrays the reference interpreter, readers and tests exchange.
import { type DType, isQuantized, storageBytes } from './dtype.js';

export type TensorData = Float32Array | Int32Array | Uint32Array | Uint16Array | Uint8Array;

/**
 * A dense tensor in host memory, row-major. Data arrays by dtype: f32 → Float32Array,
 * f16/bf16 → Uint16Array (raw bits), i32 → Int32Array, u32 → Uint32Array,
 * q8_0/q4_0 → Uint8Array (GGUF blocks, each row of the last dimension padded to whole blocks).
 */
export interface HostTensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: TensorData;
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function tensor(dtype: DType, shape: readonly number[], data?: TensorData): HostTensor {
  const n = numel(shape);
  const made = data ?? allocate(dtype, shape);
  const expected = isQuantized(dtype) ? storageBytes(dtype, shape) : n;
  const got = isQuantized(dtype) ? made.byteLength : made.length;
  if (got !== expected) {
    throw new Error(`tensor ${dtype}[${shape.join(', ')}] needs ${expected} ${isQuantized(dtype) ? 'bytes' : 'elements'}, got ${got}`);
  }
  return { dtype, shape: [...shape], data: made };
}

function allocate(dtype: DType, shape: readonly number[]): TensorData {
  const n = numel(shape);
  switch (dtype) {
    case 'f32': return new Float32Array(n);
    case 'f16': case 'bf16': return new Uint16Array(n);
    case 'i32': return new Int32Array(n);
    case 'u32': return new Uint32Array(n);
    case 'q8_0': case 'q4_0': return new Uint8Array(storageBytes(dtype, shape));
  }
}

export function f32(shape: readonly number[], values?: ArrayLike<number>): HostTensor {
  const data = new Float32Array(numel(shape));
  if (values) {
    if (values.length !== data.length) throw new Error(`f32[${shape.join(', ')}] needs ${data.length} values, got ${values.length}`);
    data.set(values);
  }
  return tensor('f32', shape, data);
}

export function i32(shape: readonly number[], values?: ArrayLike<number>): HostTensor {
  const data = new Int32Array(numel(shape));
  if (values) {
    if (values.length !== data.length) throw new Error(`i32[${shape.join(', ')}] needs ${data.length} values, got ${values.length}`);
    data.set(values);
  }
  return tensor('i32', shape, data);
}

// ---- half precision ----

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Round-to-nearest-even f32 → f16 bits. */
export function f32ToF16(x: number): number {
  f32Scratch[0] = x;
  const bits = u32Scratch[0];
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++;
  return sign | half;
}

export function bf16ToF32(b: number): number {
  u32Scratch[0] = b << 16;
  return f32Scratch[0];
}

export function f32ToBf16(x: number): number {
  f32Scratch[0] = x;
  const bits = u32Scratch[0];
  if ((bits & 0x7fffffff) > 0x7f800000) return (bits >>> 16) | 0x40;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

// ---- GGUF block quantization (row-wise along the last dimension) ----

function rowsAndLen(shape: readonly number[]): [number, number] {
  const len = shape.length === 0 ? 1 : shape[shape.length - 1];
  return [numel(shape) / Math.max(len, 1), len];
}

function dequantizeInto(t: HostTensor, out: Float32Array): void {
  const [rows, len] = rowsAndLen(t.shape);
  const bytes = t.data as Uint8Array;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const blocksPerRow = Math.ceil(len / 32);
  const blockBytes = t.dtype === 'q8_0' ? 34 : 18;
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < blocksPerRow; b++) {
      const base = (r * blocksPerRow + b) * blockBytes;
      const d = f16ToF32(view.getUint16(base, true));
      for (let i = 0; i < 32; i++) {
        const col = b * 32 + i;
        if (col >= len) break;
        let q: number;
        if (t.dtype === 'q8_0') q = view.getInt8(base + 2 + i);
        else {
          const byte = bytes[base + 2 + (i & 15)];
          q = (i < 16 ? byte & 0xf : byte >> 4) - 8;
        }
        out[r * len + col] = d * q;
      }
    }
  }
}

// Widened copies of narrow tensors, kept while the tensor lives: weights are read on every step.
const widened = new WeakMap<TensorData, Float32Array>();

/** Any tensor as f32 values (dequantizing or widening as needed). Returns the same array for f32. */
export function toF32(t: HostTensor): Float32Array {
  if (t.dtype === 'f32') return t.data as Float32Array;
  let out = widened.get(t.data);
  if (!out || out.length !== numel(t.shape)) {
    out = widen(t);
    widened.set(t.data, out);
  }
  return out;
}

function widen(t: HostTensor): Float32Array {
  switch (t.dtype) {
    case 'f32': return t.data as Float32Array;
    case 'f16': return Float32Array.from(t.data as Uint16Array, f16ToF32);
    case 'bf16': return Float32Array.from(t.data as Uint16Array, bf16ToF32);
    case 'i32': case 'u32': return Float32Array.from(t.data as Int32Array);
    case 'q8_0': case 'q4_0': {
      const out = new Float32Array(numel(t.shape));
      dequantizeInto(t, out);
      return out;
    }
  }
}

/** Converts an f32 tensor to another float or quantized dtype (GGUF reference quantizers). */
export function convertF32(t: HostTensor, to: DType): HostTensor {
  const src = toF32(t);
  switch (to) {
    case 'f32': return tensor('f32', t.shape, Float32Array.from(src));
    case 'f16': return tensor('f16', t.shape, Uint16Array.from(src, f32ToF16));
    case 'bf16': return tensor('bf16', t.shape, Uint16Array.from(src, f32ToBf16));
    case 'q8_0': case 'q4_0': return quantize(src, t.shape, to);
    default: throw new Error(`cannot convert f32 to ${to}`);
  }
}

function quantize(src: Float32Array, shape: readonly number[], to: 'q8_0' | 'q4_0'): HostTensor {
  const out = tensor(to, shape);
  const bytes = out.data as Uint8Array;
  const quants = new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const [rows, len] = rowsAndLen(shape);
  const blocksPerRow = Math.ceil(len / 32);
  const blockBytes = to === 'q8_0' ? 34 : 18;
  // Straight from src, no per-block copy or DataView: this runs once per weight element when a
  // model is quantized on loading. A block past the row's end reads as zeros.
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < blocksPerRow; b++) {
      const start = r * len + b * 32;
      const n = Math.min(32, len - b * 32);
      const base = (r * blocksPerRow + b) * blockBytes;
      if (to === 'q8_0') {
        let amax = 0;
        for (let i = 0; i < n; i++) amax = Math.max(amax, Math.abs(src[start + i]));
        const d = amax / 127;
        const id = d ? 1 / d : 0;
        const h = f32ToF16(d);
        bytes[base] = h & 0xff;
        bytes[base + 1] = h >>> 8;
        // Past n the quants stay 0, as Math.round(0 · id) would write.
        for (let i = 0; i < n; i++) quants[base + 2 + i] = Math.round(src[start + i] * id);
      } else {
        // As ggml's quantize_row_q4_0_ref: the value of largest magnitude maps to -8.
        let amax = 0;
        let max = 0;
        for (let i = 0; i < n; i++) {
          const v = src[start + i];
          if (Math.abs(v) > amax) { amax = Math.abs(v); max = v; }
        }
        const d = max / -8;
        const id = d ? 1 / d : 0;
        const h = f32ToF16(d);
        bytes[base] = h & 0xff;
        bytes[base + 1] = h >>> 8;
        for (let i = 0; i < 16; i++) {
          const a = i < n ? src[start + i] : 0;
          const c = i + 16 < n ? src[start + i + 16] : 0;
          const lo = Math.min(15, Math.trunc(a * id + 8.5));
          const hi = Math.min(15, Math.trunc(c * id + 8.5));
          bytes[base + 2 + i] = lo | (hi << 4);
        }
      }
    }
  }
  return out;
}
