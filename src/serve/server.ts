// An OpenAI-compatible HTTP server on Node's http module: chat and text completions (streamed as
// server-sent events exactly as OpenAI streams them), embeddings for encoder models, the model
// list, the run-time LoRA adapters (/lora-adapters, as llama.cpp's server lists and sets them),
// /health for probes and /metrics for Prometheus. Requests run on a fixed set of slots
// behind a bounded queue (src/serve/slots.ts): the sequences of one batched model (src/batched.ts:
// every running request goes through one step per token, its KV cache in blocks of a shared pool),
// or loaded copies of a model, one request each; a client that goes away cancels its generation;
// shutdown() stops taking requests, lets the running ones finish (or cancels them after a grace
// period) and frees the models.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InputError, UsageError } from '../../ir/errors.js';
import { ChatTemplateError } from '../../models/chat/template-source.js';
import { ContextFullError } from '../../runtime/executor.js';
import { KvCacheFullError } from '../../runtime/paged/block-allocator.js';
import type { GeneratedToken, GenerationStats } from '../../runtime/generate.js';
import { OptionError } from '../../runtime/options.js';
import type { BatchedModel, BatchedSequence } from '../batched.js';
import type { Encoder } from '../encoder.js';
import type { Model } from '../model.js';
import { badRequest, HttpError, sendError, sendJson } from './http-error.js';
import { Metrics } from './metrics.js';
import { asBody, chatRequest, type ChatRequest, completionRequest, type CompletionRequest, embeddingRequest } from './requests.js';
import { type Endpoint, ResponseIds } from './responses.js';
import { ServerLoras } from './lora-adapters.js';
import { SlotPool } from './slots.js';

export interface ServeOptions {
  /** The name clients pass as `model` (GET /v1/models lists it). */
  readonly modelId: string;
  /** A decoder: one loaded copy per slot (unless `batched` is given). */
  readonly models?: readonly Model[];
  /** Continuous batching: `batched.sequences` slots, all on this one model (models[0]'s weights). */
  readonly batched?: BatchedModel;
  /** Or an encoder, for /v1/embeddings. */
  readonly encoder?: Encoder;
  /** A chat template's text, used instead of the model's own. */
  readonly chatTemplate?: string;
  /** Required as `Authorization: Bearer KEY` on /v1/* when set. */
  readonly apiKey?: string;
  /** Requests that may wait for a slot before more are refused with 429 (default 64). */
  readonly maxQueue?: number;
  /** Largest request body (default 1 MiB); more is refused with 413. */
  readonly maxBodyBytes?: number;
  /** Told about requests that failed inside the server (bugs), e.g. console.error. */
  readonly log?: (message: string) => void;
}

/** What runs one request: a loaded model, a sequence of a batched model, or an encoder. */
type Slot =
  | { readonly kind: 'decoder'; readonly model: Model }
  | { readonly kind: 'sequence'; readonly model: Model; readonly seq: BatchedSequence }
  | { readonly kind: 'encoder'; readonly encoder: Encoder };

const STATUS_CLIENT_CLOSED = 499;

export class TesseraServer {
  readonly http: Server;
  readonly metrics = new Metrics();
  private readonly pool: SlotPool<Slot>;
  /** The model's run-time LoRA adapters and the scales requests naming none run with. */
  private readonly loras: ServerLoras;
  private readonly running = new Set<AbortController>();
  private draining = false;

  constructor(private readonly opts: ServeOptions) {
    const batched = opts.batched;
    const slots: Slot[] = batched
      ? Array.from({ length: batched.sequences }, () => ({ kind: 'sequence', model: batched.model, seq: batched.sequence() }))
      : opts.models?.length ? opts.models.map((model) => ({ kind: 'decoder', model })) : opts.encoder ? [{ kind: 'encoder', encoder: opts.encoder }] : [];
    if (slots.length === 0) throw new UsageError('serve: give a decoder (models) or an encoder');
    this.pool = new SlotPool(slots, opts.maxQueue ?? 64);
    // The defaults start as the model's (the lora load option, setLoraScales); POST /lora-adapters
    // changes the server's, which every request naming no adapters then spells out.
    const decoder = batched?.model ?? opts.models?.[0];
    this.loras = decoder ? new ServerLoras(decoder.runtimeLoras, decoder.requestLoraScales(undefined, 'serve')) : new ServerLoras([], []);
    this.http = createServer((req, res) => void this.handle(req, res));
  }

  /** Listens on `port` (0 = any free one) at `host`; resolves with the address. */
  listen(port: number, host = '127.0.0.1'): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => {
        this.http.off('error', reject);
        resolve(this.http.address() as AddressInfo);
      });
    });
  }

  /**
   * Stops taking requests (waiting ones get 503, /health turns 503), waits up to `graceMs` for
   * the running ones to finish, cancels what is left, closes every connection and frees the models.
   */
  async shutdown(graceMs = 30_000): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    this.pool.close();
    const closed = new Promise<void>((done) => this.http.close(() => done()));
    this.http.closeIdleConnections();
    const deadline = Date.now() + graceMs;
    while (this.running.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const c of this.running) c.abort();
    while (this.running.size > 0) await new Promise((r) => setTimeout(r, 10));
    this.http.closeAllConnections();
    await closed;
    await this.opts.batched?.dispose();
    for (const m of this.opts.models ?? []) await m.dispose();
    await this.opts.encoder?.dispose();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const endpoint = ENDPOINT_NAMES[path] ?? 'other';
    try {
      await this.route(req, res, path);
    } catch (e) {
      const err = this.httpError(e);
      if (err.status !== STATUS_CLIENT_CLOSED) sendError(res, err);
      this.metrics.request(endpoint, err.status);
      return;
    }
    this.metrics.request(endpoint, res.statusCode);
  }

  private async route(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const method = req.method ?? 'GET';
    if (method === 'GET' && path === '/health') {
      sendJson(res, this.draining ? 503 : 200, { status: this.draining ? 'draining' : 'ok' });
      return;
    }
    if (method === 'GET' && path === '/metrics') {
      const text = this.metrics.render(this.gauges());
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': Buffer.byteLength(text) });
      res.end(text);
      return;
    }
    const known = Object.hasOwn(ROUTES, path) ? ROUTES[path] : undefined;
    if (!known?.includes(method)) throw new HttpError(404, `Unknown request URL: ${method} ${path}. Routes: GET /v1/models, POST /v1/chat/completions, POST /v1/completions, POST /v1/embeddings, GET and POST /lora-adapters, GET /health, GET /metrics`, 'invalid_request_error', 'unknown_url');
    this.authorize(req);
    if (this.draining) throw new HttpError(503, 'the server is shutting down; retry on another replica', 'server_error', 'shutting_down');
    if (path === '/lora-adapters') {
      if (method === 'POST') this.loras.setDefaults(await this.readJson(req));
      sendJson(res, 200, this.loras.list());
      return;
    }
    if (path === '/v1/models') {
      sendJson(res, 200, { object: 'list', data: [{ id: this.opts.modelId, object: 'model', created: 0, owned_by: 'tessera' }] });
      return;
    }
    const body = asBody(await this.readJson(req));
    if (path === '/v1/embeddings') return this.embeddings(res, body);
    const chat = path === '/v1/chat/completions';
    const parsed = chat ? chatRequest(body) : completionRequest(body);
    this.checkModel(parsed.model);
    try {
      await this.generate(res, chat ? 'chat' : 'completion', parsed);
    } catch (e) {
      // A prompt too long for the context is the fault of the field that holds it.
      if (e instanceof ContextFullError) throw badRequest(e.message, chat ? 'messages' : 'prompt', 'context_length_exceeded');
      throw e;
    }
  }

  private authorize(req: IncomingMessage): void {
    const key = this.opts.apiKey;
    if (key === undefined) return;
    const given = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (given !== key) {
      throw new HttpError(401, given === undefined ? 'no API key: send the header Authorization: Bearer KEY' : 'incorrect API key', 'authentication_error', 'invalid_api_key');
    }
  }

  private checkModel(model: string): void {
    if (model !== this.opts.modelId) throw new HttpError(404, `The model '${model}' does not exist: this server serves '${this.opts.modelId}' (GET /v1/models)`, 'not_found_error', 'model_not_found', 'model');
  }

  private async generate(res: ServerResponse, endpoint: Endpoint, request: ChatRequest | CompletionRequest): Promise<void> {
    const arrived = performance.now();
    const cancel = new AbortController();
    // The response closing before it was ended means the client went away.
    const onClose = () => { if (!res.writableEnded) cancel.abort(); };
    res.on('close', onClose);
    const slot = await this.pool.acquire(cancel.signal);
    this.running.add(cancel);
    try {
      if (slot.kind === 'encoder') throw badRequest(`'${this.opts.modelId}' is an encoder model: it serves /v1/embeddings only`, 'model', 'model_not_supported');
      const model = slot.model;
      // A batched sequence gives its KV blocks back when the stream ends, cancelled or not.
      const runner = slot.kind === 'sequence' ? slot.seq : model;
      const lora = request.lora ?? this.loras.requestDefaults();
      const params = { ...request.params, ...(lora ? { lora } : {}), signal: cancel.signal };
      const stream = endpoint === 'chat'
        ? runner.chat((request as ChatRequest).messages, { ...params, ...(this.opts.chatTemplate !== undefined ? { chatTemplate: this.opts.chatTemplate } : {}) })
        : runner.generate((request as CompletionRequest).prompt, params);
      const ids = new ResponseIds(endpoint, this.opts.modelId);
      const echo = endpoint === 'completion' && (request as CompletionRequest).echo ? echoText(model, (request as CompletionRequest).prompt) : '';
      const stats = request.stream
        ? await this.streamAnswer(res, stream, ids, request.includeUsage, echo, arrived)
        : await this.wholeAnswer(res, stream, ids, echo, arrived);
      this.metrics.generation(stats);
      if (stats.stopReason === 'aborted') {
        this.metrics.cancelled++;
        throw new HttpError(STATUS_CLIENT_CLOSED, 'the client closed the request', 'invalid_request_error', 'client_closed');
      }
    } finally {
      this.running.delete(cancel);
      res.off('close', onClose);
      this.pool.release(slot);
    }
  }

  private async wholeAnswer(res: ServerResponse, stream: AsyncGenerator<GeneratedToken, GenerationStats>, ids: ResponseIds, echo: string, arrived: number): Promise<GenerationStats> {
    let text = echo;
    const stats = await consume(stream, (t) => { text += t.text; }, () => this.metrics.firstToken((performance.now() - arrived) / 1000));
    if (stats.stopReason !== 'aborted') sendJson(res, 200, ids.whole(text, stats));
    return stats;
  }

  private async streamAnswer(res: ServerResponse, stream: AsyncGenerator<GeneratedToken, GenerationStats>, ids: ResponseIds, includeUsage: boolean, echo: string, arrived: number): Promise<GenerationStats> {
    // The first step runs before any byte is sent, so a bad prompt is still an error status.
    const first = await stream.next();
    // Gone during the prefill: nothing more is written; the aborted stream ends at its next step.
    if (res.destroyed) return first.done ? first.value : consume(stream, () => undefined);
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    const send = (obj: unknown) => { if (!res.destroyed) res.write(`data: ${JSON.stringify(obj)}\n\n`); };
    // A chat stream opens with the role; a completion stream with the echoed prompt, if asked.
    if (ids.endpoint === 'chat' || echo) send(ids.chunk(echo, true));
    let stats: GenerationStats;
    if (first.done) {
      stats = first.value;
    } else {
      this.metrics.firstToken((performance.now() - arrived) / 1000);
      if (first.value.text) send(ids.chunk(first.value.text));
      stats = await consume(stream, (t) => { if (t.text) send(ids.chunk(t.text)); });
    }
    if (stats.stopReason !== 'aborted') {
      send(ids.finish(stats));
      if (includeUsage) send(ids.usageChunk(stats));
      if (!res.destroyed) res.end('data: [DONE]\n\n');
    }
    return stats;
  }

  private async embeddings(res: ServerResponse, body: Record<string, unknown>): Promise<void> {
    const request = embeddingRequest(body);
    this.checkModel(request.model);
    const slot = await this.pool.acquire();
    try {
      if (slot.kind !== 'encoder') throw badRequest(`'${this.opts.modelId}' is a decoder: embeddings need an encoder model (serve one with tessera serve -m ENCODER)`, 'model', 'model_not_supported');
      const enc = slot.encoder;
      const vectors = await enc.embed(request.input);
      const tokens = request.input.reduce((n: number, row: string | readonly number[]) => n + (typeof row === 'string' ? enc.tokenizer.encode(row).length : row.length), 0);
      const data = vectors.map((v, index) => ({
        object: 'embedding',
        index,
        embedding: request.base64 ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') : Array.from(v),
      }));
      sendJson(res, 200, { object: 'list', data, model: this.opts.modelId, usage: { prompt_tokens: tokens, total_tokens: tokens } });
    } finally {
      this.pool.release(slot);
    }
  }

  private readJson(req: IncomingMessage): Promise<unknown> {
    const limit = this.opts.maxBodyBytes ?? 1 << 20;
    const tooLarge = () => new HttpError(413, `the request body is larger than ${limit} bytes`, 'invalid_request_error', 'request_too_large');
    if (Number(req.headers['content-length'] ?? 0) > limit) {
      req.resume();
      return Promise.reject(tooLarge());
    }
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > limit) {
          req.pause();
          reject(tooLarge());
          return;
        }
        chunks.push(c);
      });
      req.on('end', () => {
        if (size > limit) return;
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch (e) {
          reject(badRequest(`the request body is not valid JSON: ${(e as Error).message}`));
        }
      });
      req.on('error', reject);
    });
  }

  private httpError(e: unknown): HttpError {
    if (e instanceof HttpError) return e;
    if (e instanceof OptionError) return badRequest(e.message, PARAM_NAMES[e.option] ?? e.option);
    if (e instanceof ContextFullError) return badRequest(e.message, 'messages', 'context_length_exceeded');
    // The shared KV pool could not hold this request beside the running ones: retry later or elsewhere.
    if (e instanceof KvCacheFullError) return new HttpError(503, e.message, 'server_error', 'kv_cache_full');
    if (e instanceof ChatTemplateError) return badRequest(`${e.message} (or use /v1/completions)`, 'messages', 'chat_template');
    if (e instanceof InputError || e instanceof UsageError) return badRequest(e.message);
    this.opts.log?.(`internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return new HttpError(500, `internal error: ${e instanceof Error ? e.message : String(e)}`, 'server_error', 'internal_error');
  }

  private gauges() {
    const decoders = this.opts.batched ? [] : this.opts.models ?? [];
    const stats = this.opts.batched?.stats;
    return {
      ...(stats ? { kvPages: { inUse: stats.blocksInUse, total: stats.blocksTotal, blockSize: this.opts.batched!.blockSize }, batchSteps: stats.steps, batchRows: stats.rows } : {}),
      queued: this.pool.queued,
      busy: this.pool.busy,
      slots: this.pool.slots.length,
      maxQueue: this.pool.maxQueue,
      kvTokens: decoders.map((m) => { try { return m.executor.position; } catch { return 0; } }),
      contextLength: (this.opts.batched?.model ?? decoders[0])?.contextLength ?? 0,
      draining: this.draining,
    };
  }
}

/** Reads a stream to its end, letting the event loop run between tokens (other connections, disconnects). */
async function consume(stream: AsyncGenerator<GeneratedToken, GenerationStats>, onToken: (t: GeneratedToken) => void, onFirst?: () => void): Promise<GenerationStats> {
  for (let first = true; ; first = false) {
    const r = await stream.next();
    if (r.done) return r.value;
    if (first) onFirst?.();
    onToken(r.value);
    await new Promise<void>((done) => setImmediate(done));
  }
}

function echoText(model: Model, prompt: string | readonly number[]): string {
  return typeof prompt === 'string' ? prompt : model.tokenizer.decode(prompt);
}

/** Which methods each route takes. */
const ROUTES: Readonly<Record<string, readonly string[]>> = {
  '/v1/models': ['GET'],
  '/v1/chat/completions': ['POST'],
  '/v1/completions': ['POST'],
  '/v1/embeddings': ['POST'],
  '/lora-adapters': ['GET', 'POST'],
};

/** The endpoint label in tessera_requests_total. */
const ENDPOINT_NAMES: Readonly<Record<string, string>> = {
  '/v1/models': 'models',
  '/v1/chat/completions': 'chat_completions',
  '/v1/completions': 'completions',
  '/v1/embeddings': 'embeddings',
  '/lora-adapters': 'lora_adapters',
  '/health': 'health',
  '/metrics': 'metrics',
};

/** Our option names → the request fields they came from, for `param` in errors. */
const PARAM_NAMES: Readonly<Record<string, string>> = {
  maxTokens: 'max_tokens',
  temperature: 'temperature',
  topP: 'top_p',
  seed: 'seed',
  stop: 'stop',
  frequencyPenalty: 'frequency_penalty',
  presencePenalty: 'presence_penalty',
  logitBias: 'logit_bias',
};
