// HF config.json → ModelConfig, following each transformers config class's defaults.
import { ConfigError, type Family, type ModelConfig, type RopeConfig, type RopeScaling, SUPPORTED_FAMILIES, UnsupportedModelError, validateConfig } from './model-config.js';

type Json = Record<string, unknown>;

function num(c: Json, key: string, fallback?: number): number {
  const v = c[key];
  if (v === undefined || v === null) {
    if (fallback === undefined) throw new ConfigError('config.json', `missing "${key}"`);
    return fallback;
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError('config.json', `"${key}" must be a number, got ${JSON.stringify(v)}`);
  return v;
}

function eosList(v: unknown): number[] {
  if (typeof v === 'number') return [v];
  if (Array.isArray(v)) return v.filter((x): x is number => typeof x === 'number');
  return [];
}

function ropeScaling(c: Json, headDim: number, rotaryDim: number): RopeScaling {
  const rs = c.rope_scaling as Json | null | undefined;
  if (!rs) return { type: 'none' };
  const type = (rs.rope_type ?? rs.type) as string | undefined;
  switch (type) {
    case undefined: case 'default': return { type: 'none' };
    case 'llama3':
      return {
        type: 'llama3',
        factor: num(rs, 'factor'),
        lowFreqFactor: num(rs, 'low_freq_factor', 1),
        highFreqFactor: num(rs, 'high_freq_factor', 4),
        originalMaxPositions: num(rs, 'original_max_position_embeddings'),
      };
    case 'longrope': case 'su': {
      const factors = (k: string) => {
        const f = rs[k];
        if (!Array.isArray(f) || !f.every((x) => typeof x === 'number')) throw new ConfigError('config.json', `rope_scaling.${k} must be a list of numbers`);
        return f as number[];
      };
      return {
        type: 'longrope',
        shortFactor: factors('short_factor'),
        longFactor: factors('long_factor'),
        originalMaxPositions: num(rs, 'original_max_position_embeddings', num(c, 'original_max_position_embeddings', num(c, 'max_position_embeddings'))),
        attentionFactor: num(rs, 'attention_factor', 0),
      };
    }
    default:
      throw new ConfigError('config.json', `rope_scaling type "${type}" is not supported (supported: llama3, longrope; headDim ${headDim}, rotary ${rotaryDim})`);
  }
}

/** Reads an HF config.json object. */
export function configFromHf(c: Json): ModelConfig {
  const modelType = c.model_type as string | undefined;
  if (!modelType) throw new ConfigError('config.json', 'missing "model_type"');
  if (!(SUPPORTED_FAMILIES as readonly string[]).includes(modelType)) {
    throw new UnsupportedModelError(`model_type "${modelType}"${Array.isArray(c.architectures) ? ` (${(c.architectures as string[]).join(', ')})` : ''} is not supported`);
  }
  const family = modelType as Family;
  const architecture = Array.isArray(c.architectures) && typeof c.architectures[0] === 'string' ? c.architectures[0] : modelType;
  if (family === 'gpt2') return validateConfig(gpt2(c, architecture), 'config.json');
  if (family === 'bert') return validateConfig(bert(c, architecture), 'config.json');

  const hidden = num(c, 'hidden_size');
  const heads = num(c, 'num_attention_heads');
  const layers = num(c, 'num_hidden_layers');
  const headDim = num(c, 'head_dim', hidden / heads);
  const rotaryDim = Math.trunc(headDim * num(c, 'partial_rotary_factor', 1));
  const theta = num(c, 'rope_theta', 10000);
  const rope: RopeConfig = { theta, rotaryDim, interleaved: false, scaling: ropeScaling(c, headDim, rotaryDim) };
  const isGemma = family === 'gemma' || family === 'gemma2';
  // Absent tie_word_embeddings means the default, which is true for every family here.
  const tied = c.tie_word_embeddings === undefined ? true : Boolean(c.tie_word_embeddings);
  const window = num(c, 'sliding_window', 0);
  const layerWindows = Array.from({ length: layers }, (_, i) => {
    if (family === 'gemma2') {
      const types = c.layer_types as string[] | undefined;
      const sliding = types ? types[i] === 'sliding_attention' : i % 2 === 0;
      return sliding ? window : 0;
    }
    if (family === 'qwen2' || family === 'qwen3') {
      // HF drops the window unless use_sliding_window; then only layers ≥ max_window_layers slide.
      if (!c.use_sliding_window) return 0;
      return i >= num(c, 'max_window_layers', 0) ? window : 0;
    }
    if (family === 'gemma') return 0;
    return window;
  });
  // Gemma-1: hidden_activation wins (transformers 4.47 ignores hidden_act); both mean gelu_tanh here.
  const act = String((isGemma ? c.hidden_activation ?? c.hidden_act : c.hidden_act) ?? (isGemma ? 'gelu_pytorch_tanh' : 'silu'));
  const activation = act === 'silu' || act === 'swish' ? 'silu' : act === 'gelu' ? 'gelu' : act.startsWith('gelu') ? 'gelu_tanh' : undefined;
  if (!activation) throw new ConfigError('config.json', `hidden_act "${act}" is not supported (silu, gelu, gelu_pytorch_tanh, gelu_new)`);
  const attnBias = Boolean(c.attention_bias);
  return validateConfig({
    family,
    architecture,
    task: 'decoder',
    vocabSize: num(c, 'vocab_size'),
    hiddenSize: hidden,
    numLayers: layers,
    numHeads: heads,
    numKvHeads: num(c, 'num_key_value_heads', heads),
    headDim,
    intermediateSize: num(c, 'intermediate_size'),
    maxPositions: num(c, 'max_position_embeddings', 2048),
    norm: { kind: 'rms', eps: num(c, 'rms_norm_eps', 1e-6), offset: isGemma ? 1 : 0 },
    rope,
    activation,
    gatedMlp: true,
    tieEmbeddings: tied,
    bias: { qkv: family === 'qwen2' || attnBias, o: attnBias && family !== 'qwen2', mlp: Boolean(c.mlp_bias) },
    qkNorm: family === 'qwen3',
    layerWindows,
    attnScale: family === 'gemma2' ? num(c, 'query_pre_attn_scalar', headDim) ** -0.5 : headDim ** -0.5,
    attnSoftcap: family === 'gemma2' ? num(c, 'attn_logit_softcapping', 0) : 0,
    finalSoftcap: family === 'gemma2' ? num(c, 'final_logit_softcapping', 0) : 0,
    embedScale: isGemma ? Math.fround(Math.sqrt(hidden)) : 1,
    postNorms: family === 'gemma2',
    typeVocabSize: 0,
    bosId: typeof c.bos_token_id === 'number' ? c.bos_token_id : undefined,
    eosIds: eosList(c.eos_token_id),
  }, 'config.json');
}

function gpt2(c: Json, architecture: string): ModelConfig {
  const hidden = num(c, 'n_embd');
  const heads = num(c, 'n_head');
  const act = String(c.activation_function ?? 'gelu_new');
  return {
    family: 'gpt2',
    architecture,
    task: 'decoder',
    vocabSize: num(c, 'vocab_size'),
    hiddenSize: hidden,
    numLayers: num(c, 'n_layer'),
    numHeads: heads,
    numKvHeads: heads,
    headDim: hidden / heads,
    intermediateSize: num(c, 'n_inner', 4 * hidden),
    maxPositions: num(c, 'n_positions'),
    norm: { kind: 'layer', eps: num(c, 'layer_norm_epsilon', 1e-5), offset: 0 },
    activation: act === 'gelu' ? 'gelu' : 'gelu_tanh',
    gatedMlp: false,
    tieEmbeddings: c.tie_word_embeddings === undefined ? true : Boolean(c.tie_word_embeddings),
    bias: { qkv: true, o: true, mlp: true },
    qkNorm: false,
    layerWindows: new Array(num(c, 'n_layer')).fill(0),
    attnScale: c.scale_attn_weights === false ? 1 : (hidden / heads) ** -0.5,
    attnSoftcap: 0,
    finalSoftcap: 0,
    embedScale: 1,
    postNorms: false,
    typeVocabSize: 0,
    bosId: typeof c.bos_token_id === 'number' ? c.bos_token_id : undefined,
    eosIds: eosList(c.eos_token_id),
  };
}

function bert(c: Json, architecture: string): ModelConfig {
  const hidden = num(c, 'hidden_size');
  const heads = num(c, 'num_attention_heads');
  const classifier = architecture === 'BertForSequenceClassification';
  if (classifier && num(c, 'num_labels', Object.keys((c.id2label as Json | undefined) ?? { 0: 0 }).length) !== 1) {
    throw new ConfigError('config.json', 'BertForSequenceClassification is supported as a cross-encoder with one label only');
  }
  const act = String(c.hidden_act ?? 'gelu');
  if (act !== 'gelu' && !act.startsWith('gelu')) throw new ConfigError('config.json', `hidden_act "${act}" is not supported for BERT (gelu, gelu_new, gelu_pytorch_tanh)`);
  if (c.position_embedding_type !== undefined && c.position_embedding_type !== 'absolute') {
    throw new ConfigError('config.json', `position_embedding_type "${String(c.position_embedding_type)}" is not supported (absolute only)`);
  }
  return {
    family: 'bert',
    architecture,
    task: classifier ? 'cross-encoder' : 'encoder',
    vocabSize: num(c, 'vocab_size'),
    hiddenSize: hidden,
    numLayers: num(c, 'num_hidden_layers'),
    numHeads: heads,
    numKvHeads: heads,
    headDim: hidden / heads,
    intermediateSize: num(c, 'intermediate_size'),
    maxPositions: num(c, 'max_position_embeddings'),
    norm: { kind: 'layer', eps: num(c, 'layer_norm_eps', 1e-12), offset: 0 },
    activation: act === 'gelu' ? 'gelu' : 'gelu_tanh',
    gatedMlp: false,
    tieEmbeddings: false,
    bias: { qkv: true, o: true, mlp: true },
    qkNorm: false,
    layerWindows: new Array(num(c, 'num_hidden_layers')).fill(0),
    attnScale: (hidden / heads) ** -0.5,
    attnSoftcap: 0,
    finalSoftcap: 0,
    embedScale: 1,
    postNorms: false,
    typeVocabSize: num(c, 'type_vocab_size', 2),
    bosId: undefined,
    eosIds: [],
  };
}
