// A loaded model: its source files, config, tokenizer, step graphs and an executor on one backend.
import type { Graph, Value } from '../ir/graph.js';
import { formatWeight } from '../ir/printer.js';
import { shapesEqual } from '../ir/dim.js';
import type { HostTensor } from '../ir/tensor.js';
import { evaluateWeight, weightType } from '../ir/weights.js';
import { weightBytes, writeWeight } from '../ir/weight-write.js';
import { buildDecoderGraph, type DecoderGraphOptions } from '../models/arch/decoder.js';
import { ConfigError, type ModelConfig } from '../models/config/model-config.js';
import { isArtifactDir, type LoadedArtifact, readArtifact } from '../codegen/artifact/read.js';
import type { WgslProgram } from '../codegen/wgsl/program.js';
import type { CompiledModule } from '../codegen/wasm/module.js';
import type { WasmProgram } from '../codegen/wasm/program.js';
import { openModel, type ModelSource, type OpenOptions } from '../models/open.js';
import { loadTokenizer } from '../models/tokenizers/load.js';
import type { Tokenizer } from '../models/tokenizers/tokenizer.js';
import type { Executor } from '../runtime/executor.js';
import { generateTokens, type GeneratedToken, type GenerateParams, type GenerationStats } from '../runtime/generate.js';
import { ReferenceExecutor } from '../runtime/reference/executor.js';
import { type BackendName, openExecutor } from './backends.js';
import { chooseBackend, openSource } from './open-source.js';
import { pipelineTransform } from './passes.js';
import type { ParamResolver } from '../runtime/reference/interpreter.js';

export interface LoadOptions extends OpenOptions {
  /** Where to run (Model.open only; Model.load always uses the reference interpreter). Default auto. */
  readonly backend?: BackendName;
  /** Longest prompt chunk one compiled step takes (longer prompts run in pieces). */
  readonly maxChunk?: number;
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
  /** Any other rewrite applied to every graph before it runs (after `passes`). */
  readonly transform?: (g: Graph) => Graph;
}

/** Whether a model (file, directory or compiled artifact) is a decoder, an encoder or a cross-encoder. */
export function modelTask(path: string): ModelConfig['task'] {
  if (isArtifactDir(path)) return (readArtifact(path).manifest.model.config as unknown as ModelConfig).task;
  return openModel(path).config.task;
}

/** Evaluates each distinct weight source once and keeps the result. */
export function paramResolver(source: ModelSource): ParamResolver {
  const cache = new Map<string, HostTensor>();
  const resolve: ParamResolver = (p: Value) => {
    if (p.def.kind !== 'param') throw new Error(`%${p.name} is not a parameter`);
    const key = formatWeight(p.def.source);
    let t = cache.get(key);
    if (!t) {
      t = evaluateWeight(p.def.source, (name) => source.readLeaf(name));
      cache.set(key, t);
    }
    return t;
  };
  // Weights are evaluated straight into the runtime's memory (stored tensors streamed from the
  // file, merges and norm folds built in place; ir/weight-write.ts) and not cached: no JS copy
  // of the model waits for the garbage collector while it loads.
  resolve.streamer = (p: Value) => {
    if (p.def.kind !== 'param') return undefined;
    const e = p.def.source;
    const t = weightType(e, (n) => source.leafType(n));
    if (t.dtype !== p.type.dtype || !shapesEqual(t.shape, p.type.shape)) return undefined;
    return { bytes: weightBytes(e, source), write: (dest) => writeWeight(e, dest, source) };
  };
  return resolve;
}

export class Model {
  readonly config: ModelConfig;
  private tokenizerCache?: Tokenizer;
  private exec?: Executor;
  /** Which backend runs the model, and why. */
  backendReason = 'reference: Model.load';

  /** The target the pass pipeline is resolved for (the backend's name; undefined: generic). */
  private target?: string;

  private constructor(readonly source: ModelSource, private readonly opts: LoadOptions, private readonly artifact?: LoadedArtifact) {
    this.config = source.config;
    if (this.config.task !== 'decoder') throw new ConfigError(source.path, `a ${this.config.family} ${this.config.task} model cannot generate text (use embed or rerank)`);
  }

  /** Opens a model on the reference interpreter, synchronously. */
  static load(path: string, opts: LoadOptions = {}): Model {
    const m = Model.create(path, opts);
    m.exec = new ReferenceExecutor(m.stepGraphs(), paramResolver(m.source), m.config.maxPositions, m.config.vocabSize);
    return m;
  }

  /** Opens a model on a backend: 'auto' (default) picks WebGPU when it can hold the model. */
  static async open(path: string, opts: LoadOptions = {}): Promise<Model> {
    const m = Model.create(path, opts);
    const artifact = m.artifact;
    // Decide the backend first: the pass pipeline depends on what its kernels cover.
    const backend = await chooseBackend(path, opts.backend, artifact);
    // The request is made for the backend that runs: falling back from WebGPU to the CPU needs
    // graphs from the CPU's pass pipeline.
    const choice = await openExecutor(backend, (chosen) => {
      m.target = chosen.name === 'reference' ? undefined : chosen.name;
      return {
        graphs: m.stepGraphs(),
        params: paramResolver(m.source),
        config: m.config,
        maxChunk: opts.maxChunk,
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
    return m;
  }

  /** A model directory/file, or a compiled artifact folder (which runs without the compiler). */
  private static create(path: string, opts: LoadOptions): Model {
    const { source, artifact } = openSource(path, opts);
    return new Model(source, opts, artifact);
  }

  /** True when loaded from a compiled artifact. */
  get compiled(): boolean {
    return this.artifact !== undefined;
  }

  get executor(): Executor {
    if (!this.exec) throw new Error('model has no executor');
    return this.exec;
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
    const passes = pipelineTransform(this.opts.passes, this.target);
    const optimized = passes ? passes(g) : g;
    return this.opts.transform ? this.opts.transform(optimized) : optimized;
  }

  get tokenizer(): Tokenizer {
    if (!this.tokenizerCache) {
      if (!this.source.tokenizerPath) throw new ConfigError(this.source.path, 'no tokenizer found beside the model (pass one with --tokenizer, or give token ids)');
      this.tokenizerCache = loadTokenizer(this.source.tokenizerPath, { vocabSize: this.config.vocabSize });
    }
    return this.tokenizerCache;
  }

  /** Logits [ids.length × vocab] of one forward pass from an empty cache. */
  async logits(ids: readonly number[]): Promise<Float32Array> {
    this.executor.reset();
    return this.executor.forward(ids, 'all');
  }

  /** Streams generated tokens; the iterator's return value holds the statistics. */
  generate(prompt: string | readonly number[], params: GenerateParams = {}): AsyncGenerator<GeneratedToken, GenerationStats> {
    const ids = typeof prompt === 'string' ? this.tokenizer.encode(prompt) : prompt;
    const tokenizer = this.source.tokenizerPath ? this.tokenizer : undefined;
    const eos = this.config.eosIds.length ? this.config.eosIds : tokenizer?.eosId !== undefined ? [tokenizer.eosId] : [];
    const rope = this.config.rope?.scaling;
    return generateTokens(
      { executor: this.executor, tokenizer, eosIds: eos, recomputeAbove: rope?.type === 'longrope' ? rope.originalMaxPositions : undefined },
      ids,
      params,
    );
  }

  async dispose(): Promise<void> {
    await this.executor.dispose();
  }
}
