// Weights that hold NaN or ±Inf poison every logit silently; a damaged file is refused when the
// tensor is read instead. One pass over the stored bits (exponent all ones), no conversion.
import type { DType } from '../../ir/dtype.js';
import { findNonFiniteScale, isQuantCodecName, QUANT_CODECS } from '../../ir/quant/index.js';
import { FormatError } from './store.js';

/** Exponent mask of each plain float storage type, by element width in bytes. */
const NON_FINITE: Partial<Record<DType, { readonly bytes: 2 | 4; readonly mask: number }>> = {
  f32: { bytes: 4, mask: 0x7f800000 },
  f16: { bytes: 2, mask: 0x7c00 },
  bf16: { bytes: 2, mask: 0x7f80 },
};

/** The index of the first NaN/±Inf element of a float tensor's stored bytes, or -1. */
export function firstNonFinite(dtype: DType, bytes: Uint8Array): number {
  const t = NON_FINITE[dtype];
  if (!t) return -1;
  const n = Math.floor(bytes.length / t.bytes);
  const aligned = bytes.byteOffset % t.bytes === 0;
  const words = t.bytes === 4
    ? (aligned ? new Uint32Array(bytes.buffer, bytes.byteOffset, n) : new Uint32Array(bytes.slice(0, n * 4).buffer))
    : (aligned ? new Uint16Array(bytes.buffer, bytes.byteOffset, n) : new Uint16Array(bytes.slice(0, n * 2).buffer));
  const mask = t.mask;
  for (let i = 0; i < n; i++) if ((words[i] & mask) === mask) return i;
  return -1;
}

/** Throws a FormatError naming the tensor and element (a quantized block's scale) when its stored values are not all finite. */
export function checkFinite(file: string, name: string, dtype: DType, bytes: Uint8Array): void {
  if (isQuantCodecName(dtype)) {
    const codec = QUANT_CODECS[dtype];
    const f = findNonFiniteScale(codec, bytes, 0, Math.floor(bytes.length / codec.blockBytes));
    if (f) throw new FormatError(file, `tensor "${name}" (${codec.ggmlType}) has scale ${f.field} = ${f.value} in block ${f.block} (byte ${f.offset} of its data); the file is damaged`);
    return;
  }
  const at = firstNonFinite(dtype, bytes);
  if (at >= 0) throw new FormatError(file, `tensor "${name}" holds a NaN or infinite value (element ${at}); the file is damaged`);
}
