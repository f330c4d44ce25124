// GGUF metadata → ModelConfig, with llama.cpp's key names ("{arch}.embedding_length", …).
import type { MetaValue } from '../formats/store.js';
import { ConfigError, type Family, type ModelConfig, type RopeScaling, UnsupportedModelError, validateConfig } from './model-config.js';

const GGUF_FAMILIES: Readonly<Record<string, Family>> = {
  llama: 'llama', mistral: 'mistral', qwen2: 'qwen2', qwen3: 'qwen3', phi3: 'phi3', gemma: 'gemma', gemma2: 'gemma2', gpt2: 'gpt2', bert: 'bert',
};

/**
 * llama.cpp's converter stores llama-architecture attn_q/attn_k rows in Meta's interleaved RoPE
 * order; the other families keep HF's rotate-half order (llama.cpp's "NEOX" rope type).
 */
const INTERLEAVED_ROPE = new Set(['llama', 'mistral']);

export function configFromGguf(meta: ReadonlyMap<string, MetaValue>, file: string, tensorShape: (name: string) => readonly number[] | undefined): ModelConfig {
  const arch = meta.get('general.architecture');
  if (typeof arch !== 'string') throw new ConfigError(file, 'GGUF metadata has no general.architecture');
  const family = GGUF_FAMILIES[arch];
  if (!family) throw new UnsupportedModelError(`${file}: GGUF architecture "${arch}" is not supported`);
  const get = (key: string, fallback?: number): number => {
    const v = meta.get(`${arch}.${key}`) ?? meta.get(key);
    if (v === undefined) {
      if (fallback === undefined) throw new ConfigError(file, `GGUF metadata lacks ${arch}.${key}`);
      return fallback;
    }
    if (typeof v === 'bigint') return Number(v);
    if (typeof v !== 'number') throw new ConfigError(file, `GGUF ${arch}.${key} must be a number`);
    return v;
  };
  const hidden = get('embedding_length');
  const heads = get('attention.head_count');
  const layers = get('block_count');
  const kvHeads = get('attention.head_count_kv', heads);
  const headDim = get('attention.key_length', hidden / heads);
  const tokens = meta.get('tokenizer.ggml.tokens');
  const embedShape = tensorShape('token_embd.weight');
  const vocab = get('vocab_size', embedShape?.[0] ?? (Array.isArray(tokens) ? tokens.length : 0));
  const scalingType = meta.get(`${arch}.rope.scaling.type`);
  let scaling: RopeScaling = { type: 'none' };
  if (scalingType !== undefined && scalingType !== 'none') {
    throw new ConfigError(file, `GGUF rope scaling "${String(scalingType)}" is not supported`);
  }
  const window = get('attention.sliding_window', 0);
  const isGemma = family === 'gemma' || family === 'gemma2';
  const bos = meta.get('tokenizer.ggml.bos_token_id');
  const eos = meta.get('tokenizer.ggml.eos_token_id');
  const isLayerNorm = family === 'gpt2' || family === 'bert';
  return validateConfig({
    family,
    architecture: `GGUF ${arch}`,
    task: family === 'bert' ? 'encoder' : 'decoder',
    vocabSize: vocab,
    hiddenSize: hidden,
    numLayers: layers,
    numHeads: heads,
    numKvHeads: kvHeads,
    headDim,
    intermediateSize: get('feed_forward_length'),
    maxPositions: get('context_length', 2048),
    norm: {
      kind: isLayerNorm ? 'layer' : 'rms',
      eps: isLayerNorm ? get('attention.layer_norm_epsilon', 1e-5) : get('attention.layer_norm_rms_epsilon', 1e-5),
      // llama.cpp's converter already adds 1 to Gemma norm weights.
      offset: 0,
    },
    rope: isLayerNorm ? undefined : { theta: get('rope.freq_base', 10000), rotaryDim: get('rope.dimension_count', headDim), interleaved: INTERLEAVED_ROPE.has(arch), scaling },
    activation: isGemma ? 'gelu_tanh' : isLayerNorm ? (family === 'bert' ? 'gelu' : 'gelu_tanh') : 'silu',
    gatedMlp: !isLayerNorm,
    tieEmbeddings: tensorShape('output.weight') === undefined,
    bias: { qkv: family === 'qwen2' || isLayerNorm || tensorShape('blk.0.attn_q.bias') !== undefined, o: isLayerNorm, mlp: isLayerNorm },
    qkNorm: family === 'qwen3',
    layerWindows: Array.from({ length: layers }, (_, i) => (family === 'gemma2' ? (i % 2 === 0 ? window : 0) : window)),
    attnScale: family === 'gemma2' ? get('attention.query_pre_attn_scalar', headDim) ** -0.5 : headDim ** -0.5,
    attnSoftcap: family === 'gemma2' ? get('attn_logit_softcapping', 0) : 0,
    finalSoftcap: family === 'gemma2' ? get('final_logit_softcapping', 0) : 0,
    embedScale: isGemma ? Math.fround(Math.sqrt(hidden)) : 1,
    postNorms: family === 'gemma2',
    typeVocabSize: family === 'bert' ? 2 : 0,
    bosId: typeof bos === 'number' ? bos : undefined,
    eosIds: typeof eos === 'number' ? [eos] : [],
  }, file);
}
