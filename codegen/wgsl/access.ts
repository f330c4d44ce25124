// How tensors of each dtype sit in storage buffers, and WGSL functions that read them as f32.
// f16/bf16 are packed pairs in u32 words (so no shader-f16 is needed); q8_0/q4_0 are u32 words
// over the raw GGUF blocks (34 and 18 bytes: not word aligned, hence the byte/word helpers).
import type { DType } from '../../ir/dtype.js';
import type { StorageElem } from './builder.js';

/** The array element type a tensor of `dtype` is bound as. */
export function storageElem(dtype: DType): StorageElem {
  switch (dtype) {
    case 'f32': return 'f32';
    case 'i32': return 'i32';
    default: return 'u32';
  }
}

/** Bits per element for dtypes that layout kernels move element by element. */
export function elementBits(dtype: DType): 16 | 32 {
  switch (dtype) {
    case 'f32': case 'i32': case 'u32': return 32;
    case 'f16': case 'bf16': return 16;
    default: throw new Error(`${dtype} is block-quantized; it cannot be moved element by element`);
  }
}

/** `fn <fn>(i: u32) -> f32`: flat element i of `buf` (a float, i32 or u32 tensor) as f32. */
export function loadFlat(fn: string, buf: string, dtype: DType): string {
  switch (dtype) {
    case 'f32': return `fn ${fn}(i: u32) -> f32 { return ${buf}[i]; }`;
    case 'i32': case 'u32': return `fn ${fn}(i: u32) -> f32 { return f32(${buf}[i]); }`;
    case 'f16': return `fn ${fn}(i: u32) -> f32 { return unpack2x16float(${buf}[i >> 1u])[i & 1u]; }`;
    case 'bf16':
      // bf16 is the high half of an f32: shift the low element up, mask the high one in place.
      return `fn ${fn}(i: u32) -> f32 {
  let w = ${buf}[i >> 1u];
  return bitcast<f32>(select(w << 16u, w & 0xffff0000u, (i & 1u) == 1u));
}`;
    default: throw new Error(`cannot read ${dtype} element by element; use loadMatrix`);
  }
}

/** Bytes per GGUF block, or undefined for plain dtypes. */
export function quantBlockBytes(dtype: DType): number | undefined {
  return dtype === 'q8_0' ? 34 : dtype === 'q4_0' ? 18 : undefined;
}

/**
 * Byte-level readers over a u32 buffer of GGUF blocks: `<buf>_byte(o)`, `<buf>_scale(o)` (the f16
 * at even byte offset o, as f32) and `<buf>_word(o)` (four bytes from an even offset, little endian).
 */
export function quantByteReaders(buf: string): string {
  return `fn ${buf}_byte(o: u32) -> u32 { return (${buf}[o >> 2u] >> ((o & 3u) << 3u)) & 0xffu; }
fn ${buf}_scale(o: u32) -> f32 { return unpack2x16float(${buf}[o >> 2u] >> ((o & 2u) << 3u)).x; }
fn ${buf}_word(o: u32) -> u32 {
  let at = o >> 2u;
  if ((o & 2u) == 0u) { return ${buf}[at]; }
  return (${buf}[at] >> 16u) | (${buf}[at + 1u] << 16u);
}`;
}

/**
 * `fn <fn>(r: u32, c: u32) -> f32`: element (r, c) of a row-major [rows, cols] matrix of any dtype
 * (quantized rows are whole blocks, the last one padded). `cols` is a WGSL u32 expression.
 */
export function loadMatrix(fn: string, buf: string, dtype: DType, cols: string): string {
  switch (dtype) {
    case 'q8_0':
      return `${quantByteReaders(buf)}
fn ${fn}(r: u32, c: u32) -> f32 {
  let base = (r * ((${cols} + 31u) >> 5u) + (c >> 5u)) * 34u;
  let q = bitcast<i32>(${buf}_byte(base + 2u + (c & 31u)) << 24u) >> 24u;
  return ${buf}_scale(base) * f32(q);
}`;
    case 'q4_0':
      return `${quantByteReaders(buf)}
fn ${fn}(r: u32, c: u32) -> f32 {
  let base = (r * ((${cols} + 31u) >> 5u) + (c >> 5u)) * 18u;
  let i = c & 31u;
  let b = ${buf}_byte(base + 2u + (i & 15u));
  // Low nibbles hold elements 0..15 of the block, high nibbles 16..31; both offset by 8.
  let q = i32(select(b & 15u, b >> 4u, i >= 16u)) - 8;
  return ${buf}_scale(base) * f32(q);
}`;
    default:
      return `${loadFlat(`${fn}_flat`, buf, dtype)}
fn ${fn}(r: u32, c: u32) -> f32 { return ${fn}_flat(r * ${cols} + c); }`;
  }
}
