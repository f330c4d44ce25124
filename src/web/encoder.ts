// A compiled encoder (BERT embeddings, a cross-encoder) running in a browser, with the API of
// Node's Encoder (src/encoder.ts): Encoder.open(source, options), embed, scorePairs, rerank,
// dispose. The calls above the forward pass are Node's (src/encoder-calls.ts); the batch executors
// are the shared runtime's.
import type { LoadedArtifact } from '../../codegen/artifact/load.js';
import { loadArtifact } from '../../codegen/artifact/load.js';
import type { Graph } from '../../ir/graph.js';
import { printGraph } from '../../ir/printer.js';
import type { HostTensor } from '../../ir/tensor.js';
import { ENCODER_OUTPUTS } from '../../models/arch/encoder.js';
import { ConfigError, type ModelConfig } from '../../models/config/model-config.js';
import type { Tokenizer } from '../../models/tokenizers/tokenizer.js';
import type { BatchExecutor } from '../../runtime/batch/executor.js';
import { WasmBatchExecutor } from '../../runtime/batch/wasm.js';
import { WebGpuBatchExecutor } from '../../runtime/batch/webgpu.js';
import { checkOptions, type Exact, numberRule, type OptionRules } from '../../runtime/options.js';
import { artifactSource } from '../artifact-source.js';
import { batchInputs, checkRow, EMBED_RULES, type EmbedOptions, EncoderCalls, EncoderInputError, type EncoderRow, type RerankResult } from '../encoder-calls.js';
import { UseGuard } from '../lifecycle.js';
import { paramResolver } from '../param-resolver.js';
import { withWeightProgress } from '../progress.js';
import { openWebBackend } from './backend.js';
import { WEB_LOAD_RULES, type WebLoadOptions } from './model.js';
import { type ArtifactSource, artifactFiles, releaseWeights } from './sources.js';
import { artifactTokenizer } from './tokenizer.js';

/** The graph an artifact stores for an encoder (as src/encoder.ts names it). */
const BATCH_GRAPH = 'batch';

export interface WebEncoderOptions extends WebLoadOptions {
  /** Rows per forward pass, at most what the compiled program holds (its default). */
  readonly batchSize?: number;
}

const ENCODER_RULES: OptionRules<WebEncoderOptions> = { ...WEB_LOAD_RULES, batchSize: numberRule({ integer: true, min: 1 }) };

export class Encoder {
  /** Which backend runs the encoder, and why. */
  readonly backendReason: string;
  readonly backend: 'wasm' | 'webgpu';
  readonly config: ModelConfig;
  private readonly guard: UseGuard;
  private readonly calls: EncoderCalls;

  private constructor(
    readonly artifact: LoadedArtifact,
    private readonly exec: BatchExecutor,
    opened: { readonly name: 'wasm' | 'webgpu'; readonly reason: string },
    private readonly tok: Tokenizer | undefined,
    batchSize: number | undefined,
  ) {
    this.config = artifact.manifest.model.config as unknown as ModelConfig;
    this.backend = opened.name;
    this.backendReason = opened.reason;
    this.guard = new UseGuard(artifact.dir);
    const encoder = this;
    this.calls = new EncoderCalls({
      path: artifact.dir,
      config: this.config,
      get tokenizer() { return encoder.tokenizer; },
      tokenizerPath: artifact.manifest.tokenizer ? `${artifact.dir}${artifact.manifest.tokenizer.file}` : undefined,
      get hasClassifier() { return encoder.hasClassifier; },
      batchRows: Math.min(batchSize ?? exec.bounds.B, exec.bounds.B),
      forward: (rows, outputs) => this.forward(rows, outputs),
    });
  }

  /**
   * Opens a compiled encoder (`tessera compile -m BERT -o DIR`): a URL of its folder, a Map of its
   * files, or a FileSystemDirectoryHandle, loaded and checked as Model.open does.
   */
  static async open<O extends Exact<WebEncoderOptions, O>>(source: ArtifactSource, options?: O): Promise<Encoder> {
    const opts: WebEncoderOptions = options ?? {};
    checkOptions('Encoder.open', opts, ENCODER_RULES, undefined);
    const files = await artifactFiles(source, { progress: opts.progress, cache: opts.cache, rangeBytes: opts.rangeBytes });
    const artifact = loadArtifact(files);
    const src = artifactSource(artifact);
    const config = src.config;
    if (config.task === 'decoder') throw new ConfigError(artifact.dir, `a ${config.family} decoder (${config.architecture}) is not an encoder; open it with Model.open to generate text`);
    const graph = artifact.graphs[BATCH_GRAPH];
    if (!graph) throw new ConfigError(artifact.dir, `the artifact holds no ${BATCH_GRAPH} graph (it has ${Object.keys(artifact.graphs).join(', ')})`);
    const params = withWeightProgress(paramResolver(src), [graph], opts.progress);
    const opened = await openWebBackend<BatchExecutor>(artifact, opts, {
      wasm: (c, threads, spinMicros) => WasmBatchExecutor.create(c.module, c.programs[BATCH_GRAPH], params, { threads, spinMicros }),
      webgpu: (ctx, programs) => WebGpuBatchExecutor.create(ctx, programs[BATCH_GRAPH], params),
    }).finally(() => releaseWeights(files));
    return new Encoder(artifact, opened.executor, opened, artifactTokenizer(artifact, config), opts.batchSize);
  }

  /** The artifact's tokenizer (EncoderInputError when it was compiled without one: give token ids). */
  get tokenizer(): Tokenizer {
    if (!this.tok) throw new EncoderInputError(`${this.artifact.dir}: the artifact has no tokenizer, so text cannot be encoded; pass token ids instead`);
    return this.tok;
  }

  /** The stored batch graph. */
  graph(): Graph {
    return this.exec.graph;
  }

  /** The final IR of the batch graph as text (what `tessera dump` prints). */
  ir(): string {
    return printGraph(this.exec.graph);
  }

  /** True for a cross-encoder (the graph returns relevance scores). */
  get hasClassifier(): boolean {
    return this.exec.graph.output('scores') !== undefined;
  }

  /** The outputs the compiled graph returns. */
  get outputs(): string[] {
    return ENCODER_OUTPUTS.filter((o) => this.exec.graph.output(o));
  }

  /** One padded forward pass over `rows`: the graph's outputs, [B, …] (see Node's Encoder.run). */
  run(rows: readonly EncoderRow[], outputs?: readonly string[]): Promise<Record<string, HostTensor>> {
    return this.guard.run('run()', () => this.forward(rows, outputs ?? this.outputs));
  }

  /** One vector per input: mean of the last hidden states over the real tokens, L2-normalized unless `normalize` is false. */
  embed<O extends Exact<EmbedOptions, O>>(inputs: readonly string[] | readonly (readonly number[])[], opts?: O): Promise<Float32Array[]> {
    checkOptions('embed', opts, EMBED_RULES, undefined);
    return this.guard.run('embed()', () => this.calls.embed(inputs, opts ?? {}));
  }

  /** Cross-encoder scores (sigmoid of the relevance logit) of rows laid out as [CLS] q [SEP] d [SEP]. */
  scorePairs(ids: readonly (readonly number[])[], tokenTypes: readonly (readonly number[])[]): Promise<number[]> {
    return this.guard.run('scorePairs()', () => this.calls.scorePairs(ids, tokenTypes));
  }

  /** Scores every document against the query with the cross-encoder, and ranks them. */
  rerank(query: string, documents: readonly string[]): Promise<RerankResult> {
    return this.guard.run('rerank()', () => this.calls.rerank(query, documents));
  }

  /** Frees the backend (workers, memory, GPU buffers); every later use throws ModelDisposedError. */
  async dispose(): Promise<void> {
    if (await this.guard.dispose()) await this.exec.dispose();
  }

  private forward(rows: readonly EncoderRow[], outputs: readonly string[]) {
    if (rows.length === 0) throw new EncoderInputError('no input rows');
    rows.forEach((r, i) => checkRow(this.config, r, i));
    const g = this.exec.graph;
    const missing = outputs.filter((o) => !g.output(o));
    if (missing.length) throw new EncoderInputError(`${this.artifact.dir}: the compiled batch graph returns ${this.outputs.join(', ')} only, not ${missing.join(', ')}`);
    return this.guard.track(this.exec.run(batchInputs(rows, g), outputs));
  }
}
