// GGUF Q4_0 (ggml's block_q4_0): 32 values per block as an f16 scale d and 16 bytes of 4-bit
// quants q + 8: byte j holds element j in its low nibble and element j + 16 in its high nibble;
// x = d · (nibble − 8). Quantized as ggml's quantize_row_q4_0_ref: the value of largest magnitude
// maps to −8 (d = max / −8), the others round half up and clamp to 15.
import { f32ToF16 } from '../half.js';
import { type BlockCodec, f16ScaleError, putU16 } from './codec.js';
import { readHalf } from './f16.js';

const HALF = 16; // bytes of nibbles; elements j and j + HALF share byte j
const QS = 2;

// `satisfies`, not a type annotation: the dtype table's types see that it has a quantizer.
export const Q4_0 = {
  dequantizeBlock(bytes, at, out, o) {
    const d = readHalf(bytes, at);
    for (let j = 0; j < HALF; j++) {
      const b = bytes[at + QS + j];
      out[o + j] = d * ((b & 0xf) - 8);
      out[o + j + HALF] = d * ((b >> 4) - 8);
    }
  },
  quantizeBlock(x, from, n, out, at) {
    let amax = 0;
    let max = 0;
    for (let i = 0; i < n; i++) {
      const v = x[from + i];
      if (Math.abs(v) > amax) { amax = Math.abs(v); max = v; }
    }
    // In f32, product and sum rounded apart (no FMA), as llama-quantize's build does: byte for
    // byte its blocks (test/ir/quant-codecs.test.ts).
    const d = Math.fround(max / -8);
    const id = d ? Math.fround(1 / d) : 0;
    const q = (v: number) => Math.min(15, Math.trunc(Math.fround(Math.fround(v * id) + 8.5)));
    putU16(out, at, f32ToF16(d));
    for (let j = 0; j < HALF; j++) {
      const lo = q(j < n ? x[from + j] : 0);
      const hi = q(j + HALF < n ? x[from + j + HALF] : 0);
      out[at + QS + j] = lo | (hi << 4);
    }
  },
  // The value of largest magnitude opposite in sign to `max` would be +8 and clamps to 7: one
  // whole step |d| = amax/8; the f16 rounding of d moves |q| ≤ 8 further; the f32 result rounds.
  roundTripBound: (amax) => amax / 8 + f16ScaleError(amax / 8, 8) + amax * 2 ** -23,
} satisfies BlockCodec;
