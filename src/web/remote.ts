// A Model or Encoder whose engine runs in a dedicated worker (worker-host.ts), so the page's main
// thread never runs a kernel: wasm threads sleep at barriers as they do in Node (a page's main
// thread may not block, and spins), and a long prefill does not freeze the page. The same methods
// and types as Model and Encoder; what the page can answer alone (the tokenizer, chat's prompt
// ids, the IR) it answers from the tokenizer's files the worker sends once opened.
import type { Tokenizer } from '../../models/tokenizers/tokenizer.js';
import type { ModelConfig } from '../../models/config/model-config.js';
import type { HostTensor } from '../../ir/tensor.js';
import type { Executor } from '../../runtime/executor.js';
import { checkGenerate, type GeneratedToken, type GenerateParams, type GenerationModel, type GenerationStats } from '../../runtime/generate.js';
import { checkOptions, type Exact, OptionError } from '../../runtime/options.js';
import type { ChatMessage } from '../chat/messages.js';
import { type ChatOptions, ChatTurns } from '../chat/turns.js';
import { EMBED_RULES, type EmbedOptions, type EncoderRow, type RerankResult } from '../encoder-calls.js';
import { ModelDisposedError, UseGuard } from '../lifecycle.js';
import { ConfigError } from '../../models/config/model-config.js';
import { EncoderInputError } from '../encoder-calls.js';
import type { WebEncoderOptions } from './encoder.js';
import type { WebLoadOptions } from './model.js';
import type { ArtifactSource } from './sources.js';
import { artifactChatFiles, artifactTokenizer, type TokenizerArtifact } from './tokenizer.js';
import { type FromWorker, type OpenedInfo, type RemoteKind, restoreError, type ToWorker } from './worker-protocol.js';

/** Where the engine worker's script is: the bundle of `tessera/web/worker` (src/web/worker-entry.ts). */
export type WorkerScript = string | URL;

/** One worker holding one opened Model or Encoder, and the calls and streams in flight to it. */
class Engine {
  private nextId = 1;
  private readonly calls = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private readonly streams = new Map<number, (m: FromWorker) => void>();
  private ended?: Error;

  private constructor(private readonly worker: Worker) {
    worker.addEventListener('message', (e: MessageEvent<FromWorker>) => this.receive(e.data));
  }

  /** Starts the worker and opens the artifact in it; resolves with what the page keeps. */
  static async open(script: WorkerScript, kind: RemoteKind, source: ArtifactSource, options: WebLoadOptions): Promise<{ engine: Engine; info: OpenedInfo }> {
    const worker = new Worker(script, { type: 'module', name: `tessera-${kind}` });
    const { progress, ...rest } = options;
    // A relative URL means the page's, not the worker script's.
    const where = typeof source === 'string' || source instanceof URL ? new URL(String(source), globalThis.location?.href).href : source;
    const info = await new Promise<OpenedInfo>((resolve, reject) => {
      const onMessage = (e: MessageEvent<FromWorker>) => {
        const m = e.data;
        if (m.op === 'progress') progress?.(m.event as never);
        else if (m.op === 'opened' || (m.op === 'error' && m.id === undefined)) {
          worker.removeEventListener('message', onMessage);
          if (m.op === 'opened') resolve(m.info);
          else reject(restoreError(m.error));
        }
      };
      worker.addEventListener('message', onMessage);
      worker.addEventListener('error', (e) => reject(new Error(`the engine worker ${String(script)} failed to start: ${e.message}`)), { once: true });
      const msg: ToWorker = { op: 'open', kind, source: where, options: rest };
      worker.postMessage(msg);
    }).catch((e: unknown) => {
      worker.terminate();
      throw e;
    });
    return { engine: new Engine(worker), info };
  }

  call<T>(method: string, args: unknown[]): Promise<T> {
    if (this.ended) return Promise.reject(this.ended);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.calls.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.post({ op: 'call', id, method, args });
    });
  }

  /** A generate or chat stream: tokens pushed by the worker, queued until read. */
  async *stream(method: 'generate' | 'chat', input: unknown, params: GenerateParams): AsyncGenerator<GeneratedToken, GenerationStats> {
    if (this.ended) throw this.ended;
    const id = this.nextId++;
    const queue: FromWorker[] = [];
    let wake: (() => void) | undefined;
    this.streams.set(id, (m) => {
      queue.push(m);
      wake?.();
    });
    const { signal, ...rest } = params;
    const onAbort = () => this.post({ op: 'stop', id, abort: true });
    signal?.addEventListener('abort', onAbort);
    let finished = false;
    try {
      this.post({ op: 'stream', id, method, args: [input, rest] });
      if (signal?.aborted) onAbort();
      for (;;) {
        while (!queue.length) await new Promise<void>((r) => (wake = r));
        const m = queue.shift()!;
        if (m.op === 'token') yield m.value as GeneratedToken;
        else if (m.op === 'done') {
          finished = true;
          return m.value as GenerationStats;
        } else if (m.op === 'error') {
          finished = true;
          throw restoreError(m.error);
        }
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.streams.delete(id);
      // Left early (break or return()): the worker stops the stream, as a local one would be.
      if (!finished) this.post({ op: 'stop', id, abort: false });
    }
  }

  async dispose(): Promise<void> {
    if (this.ended) return;
    await this.call('dispose', []);
    this.ended = new ModelDisposedError('the model was disposed');
    this.worker.terminate();
  }

  private post(m: ToWorker): void {
    this.worker.postMessage(m);
  }

  private receive(m: FromWorker): void {
    if (m.op === 'result' || (m.op === 'error' && m.id !== undefined && this.calls.has(m.id))) {
      const c = this.calls.get(m.id!);
      this.calls.delete(m.id!);
      if (m.op === 'result') c?.resolve(m.value);
      else c?.reject(restoreError(m.error));
      return;
    }
    if ((m.op === 'token' || m.op === 'done' || m.op === 'error') && m.id !== undefined) this.streams.get(m.id)?.(m);
  }
}

/** The tokenizer files the worker sent, as the tokenizer readers take an artifact. */
function tokenizerArtifact(info: OpenedInfo): TokenizerArtifact {
  return {
    dir: info.dir,
    manifest: { tokenizer: info.tokenizer },
    files: { bytes: (f) => { const b = info.tokenizerFiles[f]; if (!b) throw new Error(`${f} was not sent by the engine worker`); return b; } },
  };
}

/** A decoder in a worker: Model's methods, the engine off the page's thread. */
export class WorkerModel {
  readonly backend: 'wasm' | 'webgpu';
  /** Which backend runs the model, and why. */
  readonly backendReason: string;
  readonly config: ModelConfig;
  private readonly tok?: Tokenizer;
  private readonly turns: ChatTurns;
  /** The same one-stream-at-a-time and after-dispose rules as Model, checked here when called. */
  private readonly guard: UseGuard;

  private constructor(private readonly engine: Engine, private readonly info: OpenedInfo) {
    this.backend = info.backend;
    this.backendReason = info.backendReason;
    this.config = info.config;
    this.guard = new UseGuard(info.dir);
    const a = tokenizerArtifact(info);
    this.tok = artifactTokenizer(a, info.config);
    this.turns = new ChatTurns(info.dir, () => artifactChatFiles(a), () => this.tokenizer);
  }

  /** Opens the artifact in a new worker running `script` (see Model.open for sources and options). */
  static async open<O extends Exact<WebLoadOptions, O>>(script: WorkerScript, source: ArtifactSource, options?: O): Promise<WorkerModel> {
    const { engine, info } = await Engine.open(script, 'model', source, options ?? {});
    return new WorkerModel(engine, info);
  }

  get tokenizer(): Tokenizer {
    if (!this.tok) throw new ConfigError(this.info.dir, 'the artifact has no tokenizer: give token ids');
    return this.tok;
  }

  /** The final IR of a stored step graph as text. */
  ir(role: 'last' | 'all' = 'last'): string {
    return this.info.ir[role];
  }

  logits(ids: readonly number[]): Promise<Float32Array> {
    return this.guard.run('logits()', () => this.engine.call('logits', [ids]));
  }

  /** As Model.generate: options and prompt are checked now, the prompt encoded here; the worker generates. */
  generate<P extends Exact<GenerateParams, P>>(prompt: string | readonly number[], params?: P): AsyncGenerator<GeneratedToken, GenerationStats> {
    this.guard.checkIdle('generate()');
    const ids = typeof prompt === 'string' ? this.tokenizer.encode(prompt) : prompt;
    checkGenerate(this.checkModel(), ids, params ?? {});
    return this.guard.stream('generate()', () => this.engine.stream('generate', ids, params ?? {}));
  }

  /** As Model.chat: messages, template and options are checked now; the worker keeps the turns' cache. */
  chat<P extends Exact<ChatOptions, P>>(messages: readonly ChatMessage[], options?: P): AsyncGenerator<GeneratedToken, GenerationStats> {
    this.guard.checkIdle('chat()');
    const { chatTemplate, ...params } = (options ?? {}) as ChatOptions;
    if (chatTemplate !== undefined && typeof chatTemplate !== 'string') throw new OptionError('chatTemplate', 'chat: chatTemplate must be the text of a Jinja template');
    checkGenerate(this.checkModel(), this.turns.promptIds(messages, chatTemplate), params);
    return this.guard.stream('chat()', () => this.engine.stream('chat', messages, options ?? {}));
  }

  /** What checkGenerate reads of a model: its sizes and tokenizer. */
  private checkModel(): GenerationModel {
    const executor = { vocabSize: this.config.vocabSize, contextLength: this.config.maxPositions } as Executor;
    return { executor, tokenizer: this.tok, eosIds: [] };
  }

  /** The ids chat() would run for `messages` (worked out here, as the worker does). */
  chatPromptIds(messages: readonly ChatMessage[], chatTemplate?: string): number[] {
    return this.turns.promptIds(messages, chatTemplate);
  }

  /** Frees the backend and ends the worker; every later use throws ModelDisposedError. */
  async dispose(): Promise<void> {
    if (await this.guard.dispose()) await this.engine.dispose();
  }
}

/** An encoder in a worker: Encoder's methods, the engine off the page's thread. */
export class WorkerEncoder {
  readonly backend: 'wasm' | 'webgpu';
  readonly backendReason: string;
  readonly config: ModelConfig;
  private readonly tok?: Tokenizer;
  private readonly guard: UseGuard;

  private constructor(private readonly engine: Engine, private readonly info: OpenedInfo) {
    this.backend = info.backend;
    this.backendReason = info.backendReason;
    this.config = info.config;
    this.guard = new UseGuard(info.dir);
    this.tok = artifactTokenizer(tokenizerArtifact(info), info.config);
  }

  static async open<O extends Exact<WebEncoderOptions, O>>(script: WorkerScript, source: ArtifactSource, options?: O): Promise<WorkerEncoder> {
    const { engine, info } = await Engine.open(script, 'encoder', source, options ?? {});
    return new WorkerEncoder(engine, info);
  }

  get tokenizer(): Tokenizer {
    if (!this.tok) throw new EncoderInputError(`${this.info.dir}: the artifact has no tokenizer, so text cannot be encoded; pass token ids instead`);
    return this.tok;
  }

  get hasClassifier(): boolean {
    return (this.info.outputs ?? []).includes('scores');
  }

  get outputs(): string[] {
    return [...(this.info.outputs ?? [])];
  }

  ir(): string {
    return this.info.ir.batch;
  }

  run(rows: readonly EncoderRow[], outputs?: readonly string[]): Promise<Record<string, HostTensor>> {
    return this.guard.run('run()', () => this.engine.call('run', [rows, outputs]));
  }

  embed<O extends Exact<EmbedOptions, O>>(inputs: readonly string[] | readonly (readonly number[])[], opts?: O): Promise<Float32Array[]> {
    checkOptions('embed', opts, EMBED_RULES, undefined);
    return this.guard.run('embed()', () => this.engine.call('embed', [inputs, opts]));
  }

  scorePairs(ids: readonly (readonly number[])[], tokenTypes: readonly (readonly number[])[]): Promise<number[]> {
    return this.guard.run('scorePairs()', () => this.engine.call('scorePairs', [ids, tokenTypes]));
  }

  rerank(query: string, documents: readonly string[]): Promise<RerankResult> {
    return this.guard.run('rerank()', () => this.engine.call('rerank', [query, documents]));
  }

  async dispose(): Promise<void> {
    if (await this.guard.dispose()) await this.engine.dispose();
  }
}
