// IEEE binary16 → f32 by table look-up: every half is exactly an f32, the codecs read one or two
// scales per block, and the reference interpreter dequantizes whole tensors. The conversion itself
// is ir/half.ts's; this only caches it.
import { f16ToF32 } from '../half.js';

let table: Float32Array | undefined;

/** All 65536 halves as f32, built on first use (256 KiB). */
export function halfTable(): Float32Array {
  if (!table) {
    table = new Float32Array(0x10000);
    for (let h = 0; h < 0x10000; h++) table[h] = f16ToF32(h);
  }
  return table;
}

/** The little-endian half at bytes[offset], as f32. */
export function readHalf(bytes: Uint8Array, offset: number): number {
  return halfTable()[bytes[offset] | (bytes[offset + 1] << 8)];
}

/** False for the halves whose exponent is all ones (±Inf and NaN). */
export function isFiniteHalf(bits: number): boolean {
  return (bits & 0x7c00) !== 0x7c00;
}
