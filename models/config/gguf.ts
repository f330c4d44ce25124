// GGUF metadata → ModelConfig, with llama.cpp's key names ("{arch}.embedding_length", …). The
// family's row (./families/table.ts) gives its general.architecture name and how llama.cpp
// converted it.
import type { MetaValue } from '../formats/store.js';
import { familyOfGgufArchitecture, familyTraits } from './families/table.js';
import { makeConfig } from './make-config.js';
import { ConfigError, type ModelConfig, type RopeScaling, UnsupportedModelError } from './model-config.js';

export function configFromGguf(meta: ReadonlyMap<string, MetaValue>, file: string, tensorShape: (name: string) => readonly number[] | undefined): ModelConfig {
  const arch = meta.get('general.architecture');
  if (typeof arch !== 'string') throw new ConfigError(file, 'GGUF metadata has no general.architecture');
  const family = familyOfGgufArchitecture(arch);
  if (!family) throw new UnsupportedModelError(`${file}: GGUF architecture "${arch}" is not supported`);
  const row = familyTraits(family);
  const get = (key: string, fallback?: number): number => {
    const v = meta.get(`${arch}.${key}`) ?? meta.get(key);
    if (v === undefined) {
      if (fallback === undefined) throw new ConfigError(file, `GGUF metadata lacks ${arch}.${key}`);
      return fallback;
    }
    // Out-of-range 64-bit values become unsafe doubles, which the size checks then refuse.
    if (typeof v === 'bigint') return Number(v);
    if (typeof v !== 'number') throw new ConfigError(file, `GGUF ${arch}.${key} must be a number, got ${typeof v === 'string' ? JSON.stringify(v) : typeof v}`);
    return v;
  };
  const key = (k: string) => `${arch}.${k}`;
  const hidden = get('embedding_length');
  const heads = get('attention.head_count');
  const layers = get('block_count');
  const headDim = get('attention.key_length', hidden / heads);
  const tokens = meta.get('tokenizer.ggml.tokens');
  const embedShape = tensorShape('token_embd.weight');
  const scalingType = meta.get(`${arch}.rope.scaling.type`);
  const scaling: RopeScaling = { type: 'none' };
  if (scalingType !== undefined && scalingType !== 'none') {
    throw new ConfigError(file, `GGUF rope scaling "${String(scalingType)}" is not supported`);
  }
  // llama.cpp writes a window only for families that use one; Gemma-2's slides on even layers.
  const window = get('attention.sliding_window', 0);
  const bos = meta.get('tokenizer.ggml.bos_token_id');
  const eos = meta.get('tokenizer.ggml.eos_token_id');
  return makeConfig(file, {
    family,
    architecture: `GGUF ${arch}`,
    vocabSize: get('vocab_size', embedShape?.[0] ?? (Array.isArray(tokens) ? tokens.length : 0)),
    hiddenSize: hidden,
    numLayers: layers,
    numHeads: heads,
    numKvHeads: get('attention.head_count_kv', heads),
    headDim,
    intermediateSize: get('feed_forward_length'),
    maxPositions: get('context_length', 2048),
    norm: {
      eps: row.norm.kind === 'layer' ? get('attention.layer_norm_epsilon', 1e-5) : get('attention.layer_norm_rms_epsilon', 1e-5),
      // llama.cpp's converter already adds the offset (Gemma's 1) to the norm weights.
      offset: 0,
    },
    ...(row.positions === 'rope' ? { rope: { theta: get('rope.freq_base', 10000), rotaryDim: get('rope.dimension_count', headDim), interleaved: row.gguf.interleavedRope, scaling } } : {}),
    tieEmbeddings: tensorShape('output.weight') === undefined,
    // A bias the family may or may not have is seen on the first layer's tensors.
    bias: { qkv: row.bias.qkv === true || tensorShape('blk.0.attn_q.bias') !== undefined, o: row.bias.o === true, mlp: row.bias.mlp === true },
    layerWindow: (i) => (row.windows === 'alternating' ? (i % 2 === 0 ? window : 0) : window),
    attnScale: row.attnScale === 'query-pre-attn-scalar' ? get('attention.query_pre_attn_scalar', headDim) ** -0.5 : headDim ** -0.5,
    ...(row.softcaps ? { attnSoftcap: get('attn_logit_softcapping', 0), finalSoftcap: get('final_logit_softcapping', 0) } : {}),
    bosId: typeof bos === 'number' ? bos : undefined,
    eosIds: typeof eos === 'number' ? [eos] : [],
  }, {
    vocabSize: key('vocab_size'), hiddenSize: key('embedding_length'), numLayers: key('block_count'), numHeads: key('attention.head_count'),
    numKvHeads: key('attention.head_count_kv'), headDim: key('attention.key_length'), intermediateSize: key('feed_forward_length'),
    maxPositions: key('context_length'), norm: key(row.norm.kind === 'layer' ? 'attention.layer_norm_epsilon' : 'attention.layer_norm_rms_epsilon'),
    ropeTheta: key('rope.freq_base'), rotaryDim: key('rope.dimension_count'), layerWindows: key('attention.sliding_window'),
    attnScale: key('attention.query_pre_attn_scalar'), attnSoftcap: key('attn_logit_softcapping'), finalSoftcap: key('final_logit_softcapping'),
    bosId: 'tokenizer.ggml.bos_token_id', eosIds: 'tokenizer.ggml.eos_token_id',
  });
}
