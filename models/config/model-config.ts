// One normalized description of a model, whatever file it came from (HF config.json, GGUF
// metadata, llama2.c header). The graph builders read only this.
import { ModelFormatError } from '../../ir/errors.js';
import { FAMILY_TABLE, type Family, SUPPORTED_FAMILIES } from './families/table.js';

export { type Family, SUPPORTED_FAMILIES };

/** decoder: causal LM; encoder: hidden states/embeddings; cross-encoder: one relevance logit. */
export type ModelTask = 'decoder' | 'encoder' | 'cross-encoder';
export type Activation = 'silu' | 'gelu' | 'gelu_tanh';

export type RopeScaling =
  | { readonly type: 'none' }
  | { readonly type: 'llama3'; readonly factor: number; readonly lowFreqFactor: number; readonly highFreqFactor: number; readonly originalMaxPositions: number }
  | {
      readonly type: 'longrope';
      readonly shortFactor: readonly number[];
      readonly longFactor: readonly number[];
      readonly originalMaxPositions: number;
      /** 0: derived from max/original positions, as HF does. */
      readonly attentionFactor: number;
    };

export interface RopeConfig {
  readonly theta: number;
  /** Leading dims of each head that rotate (partial rotary); the rest pass through. */
  readonly rotaryDim: number;
  /** Pairs (2i, 2i+1) as in Meta/llama2.c/GGUF weights, instead of HF's rotate-half (i, i+d/2). */
  readonly interleaved: boolean;
  readonly scaling: RopeScaling;
}

export interface ModelConfig {
  readonly family: Family;
  /** What the source called it, e.g. LlamaForCausalLM or "llama2.c v0". */
  readonly architecture: string;
  readonly task: ModelTask;
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly intermediateSize: number;
  readonly maxPositions: number;
  readonly norm: { readonly kind: 'rms' | 'layer'; readonly eps: number; /** 1 for Gemma's (1+w) */ readonly offset: number };
  /** Absent for learned absolute positions (GPT-2, BERT). */
  readonly rope?: RopeConfig;
  readonly activation: Activation;
  /** down(act(gate)·up) instead of down(act(up)). */
  readonly gatedMlp: boolean;
  readonly tieEmbeddings: boolean;
  readonly bias: { readonly qkv: boolean; readonly o: boolean; readonly mlp: boolean };
  /** Qwen3: RMSNorm over head_dim on q and k before RoPE. */
  readonly qkNorm: boolean;
  /** Per layer: the sliding window W (a query sees W keys including itself), 0 = global. */
  readonly layerWindows: readonly number[];
  readonly attnScale: number;
  /** 0 = none. */
  readonly attnSoftcap: number;
  readonly finalSoftcap: number;
  /** Embeddings are multiplied by this (Gemma: sqrt(hidden)). */
  readonly embedScale: number;
  /** Gemma-2: extra norms after attention and after the MLP. */
  readonly postNorms: boolean;
  /** BERT token types (0 = none). */
  readonly typeVocabSize: number;
  readonly bosId?: number;
  readonly eosIds: readonly number[];
}

export class UnsupportedModelError extends ModelFormatError {
  constructor(what: string) {
    const rows = Object.values(FAMILY_TABLE);
    super(`${what}; supported: ${rows.map((r) => r.hf.modelType).join(', ')} (HF model_type), GGUF general.architecture ${rows.map((r) => r.gguf.architecture).join('/')}, and llama2.c checkpoints`);
    this.name = 'UnsupportedModelError';
  }
}

export class ConfigError extends ModelFormatError {
  constructor(source: string, message: string) {
    super(`${source}: ${message}`);
    this.name = 'ConfigError';
  }
}

/** Checks the numbers agree with each other (heads divide, dims positive, …). */
export function validateConfig(c: ModelConfig, source: string): ModelConfig {
  const need = (ok: boolean, msg: string) => { if (!ok) throw new ConfigError(source, msg); };
  for (const [k, v] of Object.entries({ vocabSize: c.vocabSize, hiddenSize: c.hiddenSize, numLayers: c.numLayers, numHeads: c.numHeads, numKvHeads: c.numKvHeads, headDim: c.headDim, intermediateSize: c.intermediateSize })) {
    need(Number.isInteger(v) && v > 0, `${k} must be a positive integer, got ${v}`);
  }
  need(c.numHeads % c.numKvHeads === 0, `num_attention_heads (${c.numHeads}) must be a multiple of num_key_value_heads (${c.numKvHeads})`);
  need(c.layerWindows.length === c.numLayers, `layer windows list has ${c.layerWindows.length} entries for ${c.numLayers} layers`);
  if (c.rope) {
    need(c.rope.rotaryDim > 0 && c.rope.rotaryDim <= c.headDim && c.rope.rotaryDim % 2 === 0, `rotary dim ${c.rope.rotaryDim} must be even and ≤ head_dim ${c.headDim}`);
    if (c.rope.scaling.type === 'longrope') {
      const half = c.rope.rotaryDim / 2;
      need(c.rope.scaling.shortFactor.length === half && c.rope.scaling.longFactor.length === half, `longrope factors need ${half} entries (rotary dim / 2), got ${c.rope.scaling.shortFactor.length} and ${c.rope.scaling.longFactor.length}`);
    }
  }
  return c;
}
