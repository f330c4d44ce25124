#!/usr/bin/env node
// A bounded load test of `tessera serve` (or any OpenAI-compatible server) on loopback: for each
// concurrency level (default 1, 4, 8, 16), that many clients stream /v1/completions (or
// /v1/chat/completions with --chat) until --requests requests have finished, then the next level.
// Reports per level: aggregate generated tokens/s (all clients' tokens over the level's wall time),
// time to first token p50/p99 (request sent → first streamed text), and errors, which must be 0
// (exit code 1 otherwise). It stops by itself: a fixed number of requests, and --timeout-s overall.
//
//   npx tsc -p tsconfig.json
//   node bench/serve-load.mjs --model ../shared/models/tinystories-656k [--backend wasm] [--threads 2]
//        [--parallel 1] [--levels 1,4,8,16] [--requests 32] [--max-tokens 64] [--warmup 4]
//        [--chat --chat-template F] [--json]
//   node bench/serve-load.mjs --url http://127.0.0.1:8080 --model-id NAME   (a server already running here)
//   node bench/serve-load.mjs --model F.gguf --llama-server /tmp/peers/llama.cpp/build/bin/llama-server
//        --threads 2 --parallel 8 [--ctx 256]   (llama.cpp's server on the same file, under the same load)
//
// With --model the script starts `tessera serve` (or, with --llama-server BIN, llama.cpp's server
// with --parallel slots of --ctx positions each) on a free loopback port and stops it at the end.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = fileURLToPath(new URL('..', import.meta.url));
const { values: opt } = parseArgs({
  options: {
    model: { type: 'string' },
    url: { type: 'string' },
    'model-id': { type: 'string' },
    backend: { type: 'string', default: 'auto' },
    threads: { type: 'string' },
    parallel: { type: 'string', default: '1' },
    levels: { type: 'string', default: '1,4,8,16' },
    requests: { type: 'string', default: '32' },
    'max-tokens': { type: 'string', default: '64' },
    chat: { type: 'boolean', default: false },
    'chat-template': { type: 'string' },
    'api-key': { type: 'string' },
    'timeout-s': { type: 'string', default: '900' },
    warmup: { type: 'string', default: '4' },
    json: { type: 'boolean', default: false },
    'llama-server': { type: 'string' },
    ctx: { type: 'string', default: '256' },
  },
});

const levels = opt.levels.split(',').map(Number);
const requestsPerLevel = Number(opt.requests);
const maxTokens = Number(opt['max-tokens']);
if (levels.some((c) => !Number.isInteger(c) || c < 1) || !(requestsPerLevel >= 1) || !(maxTokens >= 1)) {
  console.error('serve-load: --levels are whole numbers ≥ 1, --requests and --max-tokens ≥ 1');
  process.exit(2);
}
const PROMPTS = ['Once upon a time', 'The little dog', 'Lily wanted to', 'One day, a bird', 'Tom and Sue went', 'The sun was', 'A big red ball', 'Mom said'];

const deadline = setTimeout(() => {
  console.error(`serve-load: stopped after --timeout-s ${opt['timeout-s']}`);
  server?.kill('SIGTERM');
  process.exit(1);
}, Number(opt['timeout-s']) * 1000);
deadline.unref();

let server;
const base = opt.url ?? (await startServer());
const host = new URL(base).hostname;
if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host)) {
  console.error(`serve-load: ${base} is not a loopback address; this load test only runs against this machine`);
  process.exit(2);
}
const headers = { 'content-type': 'application/json', ...(opt['api-key'] ? { authorization: `Bearer ${opt['api-key']}` } : {}) };
const modelId = opt['model-id'] ?? (await (await fetch(`${base}/v1/models`, { headers })).json()).data[0].id;

const results = [];
try {
  // Unmeasured requests first, so the first level does not pay for JIT warm-up.
  for (let i = 0; i < Number(opt.warmup); i++) await streamOne(PROMPTS[i % PROMPTS.length]);
  for (const concurrency of levels) results.push(await runLevel(concurrency));
} finally {
  if (server) {
    server.kill('SIGTERM');
    await new Promise((done) => server.on('close', done));
  }
}
clearTimeout(deadline);

if (opt.json) console.log(JSON.stringify({ server: opt['llama-server'] ? 'llama-server' : 'tessera', model: modelId, backend: opt.backend, parallel: Number(opt.parallel), maxTokens, requestsPerLevel, results }, null, 2));
else {
  console.log(`${opt['llama-server'] ? 'llama-server' : 'tessera'} · ${modelId} · --parallel ${opt.parallel} · ${opt.chat ? 'chat' : 'text'} completions · ${requestsPerLevel} requests per level · max_tokens ${maxTokens}`);
  console.log('clients  requests  tokens  wall s  agg tok/s  TTFT p50 ms  TTFT p99 ms  errors');
  for (const r of results) {
    console.log(`${String(r.concurrency).padStart(7)}  ${String(r.requests).padStart(8)}  ${String(r.tokens).padStart(6)}  ${r.wallSeconds.toFixed(2).padStart(6)}  ${r.tokensPerSecond.toFixed(1).padStart(9)}  ${r.ttftP50Ms.toFixed(0).padStart(11)}  ${r.ttftP99Ms.toFixed(0).padStart(11)}  ${String(r.errors).padStart(6)}`);
  }
}
const errors = results.reduce((n, r) => n + r.errors, 0);
if (errors > 0) {
  console.error(`serve-load: ${errors} requests failed (first: ${results.find((r) => r.firstError)?.firstError})`);
  process.exit(1);
}

async function runLevel(concurrency) {
  let next = 0;
  const ttfts = [];
  let tokens = 0;
  let errors = 0;
  let firstError;
  const t0 = performance.now();
  const client = async () => {
    while (next < requestsPerLevel) {
      const i = next++;
      try {
        const r = await streamOne(PROMPTS[i % PROMPTS.length]);
        ttfts.push(r.ttftMs);
        tokens += r.tokens;
      } catch (e) {
        errors++;
        firstError ??= e.message;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
  const wallSeconds = (performance.now() - t0) / 1000;
  ttfts.sort((a, b) => a - b);
  const pct = (p) => (ttfts.length ? ttfts[Math.min(ttfts.length - 1, Math.ceil((p / 100) * ttfts.length) - 1)] : NaN);
  return { concurrency, requests: requestsPerLevel, tokens, wallSeconds, tokensPerSecond: tokens / wallSeconds, ttftP50Ms: pct(50), ttftP99Ms: pct(99), errors, firstError };
}

/** One streamed request: time to the first text, and the completion tokens from the usage chunk. */
async function streamOne(prompt) {
  const body = opt.chat
    ? { model: modelId, messages: [{ role: 'user', content: prompt }], max_tokens: maxTokens, temperature: 0, stream: true, stream_options: { include_usage: true } }
    : { model: modelId, prompt, max_tokens: maxTokens, temperature: 0, stream: true, stream_options: { include_usage: true } };
  const sent = performance.now();
  const res = await fetch(`${base}/v1/${opt.chat ? 'chat/completions' : 'completions'}`, { method: 'POST', headers, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`);
  const decoder = new TextDecoder();
  let buffer = '';
  let ttftMs;
  let tokens;
  let done = false;
  for await (const piece of res.body) {
    buffer += decoder.decode(piece, { stream: true });
    let cut;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      if (!event.startsWith('data: ')) throw new Error(`not a server-sent event: ${event.slice(0, 80)}`);
      const data = event.slice(6);
      if (data === '[DONE]') { done = true; continue; }
      const chunk = JSON.parse(data);
      const text = chunk.choices?.[0]?.delta?.content ?? chunk.choices?.[0]?.text;
      if (text && ttftMs === undefined) ttftMs = performance.now() - sent;
      if (chunk.usage) tokens = chunk.usage.completion_tokens;
    }
  }
  if (!done) throw new Error('the stream ended without data: [DONE]');
  if (tokens === undefined) throw new Error('no usage chunk (stream_options.include_usage)');
  return { ttftMs: ttftMs ?? performance.now() - sent, tokens };
}

/** A free loopback port (asked of the OS, then released for the server to take). */
async function freePort() {
  const { createServer } = await import('node:net');
  return new Promise((done) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => done(port));
    });
  });
}

/** llama.cpp's llama-server on the same model file, ready once /health answers 200. */
async function startLlamaServer() {
  const port = await freePort();
  const parallel = Number(opt.parallel);
  const args = ['-m', resolve(opt.model), '--host', '127.0.0.1', '--port', String(port), '--parallel', String(parallel), '-c', String(parallel * Number(opt.ctx))];
  if (opt.threads) args.push('-t', opt.threads, '-tb', opt.threads);
  server = spawn(opt['llama-server'], args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  server.stderr.on('data', (d) => { stderr = (stderr + d.toString()).slice(-4000); });
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise((_, reject) => server.on('close', (code) => reject(new Error(`llama-server exited with ${code}: ${stderr}`))));
  for (;;) {
    const ok = await Promise.race([fetch(`${url}/health`).then((r) => r.ok, () => false), exited]);
    if (ok) return url;
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function startServer() {
  if (opt['llama-server'] && opt.model) return startLlamaServer();
  if (!opt.model) {
    console.error('serve-load: give --model PATH (a server is started) or --url of a running one');
    process.exit(2);
  }
  const args = [resolve(here, 'bin/tessera.js'), 'serve', '-m', resolve(opt.model), '--port', '0', '--host', '127.0.0.1', '--backend', opt.backend, '--parallel', opt.parallel, '--max-queue', '1024', '--quiet'];
  if (opt.threads) args.push('--threads', opt.threads);
  if (opt['chat-template']) args.push('--chat-template', resolve(opt['chat-template']));
  server = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'pipe'] });
  let stderr = '';
  return new Promise((resolveUrl, reject) => {
    server.stderr.on('data', (d) => {
      stderr += d.toString();
      const m = /on (http:\/\/127\.0\.0\.1:\d+)\/v1/.exec(stderr);
      if (m) resolveUrl(m[1]);
    });
    server.on('close', (code) => reject(new Error(`tessera serve exited with ${code}: ${stderr}`)));
  });
}
