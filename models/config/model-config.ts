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

/** What a field is called in the file it was read from (config.json key, GGUF key, llama2.c header field), for errors. */
export type ConfigKeys = Partial<Record<keyof ModelConfig | 'ropeTheta' | 'rotaryDim', string>>;

/**
 * Bounds far above any real model that keep every size, and products of two, exact and every
 * per-layer loop short: a file declaring more is refused before anything is built from it.
 */
export const SIZE_LIMITS = {
  vocabSize: 1 << 24, hiddenSize: 1 << 20, numLayers: 1 << 12, numHeads: 1 << 12, numKvHeads: 1 << 12,
  headDim: 1 << 16, intermediateSize: 1 << 22, maxPositions: 1 << 24,
} as const satisfies Partial<Record<keyof ModelConfig, number>>;

export type SizeField = keyof typeof SIZE_LIMITS;

/** Each size a positive integer within its limit; `keys` names them as the file does. */
export function checkSizes(source: string, sizes: Partial<Record<SizeField, number>>, keys: ConfigKeys = {}): void {
  for (const [field, v] of Object.entries(sizes) as [SizeField, number | undefined][]) {
    if (v === undefined) continue;
    const max = SIZE_LIMITS[field];
    if (!(Number.isInteger(v) && v > 0 && v <= max)) {
      throw new ConfigError(source, `${keys[field] ?? field} is ${v}; it must be a whole number from 1 to ${max} (is the file damaged, or edited by hand?)`);
    }
  }
}

/** Checks every value is in range and the numbers agree with each other (heads divide, dims positive, …). */
export function validateConfig(c: ModelConfig, source: string, keys: ConfigKeys = {}): ModelConfig {
  const need = (ok: boolean, msg: string) => { if (!ok) throw new ConfigError(source, msg); };
  const key = (k: keyof ConfigKeys) => keys[k] ?? k;
  const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  checkSizes(source, {
    vocabSize: c.vocabSize, hiddenSize: c.hiddenSize, numLayers: c.numLayers, numHeads: c.numHeads, numKvHeads: c.numKvHeads,
    headDim: c.headDim, intermediateSize: c.intermediateSize, maxPositions: c.maxPositions,
  }, keys);
  need(c.numHeads % c.numKvHeads === 0, `${key('numHeads')} (${c.numHeads}) must be a multiple of ${key('numKvHeads')} (${c.numKvHeads})`);
  need(finite(c.norm.eps) && c.norm.eps > 0, `${key('norm')} is ${c.norm.eps}; the norm epsilon must be a finite number > 0`);
  need(finite(c.norm.offset), `norm weight offset ${c.norm.offset} is not a finite number`);
  need(finite(c.attnScale) && c.attnScale > 0, `attention scale ${c.attnScale} (from ${key('attnScale')}) must be a finite number > 0`);
  need(finite(c.embedScale) && c.embedScale > 0, `embedding scale ${c.embedScale} must be a finite number > 0`);
  for (const k of ['attnSoftcap', 'finalSoftcap'] as const) need(finite(c[k]) && c[k] >= 0, `${key(k)} is ${c[k]}; it must be a finite number ≥ 0 (0 = off)`);
  need(Number.isInteger(c.typeVocabSize) && c.typeVocabSize >= 0 && c.typeVocabSize <= SIZE_LIMITS.vocabSize, `${key('typeVocabSize')} is ${c.typeVocabSize}; it must be a whole number ≥ 0`);
  need(c.layerWindows.length === c.numLayers, `layer windows list has ${c.layerWindows.length} entries for ${c.numLayers} layers`);
  need(c.layerWindows.every((w) => Number.isInteger(w) && w >= 0), `${key('layerWindows')} must be a whole number ≥ 0 (0 = global attention), got ${c.layerWindows.find((w) => !(Number.isInteger(w) && w >= 0))}`);
  if (c.bosId !== undefined) need(Number.isInteger(c.bosId) && c.bosId >= 0 && c.bosId < c.vocabSize, `${key('bosId')} is ${c.bosId}, outside the vocabulary (0..${c.vocabSize - 1})`);
  need(c.eosIds.every((id) => Number.isInteger(id) && id >= 0), `${key('eosIds')} must be token ids (whole numbers ≥ 0), got ${c.eosIds.join(', ')}`);
  if (c.rope) validateRope(c.rope, c, need, key);
  return c;
}

function validateRope(r: RopeConfig, c: ModelConfig, need: (ok: boolean, msg: string) => void, key: (k: keyof ConfigKeys) => string): void {
  const finitePositive = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v > 0;
  need(finitePositive(r.theta), `${key('ropeTheta')} is ${r.theta}; the RoPE base must be a finite number > 0`);
  need(Number.isInteger(r.rotaryDim) && r.rotaryDim > 0 && r.rotaryDim <= c.headDim && r.rotaryDim % 2 === 0, `${key('rotaryDim')}: rotary dim ${r.rotaryDim} must be even and ≤ head_dim ${c.headDim}`);
  need(typeof r.interleaved === 'boolean', 'rope interleaving must be true or false');
  const s = r.scaling;
  const positions = (v: number, what: string) => need(Number.isInteger(v) && v > 0 && v <= SIZE_LIMITS.maxPositions, `rope_scaling.${what} is ${v}; it must be a whole number from 1 to ${SIZE_LIMITS.maxPositions}`);
  switch (s.type) {
    case 'none': return;
    case 'llama3':
      for (const [k, v] of Object.entries({ factor: s.factor, low_freq_factor: s.lowFreqFactor, high_freq_factor: s.highFreqFactor })) {
        need(finitePositive(v), `rope_scaling.${k} is ${v}; it must be a finite number > 0`);
      }
      need(s.highFreqFactor > s.lowFreqFactor, `rope_scaling.high_freq_factor (${s.highFreqFactor}) must exceed low_freq_factor (${s.lowFreqFactor})`);
      positions(s.originalMaxPositions, 'original_max_position_embeddings');
      return;
    case 'longrope': {
      const half = r.rotaryDim / 2;
      need(s.shortFactor.length === half && s.longFactor.length === half, `longrope factors need ${half} entries (rotary dim / 2), got ${s.shortFactor.length} and ${s.longFactor.length}`);
      need([...s.shortFactor, ...s.longFactor].every(finitePositive), 'rope_scaling short_factor and long_factor must hold finite numbers > 0');
      need(typeof s.attentionFactor === 'number' && Number.isFinite(s.attentionFactor) && s.attentionFactor >= 0, `rope_scaling.attention_factor is ${s.attentionFactor}; it must be a finite number ≥ 0`);
      positions(s.originalMaxPositions, 'original_max_position_embeddings');
      return;
    }
  }
}
