// Host tensors: the concrete arrays the reference interpreter, readers and tests exchange.
import { CONVERT_DTYPES, type DType, dtypeInfo, type HostArray, isQuantized, storageBytes } from './dtype.js';
import type { BlockCodec } from './quant/codec.js';

export type TensorData = Float32Array | Int32Array | Uint32Array | Uint16Array | Uint8Array;

/**
 * A dense tensor in host memory, row-major. Data arrays by dtype: f32 → Float32Array,
 * f16/bf16 → Uint16Array (raw bits), i32 → Int32Array, u32 → Uint32Array,
 * block-quantized → Uint8Array (GGUF blocks, each row of the last dimension padded to whole
 * blocks); the dtype table's `host` says which.
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

const HOST_ARRAYS: Record<HostArray, { new (buffer: ArrayBufferLike, byteOffset: number, length: number): TensorData; new (length: number): TensorData; readonly BYTES_PER_ELEMENT: number }> = {
  f32: Float32Array, u16: Uint16Array, i32: Int32Array, u32: Uint32Array, u8: Uint8Array,
};

function allocate(dtype: DType, shape: readonly number[]): TensorData {
  const host = dtypeInfo(dtype).host;
  return new HOST_ARRAYS[host](host === 'u8' ? storageBytes(dtype, shape) : numel(shape));
}

/**
 * A tensor over raw little-endian bytes as files and artifacts store them: a view when `bytes`
 * sits at an offset its array type allows, else a copy. Callers that must not alias pass a copy.
 */
export function tensorFromBytes(dtype: DType, shape: readonly number[], bytes: Uint8Array): HostTensor {
  const View = HOST_ARRAYS[dtypeInfo(dtype).host];
  const size = View.BYTES_PER_ELEMENT;
  if (bytes.byteLength % size !== 0) throw new Error(`tensor ${dtype}[${shape.join(', ')}]: ${bytes.byteLength} bytes are not whole ${size}-byte elements`);
  const at = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
  return tensor(dtype, shape, new View(at.buffer, at.byteOffset, at.byteLength / size));
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

// ---- half precision (ir/half.ts; re-exported: readers and tests import them from here) ----

export { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from './half.js';

// ---- conversions, row by row along the last dimension (quantized rows are whole blocks) ----

function rowsAndLen(shape: readonly number[]): [number, number] {
  const len = shape.length === 0 ? 1 : shape[shape.length - 1];
  return [numel(shape) / Math.max(len, 1), len];
}

/** A block codec's dequantizer over every row; a row's padded last block goes through `tail`. */
function dequantizeInto(t: HostTensor, codec: BlockCodec, out: Float32Array): void {
  const { blockSize, blockBytes } = dtypeInfo(t.dtype);
  const [rows, len] = rowsAndLen(t.shape);
  const bytes = t.data as Uint8Array;
  const blocksPerRow = Math.ceil(len / blockSize);
  const full = Math.floor(len / blockSize);
  const tail = new Float32Array(blockSize);
  for (let r = 0; r < rows; r++) {
    const row = r * blocksPerRow * blockBytes;
    for (let b = 0; b < full; b++) codec.dequantizeBlock(bytes, row + b * blockBytes, out, r * len + b * blockSize);
    if (full < blocksPerRow) {
      codec.dequantizeBlock(bytes, row + full * blockBytes, tail, 0);
      out.set(tail.subarray(0, len - full * blockSize), r * len + full * blockSize);
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
  const info = dtypeInfo(t.dtype);
  if (t.dtype === 'f32') return t.data as Float32Array;
  if (info.bits) return Float32Array.from(t.data as Uint16Array, info.bits.decode);
  if (info.codec) {
    const out = new Float32Array(numel(t.shape));
    dequantizeInto(t, info.codec, out);
    return out;
  }
  return Float32Array.from(t.data as Int32Array | Uint32Array);
}

/** Converts an f32 tensor to another float or quantized dtype (the dtype table's encoders). */
export function convertF32(t: HostTensor, to: DType): HostTensor {
  const src = toF32(t);
  const info = dtypeInfo(to);
  if (to === 'f32') return tensor('f32', t.shape, Float32Array.from(src));
  if (info.bits) return tensor(to, t.shape, Uint16Array.from(src, info.bits.encode));
  if (info.codec?.quantizeBlock) return quantize(src, t.shape, to, info.codec.quantizeBlock);
  throw new Error(`cannot convert f32 to ${to}: Tessera has no ${to} encoder (it writes ${CONVERT_DTYPES.join(', ')})`);
}

function quantize(src: Float32Array, shape: readonly number[], to: DType, quantizeBlock: NonNullable<BlockCodec['quantizeBlock']>): HostTensor {
  const { blockSize, blockBytes } = dtypeInfo(to);
  const out = tensor(to, shape);
  const bytes = out.data as Uint8Array;
  const [rows, len] = rowsAndLen(shape);
  const blocksPerRow = Math.ceil(len / blockSize);
  // Straight from src, no per-block copy: this runs once per weight element when a model is
  // quantized on loading. A block past the row's end reads as zeros.
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < blocksPerRow; b++) {
      quantizeBlock(src, r * len + b * blockSize, Math.min(blockSize, len - b * blockSize), bytes, (r * blocksPerRow + b) * blockBytes);
    }
  }
  return out;
}
