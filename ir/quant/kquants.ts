// ggml's K-quants: 256-element super-blocks of 16 or 8 sub-blocks with their own small scales.
// Layouts (ggml-common.h), with the element order the reference dequantizer produces:
//   Q2_K  scales[16], qs[64], d, dmin        16×16; x = (d·(sc & 15))·q − dmin·(sc >> 4), q: 2 bits
//   Q3_K  hmask[32], qs[64], scales[12], d   16×16; x = (d·(sc − 32))·(q − 4·!hbit), sc: 6 bits packed
//   Q4_K  d, dmin, scales[12], qs[128]       8×32;  x = (d·sc)·q − dmin·m, sc/m: 6 bits packed
//   Q5_K  d, dmin, scales[12], qh[32], qs[128]      as Q4_K with a fifth bit from qh
//   Q6_K  ql[128], qh[64], scales[16] (i8), d        16×16; x = (d·sc)·(q − 32), q: 4 + 2 bits
// The 2-bit (and Q6_K's high 2-bit) fields of one 128-element half sit in 32 bytes (Q6_K: 64 for
// its low nibbles), element i of the half at bit position 2·(i / 32) of byte i % 32; nibbles at
// 4·(i / 32 % 2) of byte 32·(i / 64) + i % 32; high bits of element e at bit e / 32 of byte e % 32.
// Each f32 step is Math.fround'ed in the reference's order; the final one rounds on the store.
import { type QuantCodec } from './quant-codec.js';
import { readHalf } from './f16.js';

const QK_K = 256;

export const Q2_K: QuantCodec = {
  ggmlType: 'Q2_K', blockSize: QK_K, blockBytes: 16 + 64 + 4,
  scales: [{ name: 'd', at: 80 }, { name: 'dmin', at: 82 }],
  dequantizeBlock(bytes, offset, out, outOffset) {
    const d = readHalf(bytes, offset + 80);
    const dmin = readHalf(bytes, offset + 82);
    for (let half = 0; half < 2; half++) {
      const qs = offset + 16 + 32 * half;
      for (let shift = 0; shift < 8; shift += 2) {
        for (let k = 0; k < 2; k++) {
          const e0 = 128 * half + 16 * shift + 16 * k; // 32 elements per shift, 16 per sub-block
          const sc = bytes[offset + (e0 >> 4)];
          const dl = Math.fround(d * (sc & 0xf));
          const ml = Math.fround(dmin * (sc >> 4));
          for (let j = 16 * k; j < 16 * k + 16; j++) {
            out[outOffset + e0 + j - 16 * k] = Math.fround(dl * ((bytes[qs + j] >> shift) & 3)) - ml;
          }
        }
      }
    }
  },
};

/** Q3_K's 6-bit sub-block scale g (0..15), unbiased: low nibbles in bytes 0..7, high pairs in 8..11. */
function q3kScale(bytes: Uint8Array, scales: number, g: number): number {
  const low = g < 8 ? bytes[scales + g] & 0xf : bytes[scales + g - 8] >> 4;
  const high = (bytes[scales + 8 + (g & 3)] >> (2 * (g >> 2))) & 3;
  return (low | (high << 4)) - 32;
}

export const Q3_K: QuantCodec = {
  ggmlType: 'Q3_K', blockSize: QK_K, blockBytes: 32 + 64 + 12 + 2,
  scales: [{ name: 'd', at: 108 }],
  dequantizeBlock(bytes, offset, out, outOffset) {
    const d = readHalf(bytes, offset + 108);
    const hmask = offset;
    for (let half = 0; half < 2; half++) {
      const qs = offset + 32 + 32 * half;
      for (let s = 0; s < 4; s++) {
        const bit = 4 * half + s; // hmask bit of these 32 elements
        for (let k = 0; k < 2; k++) {
          const e0 = 128 * half + 32 * s + 16 * k;
          const dl = Math.fround(d * q3kScale(bytes, offset + 96, e0 >> 4));
          for (let j = 16 * k; j < 16 * k + 16; j++) {
            const low = (bytes[qs + j] >> (2 * s)) & 3;
            const q = (bytes[hmask + j] >> bit) & 1 ? low : low - 4;
            out[outOffset + e0 + j - 16 * k] = dl * q;
          }
        }
      }
    }
  },
};

/** Q4_K/Q5_K's packed 6-bit scale (which = 0) or min (which = 4) of sub-block sb (0..7). */
function k4Scale(bytes: Uint8Array, scales: number, sb: number, which: 0 | 4): number {
  if (sb < 4) return bytes[scales + sb + which] & 0x3f;
  const low = which === 0 ? bytes[scales + sb + 4] & 0xf : bytes[scales + sb + 4] >> 4;
  return low | ((bytes[scales + sb - 4 + which] >> 2) & 0x30);
}

export const Q4_K: QuantCodec = {
  ggmlType: 'Q4_K', blockSize: QK_K, blockBytes: 4 + 12 + 128,
  scales: [{ name: 'd', at: 0 }, { name: 'dmin', at: 2 }],
  dequantizeBlock(bytes, offset, out, outOffset) {
    const d = readHalf(bytes, offset);
    const dmin = readHalf(bytes, offset + 2);
    for (let sb = 0; sb < 8; sb++) {
      const dl = Math.fround(d * k4Scale(bytes, offset + 4, sb, 0));
      const ml = Math.fround(dmin * k4Scale(bytes, offset + 4, sb, 4));
      const qs = offset + 16 + 32 * (sb >> 1);
      const shift = 4 * (sb & 1);
      const o = outOffset + 32 * sb;
      for (let j = 0; j < 32; j++) out[o + j] = Math.fround(dl * ((bytes[qs + j] >> shift) & 0xf)) - ml;
    }
  },
};

export const Q5_K: QuantCodec = {
  ggmlType: 'Q5_K', blockSize: QK_K, blockBytes: 4 + 12 + 32 + 128,
  scales: [{ name: 'd', at: 0 }, { name: 'dmin', at: 2 }],
  dequantizeBlock(bytes, offset, out, outOffset) {
    const d = readHalf(bytes, offset);
    const dmin = readHalf(bytes, offset + 2);
    const qh = offset + 16;
    for (let sb = 0; sb < 8; sb++) {
      const dl = Math.fround(d * k4Scale(bytes, offset + 4, sb, 0));
      const ml = Math.fround(dmin * k4Scale(bytes, offset + 4, sb, 4));
      const qs = offset + 48 + 32 * (sb >> 1);
      const shift = 4 * (sb & 1);
      const o = outOffset + 32 * sb;
      for (let j = 0; j < 32; j++) {
        const q = ((bytes[qs + j] >> shift) & 0xf) | (((bytes[qh + j] >> sb) & 1) << 4);
        out[o + j] = Math.fround(dl * q) - ml;
      }
    }
  },
};

export const Q6_K: QuantCodec = {
  ggmlType: 'Q6_K', blockSize: QK_K, blockBytes: 128 + 64 + 16 + 2,
  scales: [{ name: 'd', at: 208 }],
  dequantizeBlock(bytes, offset, out, outOffset) {
    const d = readHalf(bytes, offset + 208);
    const scales = offset + 192;
    for (let half = 0; half < 2; half++) {
      const ql = offset + 64 * half;
      const qh = offset + 128 + 32 * half;
      for (let s = 0; s < 4; s++) {
        for (let k = 0; k < 2; k++) {
          const e0 = 128 * half + 32 * s + 16 * k;
          const dl = Math.fround(d * ((bytes[scales + (e0 >> 4)] << 24) >> 24));
          for (let j = 16 * k; j < 16 * k + 16; j++) {
            const low = (bytes[ql + 32 * (s & 1) + j] >> (4 * (s >> 1))) & 0xf;
            const high = (bytes[qh + j] >> (2 * s)) & 3;
            out[outOffset + e0 + j - 16 * k] = dl * ((low | (high << 4)) - 32);
          }
        }
      }
    }
  },
};
