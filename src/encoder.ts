// A loaded encoder model (BERT): sentence embeddings, and relevance scores from a cross-encoder.
// Inputs of different lengths are batched with right padding and an attention mask; the graph
// binds B (rows) and S (padded length) from the input shapes. Encoder.load runs the reference
// interpreter; Encoder.open runs one batch graph on a backend. Both take compiled artifacts.
import type { LoadedArtifact } from '../codegen/artifact/read.js';
import type { Graph } from '../ir/graph.js';
import type { HostTensor } from '../ir/tensor.js';
import { buildEncoderGraph, type EncoderGraphOptions, type EncoderOutput, encoderOutputs, ENCODER_OUTPUTS } from '../models/arch/encoder.js';
import type { EncoderWeights } from '../models/arch/encoder-weights.js';
import { ConfigError, type ModelConfig } from '../models/config/model-config.js';
import { checkOptions, type Exact, numberRule, type OptionRules } from '../runtime/options.js';
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
import { batchInputs, checkRow, EMBED_RULES, type EmbedOptions, EncoderCalls, EncoderInputError, type EncoderRow, type RerankResult } from './encoder-calls.js';

export { EncoderInputError, type EncoderRow, type EmbedOptions, type RankedDocument, type RerankResult } from './encoder-calls.js';

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

const ENCODER_LOAD_RULES: OptionRules<EncoderLoadOptions> = {
  ...LOAD_RULES,
  batchSize: numberRule({ integer: true, min: 1 }),
};

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
  private readonly calls: EncoderCalls;
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
    const encoder = this;
    this.calls = new EncoderCalls({
      path: source.path,
      config: this.config,
      get tokenizer() { return encoder.tokenizer; },
      tokenizerPath: source.tokenizerPath,
      get hasClassifier() { return encoder.hasClassifier; },
      // A backend's buffers hold at most its bound of rows.
      get batchRows() { return encoder.exec ? Math.min(opts.batchSize ?? encoder.exec.bounds.B, encoder.exec.bounds.B) : encoder.batchSize; },
      forward: (rows, outputs) => this.runRows(rows, { outputs: outputs as EncoderOutput[] }),
    });
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
    rows.forEach((r, i) => checkRow(this.config, r, i));
    const exec = this.exec;
    if (exec) this.checkFixed(exec.graph, opts);
    const g = exec ? exec.graph : this.graph(opts);
    const inputs = batchInputs(rows, g);
    if (!exec) return interpret(g, { inputs, params: this.params }).outputs;
    return this.guard.track(exec.run(inputs, opts.outputs ?? g.outputs.map((o) => o.name)));
  }

  /**
   * One vector per input: mean of the last hidden states over the real tokens, L2-normalized
   * unless `normalize` is false. Text is tokenized with the model's tokenizer ([CLS] … [SEP]).
   */
  embed<O extends Exact<EmbedOptions, O>>(inputs: readonly string[] | readonly (readonly number[])[], opts?: O): Promise<Float32Array[]> {
    checkOptions('embed', opts, EMBED_RULES, undefined);
    return this.guard.run('embed()', () => this.calls.embed(inputs, opts ?? {}));
  }

  /** Cross-encoder scores (sigmoid of the relevance logit) of rows already laid out as [CLS] q [SEP] d [SEP]. */
  scorePairs(ids: readonly (readonly number[])[], tokenTypes: readonly (readonly number[])[]): Promise<number[]> {
    return this.guard.run('scorePairs()', () => this.calls.scorePairs(ids, tokenTypes));
  }

  /** Scores every document against the query with the cross-encoder, and ranks them. */
  rerank(query: string, documents: readonly string[]): Promise<RerankResult> {
    return this.guard.run('rerank()', () => this.calls.rerank(query, documents));
  }
}
