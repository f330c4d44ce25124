// What an encoder call does above the forward pass, in Node (src/encoder.ts) and in a browser
// (src/web/encoder.ts) alike: inputs checked and laid out as padded rows with an attention mask,
// batches no larger than the backend holds, mean-pooled embeddings, cross-encoder pairs laid out
// as [CLS] q [SEP] d [SEP] and ranked. The forward pass itself is the caller's.
import { InputError } from '../ir/errors.js';
import type { Graph } from '../ir/graph.js';
import { type HostTensor, i32 } from '../ir/tensor.js';
import type { ModelConfig } from '../models/config/model-config.js';
import type { Tokenizer } from '../models/tokenizers/tokenizer.js';
import { booleanRule, type OptionRules } from '../runtime/options.js';

/** Input the model cannot take: ids outside the vocabulary, ragged token types, text without a tokenizer. */
export class EncoderInputError extends InputError {}

/** One sequence as the model sees it: token ids and (optionally, default all 0) token types. */
export interface EncoderRow {
  readonly ids: readonly number[];
  readonly tokenTypes?: readonly number[];
}

export interface EmbedOptions {
  /** Per input row (ids input only); default all 0. */
  readonly tokenTypes?: readonly (readonly number[])[];
  /** L2-normalize the mean-pooled vector (default true, as sentence-transformers does). */
  readonly normalize?: boolean;
}

export const EMBED_RULES: OptionRules<EmbedOptions> = {
  tokenTypes: (v) => (Array.isArray(v) && v.every((row) => Array.isArray(row)) ? undefined : 'must be an array of token-type rows, one per input'),
  normalize: booleanRule,
};

export interface RankedDocument {
  /** Position in the documents given. */
  readonly index: number;
  readonly score: number;
  readonly document: string;
}

export interface RerankResult {
  /** sigmoid(logit) per document, in input order. */
  readonly scores: number[];
  /** The documents by score, highest first (ties keep input order). */
  readonly ranked: RankedDocument[];
}

/** What the calls need of the encoder that owns them. */
export interface EncoderHost {
  /** Names the model in messages. */
  readonly path: string;
  readonly config: ModelConfig;
  readonly tokenizer: Tokenizer;
  /** Where the tokenizer came from, for messages. */
  readonly tokenizerPath?: string;
  readonly hasClassifier: boolean;
  /** Rows per forward pass. */
  readonly batchRows: number;
  /** One padded forward pass over checked rows: the named outputs, [B, …]. */
  forward(rows: readonly EncoderRow[], outputs: readonly string[]): Promise<Record<string, HostTensor>>;
}

/** The graph inputs of one padded batch: tokens, positions, mask (and token types where the graph takes them). */
export function batchInputs(rows: readonly EncoderRow[], g: Graph): Record<string, HostTensor> {
  const B = rows.length;
  const S = Math.max(...rows.map((r) => r.ids.length));
  const tokens = new Int32Array(B * S), types = new Int32Array(B * S), mask = new Int32Array(B * S);
  rows.forEach((r, b) => {
    tokens.set(r.ids, b * S);
    if (r.tokenTypes) types.set(r.tokenTypes, b * S);
    mask.fill(1, b * S, b * S + r.ids.length);
  });
  const inputs: Record<string, HostTensor> = {
    tokens: i32([B, S], tokens),
    pos: i32([S], Array.from({ length: S }, (_, i) => i)),
    mask: i32([B, S], mask),
  };
  if (g.inputs.some((v) => v.name === 'token_types')) inputs.token_types = i32([B, S], types);
  return inputs;
}

/** Throws an EncoderInputError naming the row and token unless `r` fits the model. */
export function checkRow(c: ModelConfig, r: EncoderRow, i: number): void {
  if (r.ids.length === 0) throw new EncoderInputError(`row ${i} has no tokens`);
  if (r.ids.length > c.maxPositions) throw new EncoderInputError(`row ${i} has ${r.ids.length} tokens; this model takes at most ${c.maxPositions} (max_position_embeddings)`);
  r.ids.forEach((id, j) => {
    if (!Number.isInteger(id) || id < 0 || id >= c.vocabSize) throw new EncoderInputError(`row ${i}, token ${j}: id ${id} is outside the vocabulary [0, ${c.vocabSize})`);
  });
  if (!r.tokenTypes) return;
  if (r.tokenTypes.length !== r.ids.length) throw new EncoderInputError(`row ${i} has ${r.ids.length} ids but ${r.tokenTypes.length} token types`);
  r.tokenTypes.forEach((t, j) => {
    if (!Number.isInteger(t) || t < 0 || t >= c.typeVocabSize) throw new EncoderInputError(`row ${i}, token ${j}: token type ${t} is outside [0, ${c.typeVocabSize}) (type_vocab_size)`);
  });
}

export class EncoderCalls {
  private specials?: { readonly cls: number; readonly sep: number };

  constructor(private readonly host: EncoderHost) {}

  /** One vector per input (see Encoder.embed). */
  async embed(inputs: readonly string[] | readonly (readonly number[])[], opts: EmbedOptions): Promise<Float32Array[]> {
    const rows = this.rowsOf(inputs, opts.tokenTypes);
    const name = opts.normalize === false ? 'mean_pooled' : 'embeddings';
    const D = this.host.config.hiddenSize;
    const out: Float32Array[] = [];
    for (const batch of this.batches(rows)) {
      const t = (await this.host.forward(batch, [name]))[name].data as Float32Array;
      for (let b = 0; b < batch.length; b++) out.push(t.slice(b * D, (b + 1) * D));
    }
    return out;
  }

  /** Cross-encoder scores of rows already laid out as [CLS] q [SEP] d [SEP]. */
  async scorePairs(ids: readonly (readonly number[])[], tokenTypes: readonly (readonly number[])[]): Promise<number[]> {
    this.requireClassifier();
    const scores: number[] = [];
    for (const batch of this.batches(this.rowsOf(ids, tokenTypes))) {
      scores.push(...((await this.host.forward(batch, ['scores'])).scores.data as Float32Array));
    }
    return scores;
  }

  /** Scores every document against the query with the cross-encoder, and ranks them. */
  async rerank(query: string, documents: readonly string[]): Promise<RerankResult> {
    this.requireClassifier();
    const { cls, sep } = this.pairSpecials();
    const q = this.innerIds(query);
    const ids: number[][] = [], types: number[][] = [];
    for (const doc of documents) {
      const d = this.innerIds(doc);
      ids.push([cls, ...q, sep, ...d, sep]);
      types.push([...new Array<number>(q.length + 2).fill(0), ...new Array<number>(d.length + 1).fill(1)]);
    }
    const scores = documents.length ? await this.scorePairs(ids, types) : [];
    const ranked = scores.map((score, index) => ({ index, score, document: documents[index] })).sort((a, b) => b.score - a.score || a.index - b.index);
    return { scores, ranked };
  }

  private requireClassifier(): void {
    if (this.host.hasClassifier) return;
    throw new EncoderInputError(`${this.host.path}: this ${this.host.config.architecture} has no classification head; scoring pairs needs a cross-encoder (BertForSequenceClassification with one label)`);
  }

  private rowsOf(inputs: readonly string[] | readonly (readonly number[])[], tokenTypes?: readonly (readonly number[])[]): EncoderRow[] {
    if (inputs.every((x): x is string => typeof x === 'string')) {
      if (tokenTypes) throw new EncoderInputError('token types go with token ids; text is encoded with token type 0');
      return inputs.map((text) => ({ ids: this.host.tokenizer.encode(text) }));
    }
    const rows = inputs as readonly (readonly number[])[];
    if (!rows.every((r) => Array.isArray(r))) throw new EncoderInputError('inputs must be all strings or all arrays of token ids');
    if (tokenTypes && tokenTypes.length !== rows.length) throw new EncoderInputError(`${rows.length} rows of ids but ${tokenTypes.length} rows of token types`);
    return rows.map((ids, i) => ({ ids, ...(tokenTypes ? { tokenTypes: tokenTypes[i] } : {}) }));
  }

  private *batches(rows: readonly EncoderRow[]): Generator<readonly EncoderRow[]> {
    const n = this.host.batchRows;
    for (let i = 0; i < rows.length; i += n) yield rows.slice(i, i + n);
  }

  /**
   * The ids the tokenizer wraps every text in. The common Tokenizer interface does not name
   * special tokens, but a BERT template turns the empty text into exactly [CLS] [SEP].
   */
  private pairSpecials(): { cls: number; sep: number } {
    if (!this.specials) {
      const bare = this.host.tokenizer.encode('');
      if (bare.length !== 2) {
        throw new EncoderInputError(`${this.host.tokenizerPath}: the tokenizer does not wrap text as [CLS] … [SEP] (the empty text encodes to [${bare.join(', ')}]), so pairs cannot be laid out; pass laid-out ids to scorePairs`);
      }
      this.specials = { cls: bare[0], sep: bare[1] };
    }
    return this.specials;
  }

  /** A text's ids without the [CLS] … [SEP] the tokenizer adds around it. */
  private innerIds(text: string): number[] {
    const { cls, sep } = this.pairSpecials();
    const ids = this.host.tokenizer.encode(text);
    if (ids[0] !== cls || ids[ids.length - 1] !== sep) throw new EncoderInputError(`the tokenizer did not wrap ${JSON.stringify(text)} in [CLS] … [SEP]`);
    return ids.slice(1, -1);
  }
}
