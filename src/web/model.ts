// A compiled decoder running in a browser, with the API of Node's Model (src/model.ts):
// Model.open(source, options), generate, chat, logits, dispose. Everything below the backend
// choice is the shared runtime: the artifact reader, the executors, the generation loop, chat's
// templates and turns, the use guard.
import type { LoadedArtifact } from '../../codegen/artifact/load.js';
import { loadArtifact } from '../../codegen/artifact/load.js';
import type { Graph } from '../../ir/graph.js';
import { printGraph } from '../../ir/printer.js';
import { ConfigError, type ModelConfig } from '../../models/config/model-config.js';
import type { Tokenizer } from '../../models/tokenizers/tokenizer.js';
import type { WgslProgram } from '../../codegen/wgsl/program.js';
import type { WasmProgram } from '../../codegen/wasm/program.js';
import type { Executor, LogitsWanted } from '../../runtime/executor.js';
import { generateTokens, type GeneratedToken, type GenerateParams, type GenerationModel, type GenerationStats } from '../../runtime/generate.js';
import { checkOptions, type Exact, functionRule, numberRule, oneOfRule, OptionError, type OptionRules } from '../../runtime/options.js';
import { WasmExecutor } from '../../runtime/wasm/executor.js';
import { WebGpuExecutor } from '../../runtime/webgpu/executor.js';
import { artifactSource } from '../artifact-source.js';
import type { ChatMessage } from '../chat/messages.js';
import { type ChatOptions, ChatTurns } from '../chat/turns.js';
import { UseGuard } from '../lifecycle.js';
import { LOAD_RANGES } from '../load-ranges.js';
import { paramResolver } from '../param-resolver.js';
import { type ProgressCallback, withWeightProgress } from '../progress.js';
import { type ExecutorMakers, openWebBackend, WEB_BACKENDS, type WebBackendOptions } from './backend.js';
import { type ArtifactSource, artifactFiles, type DownloadEvent, releaseWeights } from './sources.js';
import { artifactChatFiles, artifactEogIds, artifactTokenizer } from './tokenizer.js';

export interface WebLoadOptions extends WebBackendOptions {
  /** Download, weight upload and compile progress. */
  readonly progress?: (e: DownloadEvent | Parameters<ProgressCallback>[0]) => void;
  /**
   * Where downloaded files are kept (default 'tessera-artifacts'): the Cache API store, and in a
   * worker the OPFS folder weights.bin streams into; false: always download.
   */
  readonly cache?: string | false;
  /** weights.bin is fetched in byte ranges of at most this many bytes (default 1 GiB; the server must support Range). */
  readonly rangeBytes?: number;
}

export const WEB_LOAD_RULES: OptionRules<WebLoadOptions> = {
  backend: oneOfRule(WEB_BACKENDS),
  threads: numberRule(LOAD_RANGES.threads),
  spinMicros: numberRule(LOAD_RANGES.spinMicros),
  allowSoftwareGpu: (v) => (typeof v === 'boolean' ? undefined : 'must be true or false'),
  progress: functionRule,
  cache: (v) => (typeof v === 'string' || v === false ? undefined : 'must be a cache name or false'),
  rangeBytes: numberRule({ integer: true, min: 1 }),
};

export class Model {
  /** Which backend runs the model, and why ("wasm: no WebGPU adapter (…); 2 threads"). */
  readonly backendReason: string;
  readonly backend: 'wasm' | 'webgpu';
  readonly config: ModelConfig;
  private readonly guard: UseGuard;
  /** chat(): the template and the ids the KV cache holds between turns. */
  private readonly turns: ChatTurns;
  private eogCache?: readonly number[];

  private constructor(
    readonly artifact: LoadedArtifact,
    private readonly exec: Executor,
    opened: { readonly name: 'wasm' | 'webgpu'; readonly reason: string },
    private readonly tok: Tokenizer | undefined,
  ) {
    this.config = artifact.manifest.model.config as unknown as ModelConfig;
    this.backend = opened.name;
    this.backendReason = opened.reason;
    this.guard = new UseGuard(artifact.dir);
    this.turns = new ChatTurns(artifact.dir, () => artifactChatFiles(artifact), () => this.tokenizer);
  }

  /**
   * Opens a compiled artifact (`tessera compile -m MODEL -o DIR`): a URL of its folder, a Map of
   * its files (name → bytes or Blob), or a FileSystemDirectoryHandle. Checksums are verified;
   * fetched files are kept in the Cache API.
   */
  static async open<O extends Exact<WebLoadOptions, O>>(source: ArtifactSource, options?: O): Promise<Model> {
    const opts: WebLoadOptions = options ?? {};
    checkOptions('Model.open', opts, WEB_LOAD_RULES, undefined);
    const files = await artifactFiles(source, { progress: opts.progress, cache: opts.cache, rangeBytes: opts.rangeBytes });
    const artifact = loadArtifact(files);
    const src = artifactSource(artifact);
    const config = src.config;
    if (config.task !== 'decoder') throw new ConfigError(artifact.dir, `a ${config.family} ${config.task} model cannot generate text (open it with Encoder.open to embed or rerank)`);
    const tokenizer = artifactTokenizer(artifact, config);
    const graphs = [artifact.graphs.last, artifact.graphs.all];
    const params = withWeightProgress(paramResolver(src), graphs, opts.progress);
    const sizes = { contextLength: config.maxPositions, vocabSize: config.vocabSize };
    const make: ExecutorMakers<Executor> = {
      wasm: (c, threads, spinMicros) => WasmExecutor.create(c.module, c.programs as Record<LogitsWanted, WasmProgram>, params, { ...sizes, threads, spinMicros }),
      webgpu: (ctx, programs) => WebGpuExecutor.create(ctx, programs as Record<LogitsWanted, WgslProgram>, params, sizes),
    };
    const opened = await openWebBackend(artifact, opts, make).finally(() => releaseWeights(files));
    return new Model(artifact, opened.executor, opened, tokenizer);
  }

  /** The artifact's tokenizer (ConfigError when it was compiled without one). */
  get tokenizer(): Tokenizer {
    if (!this.tok) throw new ConfigError(this.artifact.dir, 'the artifact has no tokenizer: give token ids');
    return this.tok;
  }

  /** The stored step graph ('last': logits of the last position, 'all': of every position). */
  graph(role: 'last' | 'all' = 'all'): Graph {
    return this.artifact.graphs[role];
  }

  /** The final IR of a step graph as text (what `tessera dump` prints). */
  ir(role: 'last' | 'all' = 'last'): string {
    return printGraph(this.graph(role));
  }

  /** Logits [ids.length × vocab] of one forward pass from an empty cache. */
  async logits(ids: readonly number[]): Promise<Float32Array> {
    return this.guard.run('logits()', () => {
      const exec = this.guard.guardExecutor(this.exec);
      this.turns.forget();
      exec.reset();
      return exec.forward(ids, 'all');
    });
  }

  /** Streams generated tokens, as Node's Model.generate does; the return value holds the statistics. */
  generate<P extends Exact<GenerateParams, P>>(prompt: string | readonly number[], params?: P): AsyncGenerator<GeneratedToken, GenerationStats> {
    this.guard.checkIdle('generate()');
    const ids = typeof prompt === 'string' ? this.tokenizer.encode(prompt) : prompt;
    const model = this.generationModel();
    return this.guard.stream('generate()', () => {
      this.turns.forget();
      return generateTokens(model, ids, params ?? {});
    });
  }

  /**
   * The model's end-of-generation ids: the config's EOS, generation_config.json's list, the GGUF's
   * eos/eot/eom, and the well-known end-of-turn tokens of the vocabulary, as in Node.
   */
  get eogIds(): readonly number[] {
    this.eogCache ??= artifactEogIds(this.artifact, this.config, this.tok);
    return this.eogCache;
  }

  /**
   * Streams the assistant's answer to a conversation, as Node's Model.chat does: the model's chat
   * template (or `options.chatTemplate`), its end-of-generation tokens, and the KV cache kept
   * between turns (a turn that extends the last conversation prefills only its new tokens).
   */
  chat<P extends Exact<ChatOptions, P>>(messages: readonly ChatMessage[], options?: P): AsyncGenerator<GeneratedToken, GenerationStats> {
    this.guard.checkIdle('chat()');
    const { chatTemplate, ...params } = (options ?? {}) as ChatOptions;
    if (chatTemplate !== undefined && typeof chatTemplate !== 'string') throw new OptionError('chatTemplate', 'chat: chatTemplate must be the text of a Jinja template');
    const ids = this.turns.promptIds(messages, chatTemplate);
    const model = this.generationModel();
    const turns = this.turns;
    // How much of the cache to keep is decided when the stream starts, not now.
    const turn = { ...model, get cachedPrefix() { return turns.reusable(ids, model.executor.position); } };
    return this.guard.stream('chat()', () => turns.run(model.executor, ids, generateTokens(turn, ids, params)));
  }

  /** The ids chat() would run for `messages`: the rendered template, special tokens as their ids. */
  chatPromptIds(messages: readonly ChatMessage[], chatTemplate?: string): number[] {
    return this.turns.promptIds(messages, chatTemplate);
  }

  /** What the generation loop drives: the guarded executor, tokenizer, stop ids. */
  private generationModel(): GenerationModel {
    const tokenizer = this.tok;
    const eos = this.eogIds.length ? this.eogIds : tokenizer?.eosId !== undefined ? [tokenizer.eosId] : [];
    const rope = this.config.rope?.scaling;
    const executor = this.guard.guardExecutor(this.exec);
    return { executor, tokenizer, eosIds: eos, recomputeAbove: rope?.type === 'longrope' ? rope.originalMaxPositions : undefined };
  }

  /** Frees the backend (workers, memory, GPU buffers); every later use throws ModelDisposedError. */
  async dispose(): Promise<void> {
    if (await this.guard.dispose()) await this.exec.dispose();
  }
}
