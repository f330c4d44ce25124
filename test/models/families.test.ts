// The family table (models/config/families): names are unique, every refs model resolves to a
// row, and for every row the HF and GGUF readers agree on what a model of that family is.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Llama2cHeader } from '../../models/formats/llama2c.js';
import type { MetaValue } from '../../models/formats/store.js';
import { activationOfHf } from '../../models/config/activation.js';
import { FAMILY_TABLE, type Family, familyOfGgufArchitecture, familyOfHfModelType, SUPPORTED_FAMILIES } from '../../models/config/families/table.js';
import type { FamilyTraits, HfKey } from '../../models/config/families/traits.js';
import { configFromGguf } from '../../models/config/gguf.js';
import { configFromHf } from '../../models/config/hf.js';
import { configFromLlama2c } from '../../models/config/llama2c.js';
import { UnsupportedModelError } from '../../models/config/model-config.js';
import { hasShared, sharedPath } from '../helpers/shared.js';

const rows = SUPPORTED_FAMILIES.map((f) => [f, FAMILY_TABLE[f]] as const);

function expectUnique(names: readonly string[], what: string): void {
  const seen = new Set<string>();
  for (const n of names) {
    expect(seen.has(n), `${what} "${n}" is in two rows`).toBe(false);
    seen.add(n);
  }
}

describe('the family table', () => {
  it('names each family once: HF model_type, HF architectures, GGUF general.architecture', () => {
    expectUnique(rows.map(([, r]) => r.hf.modelType), 'model_type');
    expectUnique(rows.flatMap(([, r]) => Object.keys(r.hf.architectures)), 'architecture');
    expectUnique(rows.map(([, r]) => r.gguf.architecture), 'GGUF architecture');
    for (const [f, r] of rows) {
      expect(familyOfHfModelType(r.hf.modelType)).toBe(f);
      expect(familyOfGgufArchitecture(r.gguf.architecture)).toBe(f);
    }
  });

  it('every row is consistent with itself', () => {
    for (const [f, r] of rows) {
      expect(Object.values(r.hf.architectures), f).toContain(r.task);
      expect(r.activations.length, f).toBeGreaterThan(0);
      // Positions, windows and extras only where the family has them.
      if (r.positions === 'learned') expect(r.gguf.interleavedRope, f).toBe(false);
      if (r.tokenTypes) expect(r.hf.defaults.type_vocab_size, f).toBeGreaterThan(0);
      if (r.attnScale === 'query-pre-attn-scalar') expect(r.hf.defaults.query_pre_attn_scalar, f).toBeGreaterThan(0);
      expect(r.activations, f).toContain(activationOfHf(r.hf.defaults.hidden_act ?? ''));
      expect(r.hf.defaults.norm_eps, f).toBeGreaterThan(0);
      expect(r.hf.defaults.max_position_embeddings, f).toBeGreaterThan(0);
    }
  });

  it('the unsupported-model error lists every row', () => {
    const e = new UnsupportedModelError('x');
    for (const [, r] of rows) {
      expect(e.message).toContain(r.hf.modelType);
      expect(e.message).toContain(r.gguf.architecture);
    }
  });
});

describe('refs models resolve to rows', () => {
  it.skipIf(!hasShared('refs'))('every ../shared/refs/*/config.json names a row and one of its architectures', () => {
    const dirs = readdirSync(sharedPath('refs')).filter((d) => existsSync(sharedPath('refs', d, 'config.json')));
    expect(dirs.length).toBeGreaterThan(0);
    const covered = new Set<Family>();
    for (const d of dirs) {
      const json = JSON.parse(readFileSync(sharedPath('refs', d, 'config.json'), 'utf8')) as Record<string, unknown>;
      const family = familyOfHfModelType(String(json.model_type));
      expect(family, `refs/${d}: model_type ${String(json.model_type)}`).toBeDefined();
      const arch = (json.architectures as string[])[0];
      const row = FAMILY_TABLE[family!];
      expect(Object.keys(row.hf.architectures), `refs/${d}`).toContain(arch);
      const c = configFromHf(json);
      expect(c.family).toBe(family);
      expect(c.task).toBe(row.hf.architectures[arch]);
      covered.add(family!);
    }
    // Every row is exercised by some reference model.
    expect([...covered].sort()).toEqual([...SUPPORTED_FAMILIES].sort());
  });
});

/** A tiny model's facts, written out below in each format's own words. */
const SIZES = { vocab: 50, hidden: 64, heads: 4, kvHeads: 2, layers: 3, inner: 96, positions: 40, eps: 3e-6, theta: 5000, window: 8, qpas: 24, attnCap: 7, finalCap: 9, bos: 5, eos: 6 };

function hfJson(r: FamilyTraits, tied: boolean): Record<string, unknown> {
  const key = (k: HfKey) => (r.hf.keys[k] ?? [k])[0];
  const arch = Object.keys(r.hf.architectures).find((a) => r.hf.architectures[a] === r.task)!;
  const j: Record<string, unknown> = {
    model_type: r.hf.modelType, architectures: [arch],
    [key('vocab_size')]: SIZES.vocab, [key('hidden_size')]: SIZES.hidden, [key('num_attention_heads')]: SIZES.heads,
    [key('num_hidden_layers')]: SIZES.layers, [key('intermediate_size')]: SIZES.inner, [key('max_position_embeddings')]: SIZES.positions,
    [key('norm_eps')]: SIZES.eps, [key('hidden_act')]: r.hf.defaults.hidden_act, tie_word_embeddings: tied,
    bos_token_id: SIZES.bos, eos_token_id: SIZES.eos,
  };
  if (r.positions === 'rope') Object.assign(j, { [key('num_key_value_heads')]: SIZES.kvHeads, [key('rope_theta')]: SIZES.theta });
  if (r.windows === 'every-layer' || r.windows === 'alternating') j[key('sliding_window')] = SIZES.window;
  if (r.attnScale === 'query-pre-attn-scalar') j[key('query_pre_attn_scalar')] = SIZES.qpas;
  if (r.softcaps) Object.assign(j, { [key('attn_logit_softcapping')]: SIZES.attnCap, [key('final_logit_softcapping')]: SIZES.finalCap });
  return j;
}

/** The same facts as llama.cpp's converter writes them. */
function ggufMeta(r: FamilyTraits): Map<string, MetaValue> {
  const a = r.gguf.architecture;
  const m = new Map<string, MetaValue>([
    ['general.architecture', a],
    [`${a}.vocab_size`, SIZES.vocab], [`${a}.embedding_length`, SIZES.hidden], [`${a}.attention.head_count`, SIZES.heads],
    [`${a}.block_count`, SIZES.layers], [`${a}.feed_forward_length`, SIZES.inner], [`${a}.context_length`, SIZES.positions],
    [r.norm.kind === 'rms' ? `${a}.attention.layer_norm_rms_epsilon` : `${a}.attention.layer_norm_epsilon`, SIZES.eps],
    ['tokenizer.ggml.bos_token_id', SIZES.bos], ['tokenizer.ggml.eos_token_id', SIZES.eos],
  ]);
  if (r.positions === 'rope') {
    m.set(`${a}.attention.head_count_kv`, SIZES.kvHeads);
    m.set(`${a}.rope.freq_base`, SIZES.theta);
  }
  if (r.windows === 'every-layer' || r.windows === 'alternating') m.set(`${a}.attention.sliding_window`, SIZES.window);
  if (r.attnScale === 'query-pre-attn-scalar') m.set(`${a}.attention.query_pre_attn_scalar`, SIZES.qpas);
  if (r.softcaps) {
    m.set(`${a}.attn_logit_softcapping`, SIZES.attnCap);
    m.set(`${a}.final_logit_softcapping`, SIZES.finalCap);
  }
  return m;
}

describe('config readers, one round per family', () => {
  for (const [family, r] of rows) {
    it(`${family}: config.json and GGUF metadata of the same model give the same ModelConfig`, () => {
      for (const tied of [true, false]) {
        const hf = configFromHf(hfJson(r, tied));
        const tensors = new Map<string, number[]>(tied ? [] : [['output.weight', [SIZES.vocab, SIZES.hidden]]]);
        if (r.bias.qkv === true) tensors.set('blk.0.attn_q.bias', [SIZES.hidden]);
        const gguf = configFromGguf(ggufMeta(r), 'mem.gguf', (n) => tensors.get(n));

        // What each format states differently, as the row says.
        expect(hf.norm.offset).toBe(r.norm.weightOffset);
        expect(gguf.norm.offset).toBe(0);
        expect(gguf.rope?.interleaved).toBe(r.positions === 'rope' ? r.gguf.interleavedRope : undefined);
        expect(hf.rope?.interleaved).toBe(r.positions === 'rope' ? false : undefined);
        expect(gguf.architecture).toBe(`GGUF ${r.gguf.architecture}`);
        const same = (c: typeof hf) => ({ ...c, architecture: '', norm: { ...c.norm, offset: 0 }, rope: c.rope && { ...c.rope, interleaved: false } });
        expect(same(gguf)).toEqual(same(hf));

        // And what both read is what was written.
        expect(hf).toMatchObject({ family, task: r.task, vocabSize: SIZES.vocab, hiddenSize: SIZES.hidden, numLayers: SIZES.layers, intermediateSize: SIZES.inner, maxPositions: SIZES.positions, tieEmbeddings: tied, bosId: SIZES.bos, eosIds: [SIZES.eos] });
        expect(hf.norm).toMatchObject({ kind: r.norm.kind, eps: SIZES.eps });
        expect(hf.postNorms).toBe(r.norm.placement === 'sandwich');
        expect(hf.gatedMlp).toBe(r.gatedMlp);
        expect(hf.qkNorm).toBe(r.qkNorm);
        expect(hf.embedScale).toBe(r.embedScale === 'sqrt-hidden' ? Math.fround(Math.sqrt(SIZES.hidden)) : 1);
        expect(hf.rope?.theta).toBe(r.positions === 'rope' ? SIZES.theta : undefined);
        expect([hf.attnSoftcap, hf.finalSoftcap]).toEqual(r.softcaps ? [SIZES.attnCap, SIZES.finalCap] : [0, 0]);
        expect(hf.attnScale).toBe((r.attnScale === 'query-pre-attn-scalar' ? SIZES.qpas : SIZES.hidden / SIZES.heads) ** -0.5);
        const slides = { none: [0, 0, 0], 'every-layer': [8, 8, 8], alternating: [8, 0, 8], 'after-max-window-layers': [0, 0, 0] }[r.windows];
        expect(hf.layerWindows).toEqual(slides);
      }
    });
  }

  it('llama2.c headers fill the same fields as config.json', () => {
    const header: Llama2cHeader = { version: 0, dim: 64, hiddenDim: 96, nLayers: 3, nHeads: 4, nKvHeads: 2, vocabSize: 50, seqLen: 40, sharedClassifier: true, headerBytes: 28 };
    const l2c = configFromLlama2c(header, 'x.bin');
    const hf = configFromHf(hfJson(FAMILY_TABLE.llama, true));
    expect(Object.keys(l2c).sort()).toEqual(Object.keys(hf).sort());
    expect(l2c.rope).toMatchObject({ theta: 10000, rotaryDim: 16, interleaved: true });
  });
});

describe('HF config-class defaults come from the row', () => {
  it('absent keys take the class default; null switches a softcap off', () => {
    const base = hfJson(FAMILY_TABLE.gemma2, true);
    delete base.tie_word_embeddings;
    delete base.attn_logit_softcapping;
    delete base.query_pre_attn_scalar;
    base.final_logit_softcapping = null;
    const c = configFromHf(base);
    expect(c.tieEmbeddings).toBe(FAMILY_TABLE.gemma2.hf.defaults.tie_word_embeddings);
    expect(c.attnSoftcap).toBe(FAMILY_TABLE.gemma2.hf.defaults.attn_logit_softcapping);
    expect(c.finalSoftcap).toBe(0);
    expect(c.attnScale).toBe(FAMILY_TABLE.gemma2.hf.defaults.query_pre_attn_scalar! ** -0.5);
    const llama = hfJson(FAMILY_TABLE.llama, true);
    delete llama.tie_word_embeddings;
    delete llama.max_position_embeddings;
    expect(configFromHf(llama)).toMatchObject({ tieEmbeddings: false, maxPositions: FAMILY_TABLE.llama.hf.defaults.max_position_embeddings });
  });

  it('an activation the family does not build is refused, naming the key', () => {
    const bert = { ...hfJson(FAMILY_TABLE.bert, false), hidden_act: 'silu' };
    expect(() => configFromHf(bert)).toThrow(/hidden_act "silu" is not supported for bert \(gelu, gelu_new, gelu_pytorch_tanh\)/);
    const gpt2 = { ...hfJson(FAMILY_TABLE.gpt2, true), activation_function: 'relu' };
    expect(() => configFromHf(gpt2)).toThrow(/activation_function "relu" is not supported for gpt2/);
  });
});
