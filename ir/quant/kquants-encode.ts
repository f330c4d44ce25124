// Quantizers for ggml's K-quants: each type's decoder (kquants.ts) with a quantizeBlock that fits
// the super-block (kquants-fit.ts) and packs the integers in the layout the decoder reads, and the
// worst element error it guarantees. The searched fit is kept only when every element of the block
// is within that bound; otherwise the block is written by the covering fit, which provably is.
// The bytes differ from llama-quantize's (a different search); the error, measured against its
// files in test/ir/kquants-encode.test.ts, is lower.
import { f32ToF16 } from '../half.js';
import { putU16 } from './codec.js';
import { coverOffset, coverSigned, fitOffset, fitSigned, type KFit, newFit, offsetBound, type OffsetGrid, signedBound, type SignedGrid } from './kquants-fit.js';
import { Q2_K, Q3_K, Q4_K, Q5_K, Q6_K } from './kquants.js';
import { type QuantCodec } from './quant-codec.js';

const QK_K = 256;

/** Where element e's quant sits in the 2-bit/nibble runs: the 128-element half, the 32-run in it, and the byte within the run. */
const half = (e: number) => e >> 7;
const run = (e: number) => (e & 127) >> 5;
const lane = (e: number) => e & 31;

type Pack = (fit: KFit, out: Uint8Array, at: number) => void;

interface Shape {
  fit(x: Float32Array, fit: KFit): void;
  cover(x: Float32Array, fit: KFit): void;
  bound(amax: number): number;
  sub: number;
}

const offset = (g: OffsetGrid): Shape => ({ fit: (x, f) => fitOffset(x, g, f), cover: (x, f) => coverOffset(x, g, f), bound: (a) => offsetBound(g, a), sub: g.sub });
const signed = (g: SignedGrid): Shape => ({ fit: (x, f) => fitSigned(x, g, f), cover: (x, f) => coverSigned(x, g, f), bound: (a) => signedBound(g, a), sub: g.sub });

/** The decoder `codec` with a quantizer: fit, pack, and the bound checked on the decoded block. */
function encoding(codec: QuantCodec, shape: Shape, pack: Pack) {
  const x = new Float32Array(QK_K);
  const back = new Float32Array(QK_K);
  const fit = newFit(QK_K, shape.sub);
  return {
    ...codec,
    quantizeBlock(src: Float32Array, from: number, n: number, out: Uint8Array, at: number): void {
      x.fill(0);
      let amax = 0;
      for (let i = 0; i < n; i++) {
        x[i] = src[from + i];
        amax = Math.max(amax, Math.abs(x[i]));
      }
      out.fill(0, at, at + codec.blockBytes);
      shape.fit(x, fit);
      pack(fit, out, at);
      codec.dequantizeBlock(out, at, back, 0);
      const bound = shape.bound(amax);
      if (back.every((v, i) => Math.abs(v - x[i]) <= bound)) return;
      out.fill(0, at, at + codec.blockBytes);
      shape.cover(x, fit);
      pack(fit, out, at);
    },
    roundTripBound: (amax: number): number => shape.bound(amax),
  } satisfies QuantCodec;
}

/** Q4_K/Q5_K's twelve bytes of 6-bit scales and mins: sub-blocks 0–3 whole, 4–7 split into nibbles and top bits. */
function packScaleMinK4(fit: KFit, out: Uint8Array, at: number): void {
  for (let j = 0; j < 8; j++) {
    const ls = fit.ls[j], lm = fit.lm[j];
    if (j < 4) {
      out[at + j] = ls;
      out[at + j + 4] = lm;
    } else {
      out[at + j + 4] = (ls & 0xf) | ((lm & 0xf) << 4);
      out[at + j - 4] |= (ls >> 4) << 6;
      out[at + j] |= (lm >> 4) << 6;
    }
  }
}

/** Nibble runs of Q4_K/Q5_K: 64 elements per 32 bytes, the first 32 in the low nibbles. */
function packNibblesK4(fit: KFit, out: Uint8Array, at: number): void {
  for (let e = 0; e < QK_K; e++) out[at + 32 * (e >> 6) + lane(e)] |= (fit.q[e] & 0xf) << (4 * ((e >> 5) & 1));
}

export const Q2_K_ENCODE = encoding(Q2_K, offset({ sub: 16, qmax: 3, scaleMax: 15, minMax: 15 }), (fit, out, at) => {
  for (let j = 0; j < 16; j++) out[at + j] = fit.ls[j] | (fit.lm[j] << 4);
  for (let e = 0; e < QK_K; e++) out[at + 16 + 32 * half(e) + lane(e)] |= fit.q[e] << (2 * run(e));
  putU16(out, at + 80, f32ToF16(fit.d));
  putU16(out, at + 82, f32ToF16(fit.dmin));
});

export const Q3_K_ENCODE = encoding(Q3_K, signed({ sub: 16, qlo: -4, qhi: 3, scaleLo: -32, scaleHi: 31 }), (fit, out, at) => {
  for (let e = 0; e < QK_K; e++) {
    const u = fit.q[e] + 4; // 0..7: two low bits in qs, the third in hmask
    out[at + 32 + 32 * half(e) + lane(e)] |= (u & 3) << (2 * run(e));
    out[at + lane(e)] |= (u >> 2) << (4 * half(e) + run(e));
  }
  for (let g = 0; g < 16; g++) {
    const sc = fit.ls[g] + 32;
    out[at + 96 + (g & 7)] |= (sc & 0xf) << (4 * (g >> 3));
    out[at + 104 + (g & 3)] |= (sc >> 4) << (2 * (g >> 2));
  }
  putU16(out, at + 108, f32ToF16(fit.d));
});

export const Q4_K_ENCODE = encoding(Q4_K, offset({ sub: 32, qmax: 15, scaleMax: 63, minMax: 63 }), (fit, out, at) => {
  putU16(out, at, f32ToF16(fit.d));
  putU16(out, at + 2, f32ToF16(fit.dmin));
  packScaleMinK4(fit, out, at + 4);
  packNibblesK4(fit, out, at + 16);
});

export const Q5_K_ENCODE = encoding(Q5_K, offset({ sub: 32, qmax: 31, scaleMax: 63, minMax: 63 }), (fit, out, at) => {
  putU16(out, at, f32ToF16(fit.d));
  putU16(out, at + 2, f32ToF16(fit.dmin));
  packScaleMinK4(fit, out, at + 4);
  for (let e = 0; e < QK_K; e++) out[at + 16 + lane(e)] |= (fit.q[e] >> 4) << (e >> 5);
  packNibblesK4(fit, out, at + 48);
});

export const Q6_K_ENCODE = encoding(Q6_K, signed({ sub: 16, qlo: -32, qhi: 31, scaleLo: -128, scaleHi: 127 }), (fit, out, at) => {
  for (let e = 0; e < QK_K; e++) {
    const u = fit.q[e] + 32; // 0..63: four low bits in ql, two high in qh
    const s = run(e);
    out[at + 64 * half(e) + 32 * (s & 1) + lane(e)] |= (u & 0xf) << (4 * (s >> 1));
    out[at + 128 + 32 * half(e) + lane(e)] |= (u >> 4) << (2 * s);
  }
  for (let g = 0; g < 16; g++) out[at + 192 + g] = fit.ls[g] & 0xff;
  putU16(out, at + 208, f32ToF16(fit.d));
});
