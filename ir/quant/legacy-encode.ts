// Quantizers for ggml's 32-element Q4_1, Q5_0 and Q5_1 (decoders in legacy.ts), written as ggml's
// reference quantizers round, in f32 step by step (no FMA), so that they write llama-quantize's
// very bytes (test/ir/kquants-encode.test.ts): the recipes fall back to these types for rows that
// are not a multiple of 256, as llama.cpp does.
//   Q5_0  the value of largest magnitude maps to −16 (d = max / −16), q = trunc(x / d + 16.5) ≤ 31
//   Q4_1  d = (max − min) / 15, m = min, q = trunc((x − min) / d + 0.5) ≤ 15
//   Q5_1  d = (max − min) / 31, m = min, q = trunc((x − min) / d + 0.5) ≤ 31
import { f32ToF16 } from '../half.js';
import { f16ScaleError, putU16 } from './codec.js';
import { Q4_1, Q5_0, Q5_1 } from './legacy.js';
import { type QuantCodec } from './quant-codec.js';

const QK = 32;
const HALF = QK / 2;
const f = Math.fround;

/** Writes 32 quants of up to 5 bits: low nibbles at `qs` (element j and j + 16 share byte j), fifth bits as a u32 at `qh`. */
function packQuants(q: Int32Array, out: Uint8Array, qs: number, qh?: number): void {
  let high = 0;
  for (let j = 0; j < HALF; j++) {
    out[qs + j] = (q[j] & 0xf) | ((q[j + HALF] & 0xf) << 4);
    high |= ((q[j] >> 4) << j) | ((q[j + HALF] >> 4) << (j + HALF));
  }
  if (qh !== undefined) for (let k = 0; k < 4; k++) out[qh + k] = (high >>> (8 * k)) & 0xff;
}

const quants = new Int32Array(QK);

/** The block's values (zero past n), its least and greatest value and the value of largest magnitude. */
function scan(x: Float32Array, from: number, n: number): { v: (j: number) => number; min: number; max: number; big: number } {
  const v = (j: number) => (j < n ? x[from + j] : 0);
  let min = Infinity, max = -Infinity, big = 0;
  for (let j = 0; j < QK; j++) {
    const e = v(j);
    if (e < min) min = e;
    if (e > max) max = e;
    if (Math.abs(e) > Math.abs(big)) big = e;
  }
  return { v, min, max, big };
}

/** Min-offset types: d = (max − min)/qmax, quants from x − min. */
function withMin(codec: QuantCodec, qmax: number, qs: number, qh?: number) {
  return {
    ...codec,
    quantizeBlock(x: Float32Array, from: number, n: number, out: Uint8Array, at: number): void {
      const { v, min, max } = scan(x, from, n);
      const d = f(f(max - min) / qmax);
      const id = d ? f(1 / d) : 0;
      putU16(out, at, f32ToF16(d));
      putU16(out, at + 2, f32ToF16(min));
      for (let j = 0; j < QK; j++) quants[j] = Math.min(qmax, Math.trunc(f(f(f(v(j) - min) * id) + 0.5)));
      packQuants(quants, out, at + qs, qh === undefined ? undefined : at + qh);
    },
    // Half a step (≤ 2·amax/qmax) from rounding, the f16 roundings of d (times q ≤ qmax) and of
    // the min, and the f32 roundings of the quantizer and the decoder.
    roundTripBound: (amax: number): number => amax / qmax + f16ScaleError((2 * amax) / qmax, qmax) + amax * 2 ** -11 + 2 ** -25 + amax * 2 ** -20,
  } satisfies QuantCodec;
}

export const Q4_1_ENCODE = withMin(Q4_1, 15, 4);
export const Q5_1_ENCODE = withMin(Q5_1, 31, 8, 4);

export const Q5_0_ENCODE = {
  ...Q5_0,
  quantizeBlock(x: Float32Array, from: number, n: number, out: Uint8Array, at: number): void {
    const { v, big } = scan(x, from, n);
    const d = f(big / -16);
    const id = d ? f(1 / d) : 0;
    putU16(out, at, f32ToF16(d));
    for (let j = 0; j < QK; j++) quants[j] = Math.min(31, Math.trunc(f(f(v(j) * id) + 16.5)));
    packQuants(quants, out, at + 6, at + 2);
  },
  // The value opposite in sign to the largest would be +16 and clamps to 15: one step amax/16.
  roundTripBound: (amax: number): number => amax / 16 + f16ScaleError(amax / 16, 16) + amax * 2 ** -20,
} satisfies QuantCodec;
