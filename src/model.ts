// A loaded model: its source files, config, tokenizer, step graphs and an executor on one backend.
import { existsSync } from 'node:fs';
import type { Graph } from '../ir/graph.js';
import { UsageError } from '../ir/errors.js';
import { buildDecoderGraph, type DecoderGraphOptions, type PagedKvLayout } from '../models/arch/decoder.js';
import { ConfigError, type ModelConfig } from '../models/config/model-config.js';
import { isArtifactDir, type LoadedArtifact, readArtifact } from '../codegen/artifact/read.js';
import type { WgslProgram } from '../codegen/wgsl/program.js';
import type { CompiledModule } from '../codegen/wasm/module.js';
import type { WasmProgram } from '../codegen/wasm/program.js';
import { openModel, type ModelSource, type OpenOptions, tokenizerExpectations } from '../models/open.js';
import { loadTokenizer } from '../models/tokenizers/load.js';
import type { Tokenizer } from '../models/tokenizers/tokenizer.js';
import type { Executor } from '../runtime/executor.js';
import { generateTokens, type GeneratedToken, type GenerateParams, type GenerationModel, type GenerationStats } from '../runtime/generate.js';
import { checkOptions, type Exact, functionRule, numberRule, oneOfRule, OptionError, type OptionRules, stringRule } from '../runtime/options.js';
import { ReferenceExecutor } from '../runtime/reference/executor.js';
import { BACKENDS, type BackendName, openExecutor } from './backends.js';
import { UseGuard } from './lifecycle.js';
import { chooseBackend, openSource } from './open-source.js';
import type { ChatMessage } from './chat/messages.js';
import { type ChatOptions, ChatSession } from './chat/session.js';
import { endOfGenerationIds } from '../models/chat/eog.js';
import { pipelineTransform } from './passes.js';
import { checkLoras, type LoraOption, type LoraParams, type LoraRequest, loraRule, LoraScales, requestScales, withLoraPipeline } from './lora.js';
import type { ParamResolver } from '../runtime/reference/interpreter.js';
import { type ProgressCallback, withWeightProgress } from './progress.js';
import { paramResolver } from './param-resolver.js';
import { LOAD_RANGES } from './load-ranges.js';

export interface LoadOptions extends OpenOptions {
  /** Where to run (Model.open only; Model.load always uses the reference interpreter). Default auto. */
  readonly backend?: BackendName;
  /** Longest prompt chunk one compiled step takes (longer prompts run in pieces). */
  readonly maxChunk?: number;
  /**
   * Tokens the KV cache holds (prompt and generated), at most the model's own context; the cache
   * and activations are sized to it (default: the model's context).
   */
  readonly contextLength?: number;
  /** CPU threads for the wasm backend (default: every core). */
  readonly threads?: number;
  /**
   * wasm backend: how long (µs) an idle thread spins before it sleeps, at barriers and between
   * steps (default 20000, see runtime/wasm/threads.ts); 0 suits machines with more busy threads
   * than cores.
   */
  readonly spinMicros?: number;
  /** A pass pipeline run on every graph, resolved for the backend that runs it (e.g. 'default'). */
  readonly passes?: string;
  /** LoRA adapters merged into the weights (in order) before `passes`: PEFT folders or GGUF adapters. */
  readonly lora?: readonly LoraOption[];
  /** Any other rewrite applied to every graph before it runs (after `passes`). */
  readonly transform?: (g: Graph) => Graph;
  /** Called as weights load and kernels compile (Model.open), e.g. for a progress bar (src/progress.ts). */
  readonly progress?: ProgressCallback;
}

/** Valid values of the numeric load options (the CLI checks its flags against these too). */
export { LOAD_RANGES };

export const LOAD_RULES: OptionRules<LoadOptions> = {
  tokenizer: stringRule,
  backend: oneOfRule(BACKENDS),
  maxChunk: numberRule(LOAD_RANGES.maxChunk),
  contextLength: numberRule(LOAD_RANGES.contextLength),
  threads: numberRule(LOAD_RANGES.threads),
  spinMicros: numberRule(LOAD_RANGES.spinMicros),
  passes: stringRule,
  lora: loraRule,
  transform: functionRule,
  progress: functionRule,
};

/**
 * Checks load options before anything is read: an OptionError names the option and its valid
 * values; a tokenizer path must exist; unknown keys are warned about.
 */
export function checkLoadOptions<T extends LoadOptions>(what: string, opts: T, rules: OptionRules<T>): void {
  checkOptions(what, opts, rules, undefined);
  if (opts.tokenizer !== undefined && !existsSync(opts.tokenizer)) throw new OptionError('tokenizer', `${what}: tokenizer '${opts.tokenizer}' does not exist (check the path)`);
}

/** Whether a model (file, directory or compiled artifact) is a decoder, an encoder or a cross-encoder. */
export function modelTask(path: string): ModelConfig['task'] {
  if (isArtifactDir(path)) return (readArtifact(path).manifest.model.config as unknown as ModelConfig).task;
  return openModel(path).config.task;
}

// Shared with the browser entry (src/web/).
export { paramResolver };

export class Model {
  readonly config: ModelConfig;
  private tokenizerCache?: Tokenizer;
  private exec?: Executor;
  private executorReleased = false;
  /** One stream or call at a time; nothing after dispose(). */
  private readonly guard: UseGuard;
  /** Which backend runs the model, and why. */
  backendReason = 'reference: Model.load';

  /** The target the pass pipeline is resolved for (the backend's name; undefined: generic). */
  private target?: string;
  /** chat(): the template and the ids the KV cache holds between turns. */
  private readonly chatSession: ChatSession;
  private eogCache?: readonly number[];

  private constructor(
    readonly source: ModelSource,
    private readonly opts: LoadOptions,
    private readonly artifact: LoadedArtifact | undefined,
    /** Remembers the weights that passed their NaN/Inf scan while the executor loaded them. */
    private readonly recordVerified: () => void,
  ) {
    this.config = source.config;
    this.guard = new UseGuard(source.path);
    this.loraScales = new LoraScales(opts.lora);
    this.chatSession = new ChatSession(source, () => this.tokenizer);
    if (this.config.task !== 'decoder') throw new ConfigError(source.path, `a ${this.config.family} ${this.config.task} model cannot generate text (use embed or rerank)`);
  }

  /** Opens a model on the reference interpreter, synchronously. */
  static load<O extends Exact<LoadOptions, O>>(path: string, opts?: O): Model {
    const m = Model.create('Model.load', path, opts ?? {});
    m.exec = new ReferenceExecutor(m.stepGraphs(), m.weights(), m.contextLength, m.config.vocabSize);
    return m;
  }

  /** Opens a model on a backend: 'auto' (default) picks WebGPU when it can hold the model. */
  static async open<O extends Exact<LoadOptions, O>>(path: string, options?: O): Promise<Model> {
    const opts: LoadOptions = options ?? {};
    const m = Model.create('Model.open', path, opts);
    const artifact = m.artifact;
    // Decide the backend first: the pass pipeline depends on what its kernels cover.
    const backend = await chooseBackend(path, opts.backend, artifact);
    // The request is made for the backend that runs: falling back from WebGPU to the CPU needs
    // graphs from the CPU's pass pipeline.
    const choice = await openExecutor(backend, (chosen) => {
      m.target = chosen.name === 'reference' ? undefined : chosen.name;
      const graphs = m.stepGraphs();
      return {
        graphs,
        params: withWeightProgress(m.weights(), [graphs.last, graphs.all], opts.progress),
        progress: opts.progress,
        config: m.config,
        maxChunk: opts.maxChunk,
        contextLength: m.contextLength,
        threads: opts.threads,
        spinMicros: opts.spinMicros,
        ...(artifact ? {
          precompiled: {
            webgpu: (maxWg: number) => artifact.webgpuPrograms(maxWg) as Record<'last' | 'all', WgslProgram> | undefined,
            wasm: async () => (await artifact.wasmTarget()) as { module: CompiledModule; programs: Record<'last' | 'all', WasmProgram> } | undefined,
          },
        } : {}),
      };
    });
    m.exec = choice.executor;
    m.backendReason = choice.reason;
    m.recordVerified();
    return m;
  }

  /** A model directory/file, or a compiled artifact folder (which runs without the compiler). */
  private static create(what: string, path: string, opts: LoadOptions): Model {
    checkLoadOptions(what, opts, LOAD_RULES);
    const { source, artifact, recordVerified } = openSource(path, opts);
    const model = new Model(source, opts, artifact, recordVerified);
    const max = model.config.maxPositions;
    if (opts.contextLength !== undefined && opts.contextLength > max) {
      throw new OptionError('contextLength', `${what}: contextLength ${opts.contextLength} is longer than the model's context of ${max} tokens (valid: 1…${max}; --ctx on the command line)`);
    }
    if (opts.lora?.length) {
      if (artifact) throw new ConfigError(path, 'a compiled artifact already has its weights; LoRA adapters are merged when compiling (compile --lora)');
      checkLoras(opts.lora, source);
    }
    return model;
  }

  /** Scales of the run-time LoRA adapters (lora option entries with runtime: true), in their order. */
  private readonly loraScales: LoraScales;

  /** Weights as the executor reads them: the checkpoint's, and %lora.scales from loraScales. */
  private weights(): ParamResolver {
    const base = paramResolver(this.source);
    return this.loraScales.length ? this.loraScales.resolver(base) : base;
  }

  /**
   * Sets the scales of the run-time LoRA adapters (in the order the lora option gave them; 0 turns
   * one off) for the requests that do not name their own (`lora` of generate and chat): no
   * recompiling, the base weights untouched.
   */
  setLoraScales(scales: readonly number[]): void {
    this.guard.checkOpen('setLoraScales()');
    if (scales.length !== this.loraScales.length || scales.some((s) => !Number.isFinite(s))) {
      throw new OptionError('lora', `setLoraScales: expected ${this.loraScales.length} finite scale(s), one per run-time adapter, got [${scales.join(', ')}]`);
    }
    this.loraScales.setDefaults(Float32Array.from(scales));
    this.loraScales.activate();
  }

  /** The run-time LoRA adapters (lora entries with runtime: true), in the order requests number them. */
  get runtimeLoras(): readonly LoraOption[] {
    return (this.opts.lora ?? []).filter((l) => l.runtime);
  }

  /**
   * The run-time adapter scales a request runs with: its own `lora` (checked: OptionError), else the
   * defaults (setLoraScales). For generations that run elsewhere, as a BatchedModel's sequences do.
   */
  requestLoraScales(lora: readonly LoraRequest[] | undefined, where: string): Float32Array {
    return lora === undefined ? this.loraScales.defaultScales() : requestScales(this.opts.lora, lora, where);
  }

  /** Tokens the KV cache holds: the contextLength option, or the model's own context. */
  get contextLength(): number {
    return this.opts.contextLength ?? this.config.maxPositions;
  }

  /** True when loaded from a compiled artifact. */
  get compiled(): boolean {
    return this.artifact !== undefined;
  }

  /** The backend's executor, for driving steps directly (benchmarks); generate and logits guard their use of it. */
  get executor(): Executor {
    this.guard.checkOpen('executor');
    if (!this.exec) {
      if (this.executorReleased) throw new UsageError(`${this.source.path}: this model's executor was released (releaseExecutor()); generate through the BatchedModel that holds its weights`);
      throw new Error('model has no executor');
    }
    return this.exec;
  }

  /**
   * Frees this model's own executor (its copy of the weights, its KV cache, its threads) while the
   * model stays open for what needs none: tokenizer, chat prompts, configuration. For a server whose
   * requests all run through a BatchedModel, which holds its own copy: one copy of the weights, not
   * two. Open the BatchedModel first (it asks for the backend); generate, chat and logits on this
   * model afterwards throw a UsageError.
   */
  async releaseExecutor(): Promise<void> {
    this.guard.checkOpen('releaseExecutor');
    const exec = this.exec;
    this.exec = undefined;
    this.executorReleased = true;
    await exec?.dispose();
  }

  /**
   * What continuous batching runs (src/batched.ts): the paged step graph after this model's passes,
   * its weights, and the backend and threads the model was opened with.
   */
  pagedStep(layout: PagedKvLayout): { readonly graph: Graph; readonly params: ParamResolver; readonly backend: string; readonly threads?: number; readonly spinMicros?: number } {
    const backend = this.executor.backend;
    return { graph: this.graph({ logits: 'all', paged: layout }), params: this.weights(), backend, threads: this.opts.threads, spinMicros: this.opts.spinMicros };
  }

  private stepGraphs() {
    return { last: this.graph({ logits: 'last' }), all: this.graph({ logits: 'all' }) };
  }

  /** The step graph (after the configured passes). */
  graph(opts: DecoderGraphOptions = {}): Graph {
    if (this.artifact) {
      const g = this.artifact.graphs[opts.logits ?? 'all'];
      if (!g || opts.hiddenStates) throw new ConfigError(this.source.path, `the artifact holds the ${Object.keys(this.artifact.graphs).join(' and ')} graphs only`);
      return g;
    }
    const g = buildDecoderGraph(this.config, this.source.decoderWeights(), (n) => this.source.leafType(n), opts);
    const passes = pipelineTransform(withLoraPipeline(this.opts.passes, this.opts.lora), this.target);
    const optimized = passes ? passes(g) : g;
    return this.opts.transform ? this.opts.transform(optimized) : optimized;
  }

  get tokenizer(): Tokenizer {
    if (!this.tokenizerCache) {
      if (!this.source.tokenizerPath) throw new ConfigError(this.source.path, 'no tokenizer found beside the model (pass one with --tokenizer, or give token ids)');
      this.tokenizerCache = loadTokenizer(this.source.tokenizerPath, tokenizerExpectations(this.source));
    }
    return this.tokenizerCache;
  }

  /** Logits [ids.length × vocab] of one forward pass from an empty cache. */
  async logits(ids: readonly number[]): Promise<Float32Array> {
    return this.guard.run('logits()', () => {
      const exec = this.guard.guardExecutor(this.executor);
      this.chatSession.forget();
      this.loraScales.activate();
      exec.reset();
      return exec.forward(ids, 'all');
    });
  }

  /**
   * Streams generated tokens; the iterator's return value holds the statistics. Options and
   * prompt are checked now (OptionError, InputError), before any work. The stream holds the model
   * from its first next() until it ends or is return()ed (a for-await loop left by break does so):
   * a second stream or call meanwhile throws ModelBusyError.
   */
  generate<P extends Exact<GenerateParams & LoraParams, P>>(prompt: string | readonly number[], params?: P): AsyncGenerator<GeneratedToken, GenerationStats> {
    this.guard.checkIdle('generate()');
    const { lora, ...rest } = (params ?? {}) as GenerateParams & LoraParams;
    const scales = lora === undefined ? undefined : requestScales(this.opts.lora, lora, 'generate');
    const ids = typeof prompt === 'string' ? this.tokenizer.encode(prompt) : prompt;
    const model = this.generationModel();
    return this.guard.stream('generate()', () => {
      this.chatSession.forget();
      this.loraScales.activate(scales);
      return generateTokens(model, ids, rest);
    });
  }

  /**
   * The model's end-of-generation ids: the config's EOS, generation_config.json's list, the GGUF's
   * eos/eot/eom, and the well-known end-of-turn tokens of the vocabulary (models/chat/eog.ts).
   */
  get eogIds(): readonly number[] {
    this.eogCache ??= endOfGenerationIds(this.source, this.source.tokenizerPath ? this.tokenizer : undefined);
    return this.eogCache;
  }

  /**
   * Streams the assistant's answer to a conversation, rendered with the model's chat template
   * (or `options.chatTemplate`, a template's text), stopping at the model's end-of-generation
   * tokens. The KV cache is kept between turns: when the new conversation starts with the ids
   * the cache holds (the last turn's prompt and answer), only the rest is prefilled. The same
   * stream, statistics and one-at-a-time rule as generate().
   */
  chat<P extends Exact<ChatOptions & LoraParams, P>>(messages: readonly ChatMessage[], options?: P): AsyncGenerator<GeneratedToken, GenerationStats> {
    this.guard.checkIdle('chat()');
    const { chatTemplate, lora, ...params } = (options ?? {}) as ChatOptions & LoraParams;
    const scales = lora === undefined ? undefined : requestScales(this.opts.lora, lora, 'chat');
    if (chatTemplate !== undefined && typeof chatTemplate !== 'string') throw new OptionError('chatTemplate', 'chat: chatTemplate must be the text of a Jinja template');
    const ids = this.chatSession.promptIds(messages, chatTemplate);
    const model = this.generationModel();
    const session = this.chatSession;
    // How much of the cache to keep is decided when the stream starts, not now.
    const turn = { ...model, get cachedPrefix() { return session.reusable(ids, model.executor.position); } };
    return this.guard.stream('chat()', () => {
      // The cache was filled with other adapters: nothing of it can be reused.
      if (this.loraScales.activate(scales)) session.forget();
      return session.run(model.executor, ids, generateTokens(turn, ids, params));
    });
  }

  /** The ids chat() would run for `messages`: the rendered template, special tokens as their ids. */
  chatPromptIds(messages: readonly ChatMessage[], chatTemplate?: string): number[] {
    return this.chatSession.promptIds(messages, chatTemplate);
  }

  /** What the generation loop drives: the guarded executor, tokenizer, stop ids. */
  private generationModel(): GenerationModel {
    const tokenizer = this.source.tokenizerPath ? this.tokenizer : undefined;
    const eos = this.eogIds.length ? this.eogIds : tokenizer?.eosId !== undefined ? [tokenizer.eosId] : [];
    const rope = this.config.rope?.scaling;
    const executor = this.guard.guardExecutor(this.executor);
    return { executor, tokenizer, eosIds: eos, recomputeAbove: rope?.type === 'longrope' ? rope.originalMaxPositions : undefined };
  }

  /**
   * Frees the backend (threads, memory, device buffers) once a step in flight has finished. Every
   * later use throws ModelDisposedError, on every backend; disposing again does nothing.
   */
  async dispose(): Promise<void> {
    const exec = this.exec;
    if (await this.guard.dispose()) await exec?.dispose();
  }
}
