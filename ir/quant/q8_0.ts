// GGUF Q8_0 (ggml's block_q8_0): 32 values per block as an f16 scale d and 32 signed bytes q,
// x = d · q. Quantized as ggml's quantize_row_q8_0_ref: d = max|x| / 127, q = round(x / d).
import { f32ToF16 } from '../half.js';
import { type BlockCodec, f16ScaleError, putU16 } from './codec.js';
import { readHalf } from './f16.js';

const QK = 32;
const QS = 2; // byte offset of the quants, after d

/** C's roundf: halves away from zero (Math.round takes −2.5 to −2, roundf to −3). */
const roundf = (v: number) => Math.trunc(v + (v < 0 ? -0.5 : 0.5));

// `satisfies`, not a type annotation: the dtype table's types see that it has a quantizer.
export const Q8_0 = {
  dequantizeBlock(bytes, at, out, o) {
    const d = readHalf(bytes, at);
    for (let i = 0; i < QK; i++) out[o + i] = d * ((bytes[at + QS + i] << 24) >> 24);
  },
  quantizeBlock(x, from, n, out, at) {
    let amax = 0;
    for (let i = 0; i < n; i++) amax = Math.max(amax, Math.abs(x[from + i]));
    // In f32 and rounding half away from zero (C's roundf), as ggml does: byte for byte
    // llama-quantize's blocks (test/ir/quant-codecs.test.ts).
    const d = Math.fround(amax / 127);
    const id = d ? Math.fround(1 / d) : 0;
    putU16(out, at, f32ToF16(d));
    // A Uint8Array stores the two's complement of a negative q. Past n the quants are 0, as
    // round(0 · id) would write.
    for (let i = 0; i < QK; i++) out[at + QS + i] = i < n ? roundf(Math.fround(x[from + i] * id)) : 0;
  },
  // Rounding to the nearest step: d/2; the f16 rounding of d moves the largest q (127) further;
  // the f32 result rounds once more.
  roundTripBound: (amax) => amax / 127 / 2 + f16ScaleError(amax / 127, 127) + amax * 2 ** -23,
} satisfies BlockCodec;
