// The engine's side of a dedicated worker: it opens one Model or Encoder (in this thread, which
// may block, so wasm threads sleep at barriers as in Node instead of spinning the page) and
// answers the page's calls and streams (remote.ts). Tokens are pushed as they come; the page
// stops a stream with 'stop'.
import { printGraph } from '../../ir/printer.js';
import type { GeneratedToken, GenerationStats } from '../../runtime/generate.js';
import { Encoder } from './encoder.js';
import { Model } from './model.js';
import { carryError, type FromWorker, type OpenedInfo, type ToWorker } from './worker-protocol.js';

interface Scope {
  postMessage(m: FromWorker, transfer?: Transferable[]): void;
  addEventListener(type: 'message', f: (e: MessageEvent<ToWorker>) => void): void;
}

type Opened = { readonly kind: 'model'; readonly m: Model } | { readonly kind: 'encoder'; readonly m: Encoder };

/** Methods the page may call, by kind (anything else is refused: the worker runs no other code). */
const CALLS = {
  model: ['logits', 'dispose'],
  encoder: ['embed', 'scorePairs', 'rerank', 'run', 'dispose'],
} as const;

/** Serves the page that started this worker. */
export function serveEngine(scope: Scope = globalThis as unknown as Scope): void {
  let opened: Opened | undefined;
  const streams = new Map<number, { it: AsyncGenerator<GeneratedToken, GenerationStats>; abort: AbortController }>();
  const post = (m: FromWorker) => scope.postMessage(m);
  const fail = (id: number | undefined, e: unknown) => post({ op: 'error', id, error: carryError(e) });

  scope.addEventListener('message', (e) => {
    const msg = e.data;
    switch (msg.op) {
      case 'open':
        void open(msg.kind, msg.source, msg.options).then((o) => {
          opened = o;
          post({ op: 'opened', info: info(o) });
        }, (err: unknown) => fail(undefined, err));
        return;
      case 'call': {
        const o = opened;
        if (!o || !(CALLS[o.kind] as readonly string[]).includes(msg.method)) return fail(msg.id, new TypeError(`the engine worker has no method ${msg.method}`));
        void (async () => (o.m as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[msg.method](...msg.args))().then(
          (value) => post({ op: 'result', id: msg.id, value }),
          (err: unknown) => fail(msg.id, err),
        );
        return;
      }
      case 'stream': {
        const o = opened;
        if (o?.kind !== 'model') return fail(msg.id, new TypeError('the engine worker holds no Model to stream from'));
        const abort = new AbortController();
        const [input, params] = msg.args as [never, Record<string, unknown> | undefined];
        try {
          const withSignal = { ...params, signal: abort.signal } as never;
          const it = msg.method === 'chat' ? o.m.chat(input, withSignal) : o.m.generate(input, withSignal);
          streams.set(msg.id, { it, abort });
          void pump(msg.id, it);
        } catch (err) {
          fail(msg.id, err);
        }
        return;
      }
      case 'stop': {
        const s = streams.get(msg.id);
        if (!s) return;
        if (msg.abort) s.abort.abort();
        else void s.it.return(undefined as never);
        return;
      }
    }
  });

  async function pump(id: number, it: AsyncGenerator<GeneratedToken, GenerationStats>): Promise<void> {
    try {
      for (;;) {
        const r = await it.next();
        if (r.done) {
          post({ op: 'done', id, value: r.value });
          return;
        }
        post({ op: 'token', id, value: r.value });
      }
    } catch (err) {
      fail(id, err);
    } finally {
      streams.delete(id);
    }
  }
}

async function open(kind: 'model' | 'encoder', source: unknown, options: Record<string, unknown>): Promise<Opened> {
  const progress = (event: unknown) => (globalThis as unknown as Scope).postMessage({ op: 'progress', event });
  const opts = { ...options, progress };
  if (kind === 'model') return { kind, m: await Model.open(source as never, opts as never) };
  return { kind, m: await Encoder.open(source as never, opts as never) };
}

function info(o: Opened): OpenedInfo {
  const a = o.m.artifact;
  const tokenizer = a.manifest.tokenizer;
  const tokenizerFiles: Record<string, Uint8Array<ArrayBuffer>> = {};
  for (const f of Object.keys(tokenizer?.files ?? {})) tokenizerFiles[f] = a.files.bytes(f);
  const ir: Record<string, string> = {};
  for (const [role, g] of Object.entries(a.graphs)) ir[role] = printGraph(g);
  return {
    dir: a.dir,
    backend: o.m.backend,
    backendReason: o.m.backendReason,
    config: o.m.config,
    tokenizer,
    tokenizerFiles,
    ir,
    ...(o.kind === 'encoder' ? { outputs: o.m.outputs } : {}),
  };
}
