// ggml's 32-element block types. Layouts (little-endian, as in ggml-common.h):
//   Q4_0  d:f16, qs[16]               x = d·(q − 8)        q: 4 bits
//   Q4_1  d:f16, m:f16, qs[16]        x = d·q + m          q: 4 bits
//   Q5_0  d:f16, qh:u32, qs[16]       x = d·(q − 16)       q: 4 bits from qs, 5th bit from qh
//   Q5_1  d:f16, m:f16, qh:u32, qs[16] x = d·q + m
//   Q8_0  d:f16, qs[32] (i8)          x = d·q
// In qs, byte j holds element j in its low nibble and element j + 16 in its high nibble; bit j of
// qh is element j's fifth bit. Products of an f16 scale and these small integers are exact in f32,
// so the only rounding is the final f32 sum where there is one (Math.fround marks each f32 step).
import { readHalf } from './f16.js';
import { Q4_0 as Q4_0_BLOCK } from './q4_0.js';
import { Q8_0 as Q8_0_BLOCK } from './q8_0.js';
import { type QuantCodec } from './quant-codec.js';

const QK = 32;
const HALF = QK / 2;

function u32At(bytes: Uint8Array, at: number): number {
  return (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0;
}

// Q4_0 and Q8_0 (and their quantizers) live in their own files; these rows add the geometry.
export const Q4_0: QuantCodec = { ...Q4_0_BLOCK, ggmlType: 'Q4_0', blockSize: QK, blockBytes: 2 + HALF, scales: [{ name: 'd', at: 0 }] };

export const Q4_1: QuantCodec = {
  ggmlType: 'Q4_1', blockSize: QK, blockBytes: 4 + HALF,
  scales: [{ name: 'd', at: 0 }, { name: 'm', at: 2 }],
  dequantizeBlock(bytes, offset, out, outOffset) {
    const d = readHalf(bytes, offset);
    const m = readHalf(bytes, offset + 2);
    const qs = offset + 4;
    for (let j = 0; j < HALF; j++) {
      const b = bytes[qs + j];
      out[outOffset + j] = Math.fround(d * (b & 0xf)) + m;
      out[outOffset + j + HALF] = Math.fround(d * (b >> 4)) + m;
    }
  },
};

export const Q5_0: QuantCodec = {
  ggmlType: 'Q5_0', blockSize: QK, blockBytes: 6 + HALF,
  scales: [{ name: 'd', at: 0 }],
  dequantizeBlock(bytes, offset, out, outOffset) {
    const d = readHalf(bytes, offset);
    const qh = u32At(bytes, offset + 2);
    const qs = offset + 6;
    for (let j = 0; j < HALF; j++) {
      const b = bytes[qs + j];
      const lo = (b & 0xf) | (((qh >>> j) & 1) << 4);
      const hi = (b >> 4) | (((qh >>> (j + HALF)) & 1) << 4);
      out[outOffset + j] = d * (lo - 16);
      out[outOffset + j + HALF] = d * (hi - 16);
    }
  },
};

export const Q5_1: QuantCodec = {
  ggmlType: 'Q5_1', blockSize: QK, blockBytes: 8 + HALF,
  scales: [{ name: 'd', at: 0 }, { name: 'm', at: 2 }],
  dequantizeBlock(bytes, offset, out, outOffset) {
    const d = readHalf(bytes, offset);
    const m = readHalf(bytes, offset + 2);
    const qh = u32At(bytes, offset + 4);
    const qs = offset + 8;
    for (let j = 0; j < HALF; j++) {
      const b = bytes[qs + j];
      const lo = (b & 0xf) | (((qh >>> j) & 1) << 4);
      const hi = (b >> 4) | (((qh >>> (j + HALF)) & 1) << 4);
      out[outOffset + j] = Math.fround(d * lo) + m;
      out[outOffset + j + HALF] = Math.fround(d * hi) + m;
    }
  },
};

export const Q8_0: QuantCodec = { ...Q8_0_BLOCK, ggmlType: 'Q8_0', blockSize: QK, blockBytes: 2 + QK, scales: [{ name: 'd', at: 0 }] };
