// ggml's non-linear 4-bit types: each nibble indexes a fixed table of 16 signed levels.
//   IQ4_NL  d:f16, qs[16]                                     32 elements; x = d·level(q)
//   IQ4_XS  d:f16, scales_h:u16, scales_l[4], qs[128]        8×32; x = (d·(sc − 32))·level(q)
// Nibble order is Q4_0's within every 32 elements (byte j: element j low, element j + 16 high).
// IQ4_XS sub-block scales are 6 bits: the low 4 from scales_l's nibbles (sub-block 2k low, 2k + 1
// high), the top 2 from scales_h bits 2·ib, 2·ib + 1.
import { type QuantCodec } from './quant-codec.js';
import { readHalf } from './f16.js';

/** ggml's kvalues_iq4nl. */
export const IQ4_LEVELS: readonly number[] = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];
const LEVELS = Int8Array.from(IQ4_LEVELS);

export const IQ4_NL: QuantCodec = {
  ggmlType: 'IQ4_NL', blockSize: 32, blockBytes: 2 + 16,
  scales: [{ name: 'd', at: 0 }],
  dequantizeBlock(bytes, offset, out, outOffset) {
    const d = readHalf(bytes, offset);
    const qs = offset + 2;
    for (let j = 0; j < 16; j++) {
      const b = bytes[qs + j];
      out[outOffset + j] = d * LEVELS[b & 0xf];
      out[outOffset + j + 16] = d * LEVELS[b >> 4];
    }
  },
};

export const IQ4_XS: QuantCodec = {
  ggmlType: 'IQ4_XS', blockSize: 256, blockBytes: 2 + 2 + 4 + 128,
  scales: [{ name: 'd', at: 0 }],
  dequantizeBlock(bytes, offset, out, outOffset) {
    const d = readHalf(bytes, offset);
    const scalesH = bytes[offset + 2] | (bytes[offset + 3] << 8);
    for (let ib = 0; ib < 8; ib++) {
      const low = (bytes[offset + 4 + (ib >> 1)] >> (4 * (ib & 1))) & 0xf;
      const high = (scalesH >> (2 * ib)) & 3;
      const dl = Math.fround(d * ((low | (high << 4)) - 32));
      const qs = offset + 8 + 16 * ib;
      const o = outOffset + 32 * ib;
      for (let j = 0; j < 16; j++) {
        const b = bytes[qs + j];
        out[o + j] = dl * LEVELS[b & 0xf];
        out[o + j + 16] = dl * LEVELS[b >> 4];
      }
    }
  },
};
