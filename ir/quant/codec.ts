// What a block-quantized storage type supplies to the reference: how one block of bytes becomes
// values, and (for the types we write) how values become a block. Rows of a tensor are whole
// blocks, the last one padded (ir/tensor.ts walks the rows; a codec sees one block at a time).

export interface BlockCodec {
  /** Writes the block at `bytes[at …]` as `blockSize` values to `out[o …]`. */
  dequantizeBlock(bytes: Uint8Array, at: number, out: Float32Array, o: number): void;
  /**
   * Encodes `x[from …]` into the block at `out[at …]`: `n` values (1 ≤ n ≤ blockSize), those past
   * `n` taken as zero (the padding of a row's last block). Absent for types we only read.
   */
  quantizeBlock?(x: Float32Array, from: number, n: number, out: Uint8Array, at: number): void;
  /**
   * The largest |x − dequantize(quantize(x))| of any element of a block whose largest magnitude is
   * `amax` (finite, small enough that the block's scales stay finite). Only with `quantizeBlock`.
   */
  roundTripBound?(amax: number): number;
}

/** The f16 at an even byte offset, little endian, as raw bits. */
export function u16At(bytes: Uint8Array, at: number): number {
  return bytes[at] | (bytes[at + 1] << 8);
}

/** Stores f16 bits little endian. */
export function putU16(bytes: Uint8Array, at: number, bits: number): void {
  bytes[at] = bits & 0xff;
  bytes[at + 1] = bits >>> 8;
}

/**
 * Worst rounding of a scale d (|d| = amax / qmax) to f16, times the largest |q| it multiplies: the
 * relative half-ulp 2^-11 for normal scales, the absolute half-spacing 2^-25 of subnormals.
 */
export function f16ScaleError(d: number, qmax: number): number {
  return qmax * (Math.abs(d) * 2 ** -11 + 2 ** -25);
}
