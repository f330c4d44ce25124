// BERT and a BERT cross-encoder in ../shared/refs against Hugging Face transformers: hidden
// states, pooler, mean pooling and relevance scores of padded batches, on the reference interpreter.
import { Tokenizer as HfLibTokenizer } from '@huggingface/tokenizers';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseGraph } from '../../ir/parser.js';
import { printGraph } from '../../ir/printer.js';
import { ENCODER_OUTPUTS } from '../../models/arch/encoder.js';
import { Encoder, type EncoderRow } from '../../src/encoder.js';
import { Model } from '../../src/model.js';
import { copyCheckpoint, gammaBeta, writeBertTokenizer } from '../helpers/encoder-fixtures.js';
import { maxAbsDiff, readRef, type RefSet } from '../helpers/refs.js';
import { hasShared, sharedPath } from '../helpers/shared.js';

const TOL = 1e-4;

/** The ref's padded rows cut back to their real tokens (HF's attention_mask), with their token types. */
function refRows(ref: RefSet): EncoderRow[] {
  const mask = ref.json.attention_mask as number[][];
  const types = ref.json.token_type_ids as number[][];
  return ref.inputIds.map((ids, b) => {
    const n = mask[b].reduce((s, m) => s + m, 0);
    return { ids: ids.slice(0, n), tokenTypes: types[b].slice(0, n) };
  });
}

/** Rows [b, 0, n) of a [B, S, D] tensor, for each row's real length n. */
function realRows(data: Float32Array, lengths: readonly number[], S: number, D: number): Float32Array {
  return Float32Array.from(lengths.flatMap((n, b) => Array.from(data.subarray(b * S * D, (b * S + n) * D))));
}

const concat = (vs: readonly Float32Array[]) => Float32Array.from(vs.flatMap((v) => Array.from(v)));

describe.runIf(hasShared('refs'))('HF reference encoders (reference interpreter)', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'tessera-enc-'));
  });

  describe('bert (BertModel, padded batch of 2)', () => {
    // Loaded in a hook: vitest runs this body even when the suite is skipped.
    let ref: RefSet, rows: EncoderRow[], lengths: number[], S: number, encoder: Encoder, D: number;
    beforeAll(() => {
      ref = readRef('bert');
      rows = refRows(ref);
      lengths = rows.map((r) => r.ids.length);
      S = ref.inputIds[0].length;
      encoder = Encoder.load(sharedPath('refs', 'bert'));
      D = encoder.config.hiddenSize;
    });

    it('has the lengths the README describes', () => {
      expect(lengths).toEqual([16, 11]);
      expect(encoder.info()).toMatchObject({ task: 'encoder', architecture: 'BertModel', outputs: ['last_hidden_state', 'pooler_output', 'mean_pooled', 'embeddings'] });
    });

    it('last_hidden_state, pooler, mean pooling and hidden states match within 1e-4', async () => {
      const out = await encoder.run(rows, { hiddenStates: true, outputs: ['last_hidden_state', 'pooler_output', 'mean_pooled', 'embeddings'] });
      const last = out.last_hidden_state;
      expect(last.shape).toEqual([2, S, D]);
      expect(maxAbsDiff(realRows(last.data as Float32Array, lengths, S, D), realRows(ref.tensor('last_hidden_state').data, lengths, S, D))).toBeLessThan(TOL);
      expect(maxAbsDiff(out.pooler_output.data as Float32Array, ref.tensor('pooler_output').data)).toBeLessThan(TOL);
      expect(maxAbsDiff(out.mean_pooled.data as Float32Array, ref.tensor('mean_pooled').data)).toBeLessThan(TOL);
      expect(maxAbsDiff(out.embeddings.data as Float32Array, ref.tensor('mean_pooled_normalized').data)).toBeLessThan(TOL);
      const hidden = ref.tensor('hidden_states');
      const per = 2 * S * D;
      for (let l = 0; l <= encoder.config.numLayers; l++) {
        const mine = realRows(out[`hidden.${l}`].data as Float32Array, lengths, S, D);
        expect(maxAbsDiff(mine, realRows(hidden.data.subarray(l * per, (l + 1) * per), lengths, S, D)), `hidden.${l}`).toBeLessThan(TOL);
      }
    });

    it('embed() gives the normalized and the raw mean-pooled vectors', async () => {
      const ids = rows.map((r) => [...r.ids]), tokenTypes = rows.map((r) => [...r.tokenTypes!]);
      const normalized = await encoder.embed(ids, { tokenTypes });
      expect(normalized.map((v) => v.length)).toEqual([D, D]);
      expect(maxAbsDiff(concat(normalized), ref.tensor('mean_pooled_normalized').data)).toBeLessThan(TOL);
      const raw = await encoder.embed(ids, { tokenTypes, normalize: false });
      expect(maxAbsDiff(concat(raw), ref.tensor('mean_pooled').data)).toBeLessThan(TOL);
    });

    it('a batch of one unpadded row equals that row of the padded batch', async () => {
      const both = await encoder.run(rows, { outputs: ['last_hidden_state', 'embeddings', 'pooler_output'] });
      const alone = await encoder.run([rows[1]], { outputs: ['last_hidden_state', 'embeddings', 'pooler_output'] });
      const n = lengths[1];
      expect(alone.last_hidden_state.shape).toEqual([1, n, D]);
      const padded = (both.last_hidden_state.data as Float32Array).subarray(S * D, (S + n) * D);
      expect(maxAbsDiff(alone.last_hidden_state.data as Float32Array, padded)).toBeLessThan(1e-6);
      expect(maxAbsDiff(alone.embeddings.data as Float32Array, (both.embeddings.data as Float32Array).subarray(D))).toBeLessThan(1e-6);
      expect(maxAbsDiff(alone.pooler_output.data as Float32Array, (both.pooler_output.data as Float32Array).subarray(D))).toBeLessThan(1e-6);
      // Batching splits inputs into passes; the vectors do not depend on the split.
      const oneByOne = Encoder.load(sharedPath('refs', 'bert'), { batchSize: 1 });
      const ids = rows.map((r) => [...r.ids]), tokenTypes = rows.map((r) => [...r.tokenTypes!]);
      expect(maxAbsDiff(concat(await oneByOne.embed(ids, { tokenTypes })), concat(await encoder.embed(ids, { tokenTypes })))).toBeLessThan(1e-6);
    });

    it('loads bert.-prefixed and gamma/beta-named checkpoints to the same numbers', async () => {
      const ids = rows.map((r) => [...r.ids]), tokenTypes = rows.map((r) => [...r.tokenTypes!]);
      const want = concat(await encoder.embed(ids, { tokenTypes }));
      for (const [name, rename] of [['prefixed', (n: string) => `bert.${n}`], ['gamma-beta', gammaBeta], ['both', (n: string) => `bert.${gammaBeta(n)}`]] as const) {
        const dir = copyCheckpoint(sharedPath('refs', 'bert'), join(tmp, `bert-${name}`), rename);
        const other = Encoder.load(dir);
        expect(other.weights.embedNorm.weight, name).toEqual({ kind: 'tensor', name: rename('embeddings.LayerNorm.weight') });
        expect(other.weights.pooler, name).toBeDefined();
        expect(concat(await other.embed(ids, { tokenTypes })), name).toEqual(want);
      }
    });

    it('a checkpoint without a pooler still embeds, and has no pooler_output', async () => {
      const store = join(tmp, 'bert-no-pooler');
      copyCheckpoint(sharedPath('refs', 'bert'), store, (n) => (n.startsWith('pooler.') ? `unused.${n}` : n));
      const e = Encoder.load(store);
      expect(e.info().outputs).toEqual(['last_hidden_state', 'mean_pooled', 'embeddings']);
      expect(maxAbsDiff(concat(await e.embed(rows.map((r) => [...r.ids]), { tokenTypes: rows.map((r) => [...r.tokenTypes!]) })), ref.tensor('mean_pooled_normalized').data)).toBeLessThan(TOL);
      expect(() => e.graph({ outputs: ['pooler_output'] })).toThrow(/no pooler\.dense\.weight/);
    });
  });

  describe('bert_reranker (BertForSequenceClassification, 3 padded pairs)', () => {
    // Loaded in a hook: vitest runs this body even when the suite is skipped.
    let ref: RefSet, rows: EncoderRow[], ids: number[][], tokenTypes: number[][], encoder: Encoder;
    beforeAll(() => {
      ref = readRef('bert_reranker');
      rows = refRows(ref);
      ids = rows.map((r) => [...r.ids]);
      tokenTypes = rows.map((r) => [...r.tokenTypes!]);
      encoder = Encoder.load(sharedPath('refs', 'bert_reranker'));
    });

    it('logits and scores match within 1e-4', async () => {
      expect(encoder.info()).toMatchObject({ task: 'cross-encoder', outputs: [...ENCODER_OUTPUTS] });
      const out = await encoder.run(rows, { outputs: ['logits', 'scores'] });
      expect(out.logits.shape).toEqual([3, 1]);
      expect(maxAbsDiff(out.logits.data as Float32Array, ref.tensor('logits').data)).toBeLessThan(TOL);
      expect(out.scores.shape).toEqual([3]);
      expect(maxAbsDiff(out.scores.data as Float32Array, ref.tensor('scores').data)).toBeLessThan(TOL);
      const scores = await encoder.scorePairs(ids, tokenTypes);
      expect(maxAbsDiff(scores, ref.tensor('scores').data)).toBeLessThan(TOL);
      // Scores are independent of how rows are padded together.
      expect(maxAbsDiff(await encoder.scorePairs([ids[1]], [tokenTypes[1]]), [scores[1]])).toBeLessThan(1e-6);
    });

    it('prints readable IR that parses back to the same text', () => {
      for (const opts of [{}, { hiddenStates: true }, { outputs: ['scores'] as const }]) {
        const text = printGraph(encoder.graph(opts));
        expect(printGraph(parseGraph(text))).toBe(text);
      }
      const text = printGraph(encoder.graph());
      expect(text).toContain('graph @bert<B, S>(%tokens: i32[B, S], %token_types: i32[B, S], %pos: i32[S], %mask: i32[B, S])');
      expect(text).toContain('param %l0.attn_norm: f32[64] = "bert.encoder.layer.0.attention.output.LayerNorm.weight"');
      expect(text).toMatch(/%l0\.attn = attention\(%l0\.q, %l0\.k, %l0\.v, %mask\) \{causal = false, scale = 0\.25\}/);
    });

    it('loads without the bert. prefix and with gamma/beta names', async () => {
      const want = await encoder.scorePairs(ids, tokenTypes);
      const dir = copyCheckpoint(sharedPath('refs', 'bert_reranker'), join(tmp, 'reranker-bare'), (n) => gammaBeta(n.replace(/^bert\./, '')));
      expect(await Encoder.load(dir).scorePairs(ids, tokenTypes)).toEqual(want);
    });

    it('reranks text with a tokenizer: [CLS] q [SEP] d [SEP] exactly as the tokenizer lays out pairs', async () => {
      const dir = copyCheckpoint(sharedPath('refs', 'bert_reranker'), join(tmp, 'reranker-tok'), (n) => n);
      const tokPath = writeBertTokenizer(dir);
      const e = Encoder.load(dir);
      const query = 'Where is the cat?';
      const docs = ['The cat sat on the mat.', 'A dog runs fast', 'who is slow, what is fast?'];
      const result = await e.rerank(query, docs);
      // The library's own pair encoding (what HF's tokenizer(q, d) gives).
      const lib = new HfLibTokenizer(JSON.parse(readFileSync(tokPath, 'utf8')), {});
      const pairs = docs.map((d) => lib.encode(query, { text_pair: d, return_token_type_ids: true }));
      expect(pairs[0].ids.slice(0, 7)).toEqual([1, 16, 17, 5, 7, 21, 2]);
      expect(result.scores).toEqual(await e.scorePairs(pairs.map((p) => p.ids), pairs.map((p) => p.token_type_ids)));
      expect(result.ranked.map((r) => r.score)).toEqual([...result.scores].sort((a, b) => b - a));
      for (const r of result.ranked) expect(r).toEqual({ index: r.index, score: result.scores[r.index], document: docs[r.index] });
      expect((await e.rerank(query, [])).ranked).toEqual([]);
      // Text embedding uses the same tokenizer's single-text encoding.
      const [v] = await e.embed(['The cat sat']);
      expect(Array.from(v)).toEqual(Array.from((await e.embed([lib.encode('The cat sat').ids]))[0]));
    });
  });

  describe('errors', () => {
    it('a decoder is not an encoder, and an encoder is not a decoder', () => {
      expect(() => Encoder.load(sharedPath('refs', 'llama'))).toThrow(/llama decoder \(LlamaForCausalLM\) is not an encoder; load it with Model/);
      expect(() => Model.load(sharedPath('refs', 'bert'))).toThrow(/a bert encoder model/);
    });

    it('text without a tokenizer asks for ids; a plain encoder cannot rerank', async () => {
      const bert = Encoder.load(sharedPath('refs', 'bert'));
      await expect(bert.embed(['hello'])).rejects.toThrow(/no tokenizer\.json beside the model.*pass token ids/);
      await expect(bert.rerank('q', ['d'])).rejects.toThrow(/has no classification head; scoring pairs needs a cross-encoder/);
      await expect(Encoder.load(sharedPath('refs', 'bert_reranker')).rerank('q', ['d'])).rejects.toThrow(/no tokenizer\.json/);
    });

    it('bad ids and token types are named by row and token', async () => {
      const bert = Encoder.load(sharedPath('refs', 'bert'));
      await expect(bert.embed([[1, 2], [3, 256]])).rejects.toThrow('row 1, token 1: id 256 is outside the vocabulary [0, 256)');
      await expect(bert.embed([[1, 2.5]])).rejects.toThrow('row 0, token 1: id 2.5 is outside');
      await expect(bert.embed([[1, 2], []])).rejects.toThrow('row 1 has no tokens');
      await expect(bert.embed([[1, 2]], { tokenTypes: [[0]] })).rejects.toThrow('row 0 has 2 ids but 1 token types');
      await expect(bert.embed([[1, 2]], { tokenTypes: [[0, 2]] })).rejects.toThrow('row 0, token 1: token type 2 is outside [0, 2)');
      await expect(bert.embed([[1, 2]], { tokenTypes: [] })).rejects.toThrow('1 rows of ids but 0 rows of token types');
      await expect(bert.embed([new Array<number>(129).fill(5)])).rejects.toThrow('row 0 has 129 tokens; this model takes at most 128');
      expect(await bert.embed([])).toEqual([]);
    });

    it('weights that disagree with the config are named with both shapes', () => {
      const dir = copyCheckpoint(sharedPath('refs', 'bert'), join(mkdtempSync(join(tmpdir(), 'tessera-enc-')), 'bad'), (n) => n, (c) => {
        c.intermediate_size = 96;
      });
      expect(() => Encoder.load(dir)).toThrow(/weight for %l0\.w_up \("encoder\.layer\.0\.intermediate\.dense\.weight"\) has shape \[128, 64\], but the config \(.*intermediate_size 96.*\) needs \[96, 64\]/);
      const missing = copyCheckpoint(sharedPath('refs', 'bert_reranker'), join(mkdtempSync(join(tmpdir(), 'tessera-enc-')), 'no-head'), (n) => (n.startsWith('classifier') ? `x.${n}` : n));
      expect(() => Encoder.load(missing)).toThrow(/missing tensor "classifier\.weight"/);
    });
  });
});
