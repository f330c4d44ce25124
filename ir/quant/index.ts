// Every block-quantized ggml type Tessera decodes, keyed by lowercase ggml name. One row per type:
// the dtype table, readers and the reference interpreter take block geometry and decoding from here.
import { type QuantCodec } from './quant-codec.js';
import { IQ4_NL, IQ4_XS } from './iq4.js';
import { Q2_K, Q3_K, Q4_K, Q5_K, Q6_K } from './kquants.js';
import { Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 } from './legacy.js';

export const QUANT_CODECS = {
  q8_0: Q8_0,
  q4_0: Q4_0,
  q4_1: Q4_1,
  q5_0: Q5_0,
  q5_1: Q5_1,
  q2_k: Q2_K,
  q3_k: Q3_K,
  q4_k: Q4_K,
  q5_k: Q5_K,
  q6_k: Q6_K,
  iq4_nl: IQ4_NL,
  iq4_xs: IQ4_XS,
} as const satisfies Record<string, QuantCodec>;

export type QuantCodecName = keyof typeof QUANT_CODECS;

export function isQuantCodecName(s: string): s is QuantCodecName {
  return Object.hasOwn(QUANT_CODECS, s);
}

export { type QuantCodec, type ScaleFault, type ScaleField, dequantizeBlocks, findNonFiniteScale } from './quant-codec.js';
export { isFiniteHalf, readHalf } from './f16.js';
