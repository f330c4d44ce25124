// A loaded encoder model (BERT): sentence embeddings, and relevance scores from a cross-encoder.
// Inputs of different lengths are batched with right padding and an attention mask; the graph
// binds B (rows) and S (padded length) from the input shapes. Encoder.load runs the reference
// interpreter; Encoder.open runs one batch graph on a backend. Both take compiled artifacts.
import type { LoadedArtifact } from '../codegen/artifact/read.js';
import type { Graph } from '../ir/graph.js';
import { type HostTensor, i32 } from '../ir/tensor.js';
import { buildEncoderGraph, type EncoderGraphOptions, type EncoderOutput, encoderOutputs, ENCODER_OUTPUTS } from '../models/arch/encoder.js';
import type { EncoderWeights } from '../models/arch/encoder-weights.js';
import { InputError } from '../ir/errors.js';
import { ConfigError, type ModelConfig } from '../models/config/model-config.js';
import { booleanRule, checkOptions, type Exact, numberRule, type OptionRules } from '../runtime/options.js';
import type { ModelSource } from '../models/open.js';
import { loadTokenizer } from '../models/tokenizers/load.js';
import type { Tokenizer } from '../models/tokenizers/tokenizer.js';
import type { BatchExecutor } from '../runtime/batch/executor.js';
import { interpret, type ParamResolver } from '../runtime/reference/interpreter.js';
import { createBatchExecutor, encoderBounds } from './encoder-backends.js';
import { checkLoadOptions, LOAD_RULES, type LoadOptions, paramResolver } from './model.js';
import { withWeightProgress } from './progress.js';
import { UseGuard } from './lifecycle.js';
import { chooseBackend, openSource } from './open-source.js';
import { pipelineTransform } from './passes.js';

export interface EncoderLoadOptions extends LoadOptions {
  /**
   * Rows per forward pass: bounds memory, since every row is padded to the longest. Default 32 on
   * the reference interpreter; on a backend, the rows its compiled program holds (8 unless an
   * artifact says otherwise), which is also the most it takes.
   */
  readonly batchSize?: number;
}

/** The graph an artifact stores for an encoder, and the one Encoder.open runs. */
const BATCH_GRAPH = 'batch';

/** Input the model cannot take: ids outside the vocabulary, ragged token types, text without a tokenizer. */
export class EncoderInputError extends InputError {}

const EMBED_RULES: OptionRules<EmbedOptions> = {
  tokenTypes: (v) => (Array.isArray(v) && v.every((row) => Array.isArray(row)) ? undefined : 'must be an array of token-type rows, one per input'),
  normalize: booleanRule,
};

const ENCODER_LOAD_RULES: OptionRules<EncoderLoadOptions> = {
  ...LOAD_RULES,
  batchSize: numberRule({ integer: true, min: 1 }),
};

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

export interface EncoderInfo {
  readonly path: string;
  readonly family: string;
  readonly architecture: string;
  readonly task: ModelConfig['task'];
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly vocabSize: number;
  readonly maxPositions: number;
  readonly typeVocabSize: number;
  readonly outputs: string[];
  readonly tokenizer?: string;
}

export class Encoder {
  readonly config: ModelConfig;
  /** Which backend runs the encoder, and why. */
  backendReason = 'reference: Encoder.load';
  private readonly params: ParamResolver;
  private readonly graphs = new Map<string, Graph>();
  private readonly batchSize: number;
  private encoderWeights?: EncoderWeights;
  private exec?: BatchExecutor;
  private tok?: Tokenizer;
  private specials?: { readonly cls: number; readonly sep: number };
  /** One call at a time (a backend's buffers hold one batch); nothing after dispose(). */
  private readonly guard: UseGuard;

  private constructor(readonly source: ModelSource, private readonly opts: EncoderLoadOptions, private readonly artifact?: LoadedArtifact, private readonly target?: string) {
    this.config = source.config;
    this.guard = new UseGuard(source.path);
    if (this.config.task === 'decoder') {
      throw new ConfigError(source.path, `a ${this.config.family} decoder (${this.config.architecture}) is not an encoder; load it with Model to generate text`);
    }
    this.params = paramResolver(source);
    this.batchSize = opts.batchSize ?? 32;
    // Builds the default graph now, so a checkpoint that disagrees with its config fails at load.
    this.graph();
  }

  /** Opens an encoder (model directory or compiled artifact) on the reference interpreter. */
  static load<O extends Exact<EncoderLoadOptions, O>>(path: string, options?: O): Encoder {
    const opts: EncoderLoadOptions = options ?? {};
    checkLoadOptions('Encoder.load', opts, ENCODER_LOAD_RULES);
    const { source, artifact } = openSource(path, opts);
    return new Encoder(source, opts, artifact);
  }

  /**
   * Opens an encoder on a backend ('auto' by default: WebGPU on a hardware adapter, else wasm).
   * An artifact runs the kernels it was compiled with, without the compiler.
   */
  static async open<O extends Exact<EncoderLoadOptions, O>>(path: string, options?: O): Promise<Encoder> {
    const opts: EncoderLoadOptions = options ?? {};
    checkLoadOptions('Encoder.open', opts, ENCODER_LOAD_RULES);
    const { source, artifact } = openSource(path, opts);
    // Decide the backend first: the pass pipeline depends on what its kernels cover.
    const backend = await chooseBackend(path, opts.backend, artifact);
    const e = new Encoder(source, opts, artifact, backend.name === 'reference' ? undefined : backend.name);
    if (backend.name === 'reference') {
      e.backendReason = `reference: ${backend.why}`;
      return e;
    }
    const graph = e.graph();
    const choice = await createBatchExecutor(backend, {
      graph,
      params: withWeightProgress(e.params, [graph], opts.progress),
      progress: opts.progress,
      bounds: encoderBounds(e.config, opts.batchSize),
      threads: opts.threads,
      spinMicros: opts.spinMicros,
      ...(artifact ? {
        precompiled: {
          webgpu: (maxWg: number) => artifact.webgpuPrograms(maxWg)?.[BATCH_GRAPH],
          wasm: async () => {
            const t = await artifact.wasmTarget();
            return t && { module: t.module, program: t.programs[BATCH_GRAPH] };
          },
        },
      } : {}),
    });
    e.exec = choice.executor;
    e.backendReason = choice.reason;
    return e;
  }

  /** True when loaded from a compiled artifact. */
  get compiled(): boolean {
    return this.artifact !== undefined;
  }

  /** 'reference', 'wasm' or 'webgpu'. */
  get backend(): string {
    return this.exec?.backend ?? 'reference';
  }

  /** Where each weight of the checkpoint lives (a compiled artifact has none: its graph is fixed). */
  get weights(): EncoderWeights {
    this.encoderWeights ??= this.source.encoderWeights();
    return this.encoderWeights;
  }

  /** The graph for these outputs (after the configured passes); cached. An artifact has one fixed graph. */
  graph(opts: EncoderGraphOptions = {}): Graph {
    const fixed = this.artifact?.graphs[BATCH_GRAPH];
    if (this.artifact) {
      if (!fixed) throw new ConfigError(this.source.path, `the artifact holds no ${BATCH_GRAPH} graph (it has ${Object.keys(this.artifact.graphs).join(', ')})`);
      this.checkFixed(fixed, opts);
      return fixed;
    }
    const key = JSON.stringify(opts);
    let g = this.graphs.get(key);
    if (!g) {
      g = buildEncoderGraph(this.config, this.weights, (n) => this.source.leafType(n), opts);
      const passes = pipelineTransform(this.opts.passes, this.target);
      if (passes) g = passes(g);
      if (this.opts.transform) g = this.opts.transform(g);
      this.graphs.set(key, g);
    }
    return g;
  }

  get hasClassifier(): boolean {
    return this.outputs().includes('scores');
  }

  info(): EncoderInfo {
    const c = this.config;
    return {
      path: this.source.path,
      family: c.family,
      architecture: c.architecture,
      task: c.task,
      hiddenSize: c.hiddenSize,
      numLayers: c.numLayers,
      numHeads: c.numHeads,
      vocabSize: c.vocabSize,
      maxPositions: c.maxPositions,
      typeVocabSize: c.typeVocabSize,
      outputs: this.outputs(),
      ...(this.source.tokenizerPath ? { tokenizer: this.source.tokenizerPath } : {}),
    };
  }

  /**
   * Frees the backend's threads or device buffers once a call in flight has finished. Every later
   * call throws ModelDisposedError, on every backend; disposing again does nothing.
   */
  async dispose(): Promise<void> {
    if (await this.guard.dispose()) await this.exec?.dispose();
  }

  /** The outputs the model supports: what the checkpoint allows, or what the fixed graph returns. */
  private outputs(): EncoderOutput[] {
    if (!this.artifact) return encoderOutputs(this.weights);
    const g = this.graph();
    return ENCODER_OUTPUTS.filter((o) => g.output(o));
  }

  /** A fixed graph (artifact or backend) serves only the outputs it returns, and no hidden states. */
  private checkFixed(g: Graph, opts: EncoderGraphOptions): void {
    const missing = (opts.outputs ?? []).filter((o) => !g.output(o));
    if (!opts.hiddenStates && !missing.length) return;
    const has = ENCODER_OUTPUTS.filter((o) => g.output(o)).join(', ');
    throw new EncoderInputError(`${this.source.path}: the ${this.artifact ? 'compiled' : this.backend} batch graph returns ${has} only, not ${opts.hiddenStates ? 'hidden states' : missing.join(', ')}; use the reference interpreter on the model files for other outputs`);
  }

  get tokenizer(): Tokenizer {
    if (!this.tok) {
      const path = this.source.tokenizerPath;
      if (!path) throw new EncoderInputError(`${this.source.path}: no tokenizer.json beside the model, so text cannot be encoded; pass token ids instead (or give a tokenizer path)`);
      this.tok = loadTokenizer(path, { vocabSize: this.config.vocabSize });
    }
    return this.tok;
  }

  /**
   * One padded forward pass over `rows`: the graph's outputs, [B, …] with B = rows.length. Like
   * every call, it holds the encoder while it runs: a second call meanwhile throws ModelBusyError.
   */
  run(rows: readonly EncoderRow[], opts: EncoderGraphOptions = {}): Promise<Record<string, HostTensor>> {
    return this.guard.run('run()', () => this.runRows(rows, opts));
  }

  private async runRows(rows: readonly EncoderRow[], opts: EncoderGraphOptions): Promise<Record<string, HostTensor>> {
    if (rows.length === 0) throw new EncoderInputError('no input rows');
    rows.forEach((r, i) => this.checkRow(r, i));
    const B = rows.length;
    const S = Math.max(...rows.map((r) => r.ids.length));
    const tokens = new Int32Array(B * S), types = new Int32Array(B * S), mask = new Int32Array(B * S);
    rows.forEach((r, b) => {
      tokens.set(r.ids, b * S);
      if (r.tokenTypes) types.set(r.tokenTypes, b * S);
      mask.fill(1, b * S, b * S + r.ids.length);
    });
    const exec = this.exec;
    if (exec) this.checkFixed(exec.graph, opts);
    const g = exec ? exec.graph : this.graph(opts);
    const inputs: Record<string, HostTensor> = {
      tokens: i32([B, S], tokens),
      pos: i32([S], Array.from({ length: S }, (_, i) => i)),
      mask: i32([B, S], mask),
    };
    if (g.inputs.some((v) => v.name === 'token_types')) inputs.token_types = i32([B, S], types);
    if (!exec) return interpret(g, { inputs, params: this.params }).outputs;
    return this.guard.track(exec.run(inputs, opts.outputs ?? g.outputs.map((o) => o.name)));
  }

  /**
   * One vector per input: mean of the last hidden states over the real tokens, L2-normalized
   * unless `normalize` is false. Text is tokenized with the model's tokenizer ([CLS] … [SEP]).
   */
  embed<O extends Exact<EmbedOptions, O>>(inputs: readonly string[] | readonly (readonly number[])[], opts?: O): Promise<Float32Array[]> {
    checkOptions('embed', opts, EMBED_RULES, undefined);
    return this.guard.run('embed()', () => this.embedRows(inputs, opts ?? {}));
  }

  private async embedRows(inputs: readonly string[] | readonly (readonly number[])[], opts: EmbedOptions): Promise<Float32Array[]> {
    const rows = this.rowsOf(inputs, opts.tokenTypes);
    const name = opts.normalize === false ? 'mean_pooled' : 'embeddings';
    const D = this.config.hiddenSize;
    const out: Float32Array[] = [];
    for (const batch of this.batches(rows)) {
      const t = (await this.runRows(batch, { outputs: [name] }))[name].data as Float32Array;
      for (let b = 0; b < batch.length; b++) out.push(t.slice(b * D, (b + 1) * D));
    }
    return out;
  }

  /** Cross-encoder scores (sigmoid of the relevance logit) of rows already laid out as [CLS] q [SEP] d [SEP]. */
  scorePairs(ids: readonly (readonly number[])[], tokenTypes: readonly (readonly number[])[]): Promise<number[]> {
    return this.guard.run('scorePairs()', () => this.scoreRows(ids, tokenTypes));
  }

  private async scoreRows(ids: readonly (readonly number[])[], tokenTypes: readonly (readonly number[])[]): Promise<number[]> {
    this.requireClassifier();
    const scores: number[] = [];
    for (const batch of this.batches(this.rowsOf(ids, tokenTypes))) {
      scores.push(...((await this.runRows(batch, { outputs: ['scores'] })).scores.data as Float32Array));
    }
    return scores;
  }

  /** Scores every document against the query with the cross-encoder, and ranks them. */
  rerank(query: string, documents: readonly string[]): Promise<RerankResult> {
    return this.guard.run('rerank()', () => this.rerankTexts(query, documents));
  }

  private async rerankTexts(query: string, documents: readonly string[]): Promise<RerankResult> {
    this.requireClassifier();
    const { cls, sep } = this.pairSpecials();
    const q = this.innerIds(query);
    const ids: number[][] = [], types: number[][] = [];
    for (const doc of documents) {
      const d = this.innerIds(doc);
      ids.push([cls, ...q, sep, ...d, sep]);
      types.push([...new Array<number>(q.length + 2).fill(0), ...new Array<number>(d.length + 1).fill(1)]);
    }
    const scores = documents.length ? await this.scoreRows(ids, types) : [];
    const ranked = scores.map((score, index) => ({ index, score, document: documents[index] })).sort((a, b) => b.score - a.score || a.index - b.index);
    return { scores, ranked };
  }

  private requireClassifier(): void {
    if (this.hasClassifier) return;
    throw new EncoderInputError(`${this.source.path}: this ${this.config.architecture} has no classification head; scoring pairs needs a cross-encoder (BertForSequenceClassification with one label)`);
  }

  private rowsOf(inputs: readonly string[] | readonly (readonly number[])[], tokenTypes?: readonly (readonly number[])[]): EncoderRow[] {
    if (inputs.every((x): x is string => typeof x === 'string')) {
      if (tokenTypes) throw new EncoderInputError('token types go with token ids; text is encoded with token type 0');
      return inputs.map((text) => ({ ids: this.tokenizer.encode(text) }));
    }
    const rows = inputs as readonly (readonly number[])[];
    if (!rows.every((r) => Array.isArray(r))) throw new EncoderInputError('inputs must be all strings or all arrays of token ids');
    if (tokenTypes && tokenTypes.length !== rows.length) throw new EncoderInputError(`${rows.length} rows of ids but ${tokenTypes.length} rows of token types`);
    return rows.map((ids, i) => ({ ids, ...(tokenTypes ? { tokenTypes: tokenTypes[i] } : {}) }));
  }

  private *batches(rows: readonly EncoderRow[]): Generator<readonly EncoderRow[]> {
    // A backend's buffers hold at most its bound of rows.
    const n = this.exec ? Math.min(this.opts.batchSize ?? this.exec.bounds.B, this.exec.bounds.B) : this.batchSize;
    for (let i = 0; i < rows.length; i += n) yield rows.slice(i, i + n);
  }

  private checkRow(r: EncoderRow, i: number): void {
    const c = this.config;
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

  /**
   * The ids the tokenizer wraps every text in. The common Tokenizer interface does not name
   * special tokens, but a BERT template turns the empty text into exactly [CLS] [SEP].
   */
  private pairSpecials(): { cls: number; sep: number } {
    if (!this.specials) {
      const bare = this.tokenizer.encode('');
      if (bare.length !== 2) {
        throw new EncoderInputError(`${this.source.tokenizerPath}: the tokenizer does not wrap text as [CLS] … [SEP] (the empty text encodes to [${bare.join(', ')}]), so pairs cannot be laid out; pass laid-out ids to scorePairs`);
      }
      this.specials = { cls: bare[0], sep: bare[1] };
    }
    return this.specials;
  }

  /** A text's ids without the [CLS] … [SEP] the tokenizer adds around it. */
  private innerIds(text: string): number[] {
    const { cls, sep } = this.pairSpecials();
    const ids = this.tokenizer.encode(text);
    if (ids[0] !== cls || ids[ids.length - 1] !== sep) throw new EncoderInputError(`the tokenizer did not wrap ${JSON.stringify(text)} in [CLS] … [SEP]`);
    return ids.slice(1, -1);
  }
}
