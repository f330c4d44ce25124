// `tessera serve`: the OpenAI-compatible HTTP server (src/serve/server.ts) for one model, until
// SIGTERM or SIGINT, which drain it: no new requests, running ones finish (or are cancelled after
// --drain-seconds), then the process exits 0.
import { basename, resolve } from 'node:path';
import { modelTask, type Model } from '../model.js';
import type { Encoder } from '../encoder.js';
import { MissingChatTemplateError } from '../chat/session.js';
import { TesseraServer } from '../serve/server.js';
import { BATCHED_BACKENDS, BatchedModel } from '../batched.js';
import { EXIT_OK, flagOpt, listOpt, stringOpt, UsageError } from './command.js';
import { loadEncoder } from './embed.js';
import { readTextFile } from './load.js';
import { loadModelFrom, CTX_OPTION, LORA_OPTION, loraOpts, MODEL_OPTIONS, numberOpt, requireString } from './model-options.js';
import { registerCommand } from './registry.js';

registerCommand({
  name: 'serve',
  summary: 'serve a model over an OpenAI-compatible HTTP API',
  args: '',
  positionals: { min: 0, max: 0 },
  description: `Answers POST /v1/chat/completions, /v1/completions (decoders) and /v1/embeddings (encoders),
GET /v1/models, /health (200, or 503 while draining) and /metrics (Prometheus text). Streaming is
server-sent events as OpenAI sends them. --parallel N runs N requests at once as N sequences of
one copy of the model, batched into one step per token with their KV caches in blocks of a shared
pool (--kv-blocks; default enough for N full contexts); a compiled artifact runs N loaded copies
instead (it holds the plain step graphs only). Further requests wait in a queue of
--max-queue, beyond which they get 429. SIGTERM or SIGINT stops taking requests, lets
running ones finish for up to --drain-seconds, cancels the rest and exits. --lora adapters are
loaded for run-time use, not merged (as llama.cpp's server loads them): numbered 0, 1, … in
command-line order, each applied at its SCALE to requests that name no adapters (all at 0 with
--lora-init-without-apply); a request's "lora": [{"id": 1, "scale": 0.5}] runs with those adapters
only, and GET /lora-adapters lists them, POST /lora-adapters [{"id", "scale"}] sets the scales
later requests default to (the ones it leaves out go to 0).`,
  options: {
    ...MODEL_OPTIONS,
    lora: { ...LORA_OPTION, help: 'load a LoRA adapter (a PEFT folder or a llama.cpp GGUF adapter) for per-request use, id 0, 1, … in order, applied at SCALE (default 1) when a request names no adapters' },
    'lora-init-without-apply': { type: 'boolean', help: 'load the --lora adapters at scale 0: off until a request or POST /lora-adapters sets one' },
    ctx: CTX_OPTION,
    host: { type: 'string', value: 'HOST', help: 'address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)' },
    port: { type: 'string', value: 'PORT', help: 'port (default 8080; 0 = any free port, printed on stderr)' },
    parallel: { type: 'string', value: 'N', help: 'requests run at once, batched per step on one copy of the model (default 1)' },
    'kv-blocks': { type: 'string', value: 'N', help: 'KV cache blocks of 16 positions shared by the --parallel sequences (default: N full contexts)' },
    'max-queue': { type: 'string', value: 'N', help: 'requests that may wait for a slot before 429 (default 64)' },
    'api-key': { type: 'string', value: 'KEY', help: 'require Authorization: Bearer KEY on /v1/* and /lora-adapters (default: $TESSERA_API_KEY, else none)' },
    'chat-template': { type: 'string', value: 'FILE', help: "a Jinja chat template to use instead of the model's own" },
    'model-id': { type: 'string', value: 'NAME', help: 'the model name clients send (default: the model file or folder name)' },
    'drain-seconds': { type: 'string', value: 'S', help: 'on SIGTERM, how long running requests may finish (default 30)' },
    verbose: { type: 'boolean', help: 'log each request on stderr' },
  },
  examples: [
    { command: 'tessera serve -m ../shared/models/tinystories-656k --chat-template story.jinja --port 8080', says: 'serve on http://127.0.0.1:8080/v1' },
    { command: 'tessera serve -m model.gguf --host 0.0.0.0 --parallel 8 --api-key secret', says: 'eight requests batched per step, every interface, a key required' },
    { command: 'tessera serve -m model.gguf --lora a.gguf --lora b.gguf:0.5', says: 'adapters 0 and 1, both on by default; requests pick their own' },
  ],
  async run(inv, io) {
    const port = numberOpt(inv, 'port', { integer: true, min: 0, max: 65535 }) ?? 8080;
    const host = stringOpt(inv, 'host') ?? '127.0.0.1';
    const parallel = numberOpt(inv, 'parallel', { integer: true, min: 1, max: 64 }) ?? 1;
    const kvBlocks = numberOpt(inv, 'kv-blocks', { integer: true, min: 1 });
    const maxQueue = numberOpt(inv, 'max-queue', { integer: true, min: 0 }) ?? 64;
    const drainSeconds = numberOpt(inv, 'drain-seconds', { min: 0 }) ?? 30;
    const apiKey = stringOpt(inv, 'api-key') ?? (io.env.TESSERA_API_KEY || undefined);
    const templatePath = stringOpt(inv, 'chat-template');
    const chatTemplate = templatePath === undefined ? undefined : readTextFile(templatePath, io);
    const path = resolve(io.cwd, requireString(inv, 'model'));
    const modelId = stringOpt(inv, 'model-id') ?? basename(path);
    const task = modelTask(path);
    if (task !== 'decoder' && parallel > 1) throw new UsageError('--parallel applies to decoders; an encoder serves embeddings from one copy', inv.command);
    if (task !== 'decoder' && listOpt(inv, 'lora').length) throw new UsageError('--lora applies to decoders; this model is an encoder', inv.command);

    // Loaded beside the weights, not merged: requests switch them without a reload.
    const off = flagOpt(inv, 'lora-init-without-apply');
    const loras = loraOpts(inv, io).map((l) => ({ ...l, runtime: true, ...(off ? { scale: 0 } : {}) }));
    const models: Model[] = [];
    let encoder: Encoder | undefined;
    let batched: BatchedModel | undefined;
    try {
      if (task === 'decoder') {
        models.push(await loadModelFrom(inv, io, loras));
        // An artifact holds the plain step graphs only: its slots are copies.
        if (parallel > 1 && !models[0].compiled && BATCHED_BACKENDS.includes(models[0].executor.backend)) {
          batched = await BatchedModel.open(models[0], { sequences: parallel, ...(kvBlocks ? { kvBlocks } : {}) });
          // Every request runs through the batched sequences: the model's own copy of the weights goes.
          await models[0].releaseExecutor();
        }
        else for (let i = 1; i < parallel; i++) models.push(await loadModelFrom(inv, io, loras));
      } else {
        encoder = await loadEncoder(inv, io);
      }
    } catch (e) {
      await batched?.dispose();
      for (const m of models) await m.dispose();
      throw e;
    }
    const server = new TesseraServer({
      modelId, models, encoder, apiKey, maxQueue, chatTemplate, ...(batched ? { batched } : {}),
      log: (m) => io.stderr.write(`${m}\n`),
    });
    if (flagOpt(inv, 'verbose')) {
      server.http.on('request', (req, res) => {
        const t0 = performance.now();
        res.on('close', () => io.stderr.write(`${req.method} ${req.url} ${res.statusCode} ${(performance.now() - t0).toFixed(0)} ms\n`));
      });
    }
    let address;
    try {
      address = await server.listen(port, host);
    } catch (e) {
      await server.shutdown(0);
      throw new UsageError(`cannot listen on ${host}:${port}: ${(e as Error).message}`, inv.command);
    }
    if (task === 'decoder' && chatTemplate === undefined && !hasOwnTemplate(models[0])) {
      io.stderr.write('note: the model has no chat template, so /v1/chat/completions answers 400; pass --chat-template FILE\n');
    }
    const slots = batched ? `${parallel} slots batched on one copy, ${batched.stats.blocksTotal} KV blocks of ${batched.blockSize}` : `${parallel} slot${parallel > 1 ? 's' : ''}`;
    const adapters = loras.length ? `, ${loras.length} LoRA adapter${loras.length > 1 ? 's' : ''}${off ? ' (off)' : ''}` : '';
    const kind = task === 'decoder' ? `${slots}, backend ${batched?.backend ?? models[0].executor.backend}${adapters}` : `encoder, backend ${encoder!.backend}`;
    io.stderr.write(`serving ${modelId} on http://${address.address.includes(':') ? `[${address.address}]` : address.address}:${address.port}/v1 (${kind}${apiKey ? ', API key required' : ''})\n`);

    await new Promise<void>((done) => {
      const stop = (signal: string) => {
        process.off('SIGTERM', onTerm);
        process.off('SIGINT', onInt);
        io.stderr.write(`${signal}: draining (running requests may finish for ${drainSeconds} s)\n`);
        void server.shutdown(drainSeconds * 1000).then(done);
      };
      const onTerm = () => stop('SIGTERM');
      const onInt = () => stop('SIGINT');
      process.on('SIGTERM', onTerm);
      process.on('SIGINT', onInt);
    });
    io.stderr.write('stopped\n');
    return EXIT_OK;
  },
});

function hasOwnTemplate(model: Model): boolean {
  try {
    model.chatPromptIds([{ role: 'user', content: 'hello' }]);
    return true;
  } catch (e) {
    return !(e instanceof MissingChatTemplateError);
  }
}
