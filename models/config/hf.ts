// HF config.json → ModelConfig. The family's row (./families/table.ts) says which keys its
// transformers config class uses and their class defaults; this file only reads them.
import { activationOfHf, hfActivationNames } from './activation.js';
import { type Family, familyOfHfModelType, familyTraits } from './families/table.js';
import type { BiasRule, FamilyTraits, HfKey, HfValues } from './families/traits.js';
import { makeConfig } from './make-config.js';
import { ConfigError, type ModelConfig, type RopeConfig, type RopeScaling, UnsupportedModelError } from './model-config.js';

type Json = Record<string, unknown>;
type KeyOf<T> = { [K in HfKey]: HfValues[K] extends T ? K : never }[HfKey];

function num(c: Json, key: string, fallback?: number): number {
  const v = c[key];
  if (v === undefined || v === null) {
    if (fallback === undefined) throw new ConfigError('config.json', `missing "${key}"`);
    return fallback;
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError('config.json', `"${key}" must be a number, got ${JSON.stringify(v)}`);
  return v;
}

/** Reads quantities under the class's key names; absent (or null) means the class default. */
class HfReader {
  constructor(private readonly c: Json, private readonly row: FamilyTraits) {}

  /** The config.json name of `k`: the first of the class's names that is set. */
  key(k: HfKey): string {
    const names = this.row.hf.keys[k] ?? [k];
    return names.find((n) => this.c[n] !== undefined && this.c[n] !== null) ?? names[0];
  }

  /** `fallback` stands in for a class default computed from other keys (head_dim, GPT-2's n_inner). */
  num(k: KeyOf<number>, fallback?: number): number {
    return num(this.c, this.key(k), this.row.hf.defaults[k] ?? fallback);
  }

  /** sliding_window and the softcaps: null switches them off, absent means the class default. */
  orZero(k: KeyOf<number>): number {
    return this.c[this.key(k)] === null ? 0 : this.num(k, 0);
  }

  bool(k: KeyOf<boolean>): boolean {
    const v = this.c[this.key(k)];
    return v === undefined || v === null ? this.row.hf.defaults[k] ?? false : Boolean(v);
  }

  str(k: KeyOf<string>): string {
    const v = this.c[this.key(k)];
    if (v === undefined || v === null) {
      const d = this.row.hf.defaults[k];
      if (d === undefined) throw new ConfigError('config.json', `missing "${this.key(k)}"`);
      return d;
    }
    return String(v);
  }

  bias(rule: BiasRule): boolean {
    return typeof rule === 'boolean' ? rule : Boolean(this.c[rule]);
  }
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

function rope(c: Json, r: HfReader, headDim: number): Partial<RopeConfig> {
  const rotaryDim = Math.trunc(headDim * r.num('partial_rotary_factor'));
  return { theta: r.num('rope_theta'), rotaryDim, scaling: ropeScaling(c, headDim, rotaryDim) };
}

/** The sliding window of layer i, by the row's pattern. */
function layerWindow(c: Json, r: HfReader, row: FamilyTraits): (i: number) => number {
  const window = row.windows === 'none' ? 0 : r.orZero('sliding_window');
  const types = Array.isArray(c.layer_types) ? (c.layer_types as unknown[]) : undefined;
  const maxWindowLayers = row.windows === 'after-max-window-layers' ? r.num('max_window_layers') : 0;
  return (i) => {
    switch (row.windows) {
      case 'none': return 0;
      case 'every-layer': return window;
      case 'alternating': return (types ? types[i] === 'sliding_attention' : i % 2 === 0) ? window : 0;
      // HF drops the window unless use_sliding_window; then only layers ≥ max_window_layers slide.
      case 'after-max-window-layers': return r.bool('use_sliding_window') && i >= maxWindowLayers ? window : 0;
    }
  };
}

function attnScale(c: Json, r: HfReader, row: FamilyTraits, headDim: number): number {
  switch (row.attnScale) {
    case 'head-dim': return headDim ** -0.5;
    case 'query-pre-attn-scalar': return r.num('query_pre_attn_scalar') ** -0.5;
    case 'scale-attn-weights': return c.scale_attn_weights === false ? 1 : headDim ** -0.5;
  }
}

/** Reads an HF config.json object. */
export function configFromHf(c: Json): ModelConfig {
  const modelType = c.model_type as string | undefined;
  if (!modelType) throw new ConfigError('config.json', 'missing "model_type"');
  const family: Family | undefined = familyOfHfModelType(modelType);
  if (!family) {
    throw new UnsupportedModelError(`model_type "${modelType}"${Array.isArray(c.architectures) ? ` (${(c.architectures as string[]).join(', ')})` : ''} is not supported`);
  }
  const row = familyTraits(family);
  const r = new HfReader(c, row);
  const architecture = Array.isArray(c.architectures) && typeof c.architectures[0] === 'string' ? c.architectures[0] : modelType;
  const task = row.hf.architectures[architecture] ?? row.task;
  if (task === 'cross-encoder' && num(c, 'num_labels', Object.keys((c.id2label as Json | undefined) ?? { 0: 0 }).length) !== 1) {
    throw new ConfigError('config.json', `${architecture} is supported as a cross-encoder with one label only`);
  }
  if (row.positions === 'learned' && c.position_embedding_type !== undefined && c.position_embedding_type !== 'absolute') {
    throw new ConfigError('config.json', `position_embedding_type "${String(c.position_embedding_type)}" is not supported (absolute only)`);
  }
  const act = r.str('hidden_act');
  const activation = activationOfHf(act);
  if (!activation || !row.activations.includes(activation)) {
    throw new ConfigError('config.json', `${r.key('hidden_act')} "${act}" is not supported for ${modelType} (${row.activations.map(hfActivationNames).join(', ')})`);
  }

  const hidden = r.num('hidden_size');
  const heads = r.num('num_attention_heads');
  const layers = r.num('num_hidden_layers');
  const headDim = r.num('head_dim', hidden / heads);
  return makeConfig('config.json', {
    family,
    architecture,
    task,
    vocabSize: r.num('vocab_size'),
    hiddenSize: hidden,
    numLayers: layers,
    numHeads: heads,
    numKvHeads: r.num('num_key_value_heads', heads),
    headDim,
    intermediateSize: r.num('intermediate_size', row.hf.intermediatePerHidden === undefined ? undefined : row.hf.intermediatePerHidden * hidden),
    maxPositions: r.num('max_position_embeddings'),
    norm: { eps: r.num('norm_eps') },
    ...(row.positions === 'rope' ? { rope: rope(c, r, headDim) } : {}),
    activation,
    tieEmbeddings: r.bool('tie_word_embeddings'),
    bias: { qkv: r.bias(row.bias.qkv), o: r.bias(row.bias.o), mlp: r.bias(row.bias.mlp) },
    layerWindow: layerWindow(c, r, row),
    attnScale: attnScale(c, r, row, headDim),
    ...(row.softcaps ? { attnSoftcap: r.orZero('attn_logit_softcapping'), finalSoftcap: r.orZero('final_logit_softcapping') } : {}),
    ...(row.tokenTypes ? { typeVocabSize: r.num('type_vocab_size') } : {}),
    bosId: typeof c.bos_token_id === 'number' ? c.bos_token_id : undefined,
    eosIds: eosList(c.eos_token_id),
  }, {
    vocabSize: r.key('vocab_size'), hiddenSize: r.key('hidden_size'), numLayers: r.key('num_hidden_layers'),
    numHeads: r.key('num_attention_heads'), numKvHeads: r.key('num_key_value_heads'), headDim: r.key('head_dim'),
    intermediateSize: r.key('intermediate_size'), maxPositions: r.key('max_position_embeddings'), norm: r.key('norm_eps'),
    ropeTheta: r.key('rope_theta'), rotaryDim: r.key('partial_rotary_factor'), layerWindows: r.key('sliding_window'),
    attnSoftcap: r.key('attn_logit_softcapping'), finalSoftcap: r.key('final_logit_softcapping'), typeVocabSize: r.key('type_vocab_size'),
    bosId: 'bos_token_id', eosIds: 'eos_token_id',
  });
}
