#!/usr/bin/env node
// Tessera against its peers in tightly interleaved pairs. peers.sh runs each engine for several
// seconds in turn, and on a shared 2-vCPU VM the speed available drifts by tens of percent from
// one second to the next, so one engine's figure and the other's come from different machines
// in effect. Here Tessera stays loaded in this process and every pair is one peer run (a separate
// process, ~0.5 s) next to one Tessera run of the same work, in alternating order; the figure of
// merit is the median over pairs of Tessera's speed / the peer's, with how many pairs Tessera won.
//
//   npx tsc -p tsconfig.json
//   node bench/paired.mjs [--model synth15M] [--weights f32|q8_0|q4_0] [--threads 2] [--pairs 15] [--decode-only | --prefill-only] [--gen 128]
//   node bench/paired.mjs --model synth110M --gguf Q4_K_M   both engines read BENCH_DIR/synth110M-Q4_K_M.gguf
//   node bench/paired.mjs --model synth1.1B --gguf q4_0     the TinyLlama-1.1B shape (bench/llama2c-to-gguf.mjs)
//
// Tessera's KV cache holds PROMPT + GEN tokens (contextLength), as llama-bench sizes its context to
// its test; peak RSS is printed for both: this process's high-water mark (which includes loading,
// and Node itself), and the largest of llama-bench's runs (GNU time's maximum resident set size).
//
// Pairs measured (each when its peer is built; PEERS_DIR and BENCH_DIR as in peers.sh):
//   decode vs llama2.c (f32 only): `runomp <model>.bin -t 0 -n 256` as peers.sh runs it (its own
//     tok/s: steps 2–256, positions 1–255) against Tessera decoding 255 greedy steps from position
//     0, so that both attend over the same lengths (peers.sh compares with Tessera's 128 steps);
//   decode vs llama.cpp: `llama-bench -p 0 -n 128 -r 1` (tg128) against the same Tessera run;
//   prefill vs llama.cpp: `llama-bench -p 128 -n 0 -r 3` (pp128, its mean of 3) against the
//     median of three 128-token forwards.
// Tessera's quantized weights come from its own quantize pass on <model>.bin (every matmul and
// the classifier, as llama-quantize --pure), llama.cpp's from <model>-<weights>.gguf; with --gguf T
// both read <model>-T.gguf as llama-quantize wrote it (K-quant mixes: Tessera runs the file's types).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Model } from '../dist/src/model.js';
import { openModel } from '../dist/models/open.js';
import { median, seededTokens } from '../dist/src/bench.js';

const { values: opt } = parseArgs({
  options: {
    model: { type: 'string', default: 'synth15M' },
    weights: { type: 'string', default: 'f32' },
    threads: { type: 'string', default: '2' },
    pairs: { type: 'string', default: '15' },
    gguf: { type: 'string' },
    'decode-only': { type: 'boolean', default: false },
    'prefill-only': { type: 'boolean', default: false },
    gen: { type: 'string', default: '128' },
  },
});
const threads = Number(opt.threads), pairs = Number(opt.pairs), weights = opt.weights;
if (opt.gguf === undefined && !['f32', 'q8_0', 'q4_0'].includes(weights)) throw new Error(`--weights is f32, q8_0 or q4_0, got ${weights}`);
for (const [name, n] of [['threads', threads], ['pairs', pairs]]) {
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${opt[name]}`);
}
const PEERS = process.env.PEERS_DIR ?? '/tmp/peers', DIR = process.env.BENCH_DIR ?? '/tmp/bench';
const bin = resolve(DIR, `${opt.model}.bin`), gguf = resolve(DIR, `${opt.model}-${opt.gguf ?? weights}.gguf`);
const runomp = resolve(PEERS, 'llama2.c/runomp'), llamaBench = resolve(PEERS, 'llama.cpp/build/bin/llama-bench');
// GEN: decode steps per run (fewer for the 1.1B shape on a loaded machine: both sides run as many).
const PROMPT = 128, GEN = Number(opt.gen);
if (!Number.isInteger(GEN) || GEN < 1) throw new Error(`--gen must be a positive integer, got ${opt.gen}`);
if (!existsSync(bin)) throw new Error(`${bin} is missing (see bench/peers.sh for how the checkpoints are made)`);

// The tied table quantized in place (tables), as llama-quantize --pure quantizes token_embd too.
const passes = weights === 'f32' || opt.gguf !== undefined ? 'default' : `default,quantize{dtype=${weights},heads=true,tables=true}`;
const path = opt.gguf !== undefined ? gguf : bin;
// llama.cpp's converter records a context of 128 in its GGUF files, whatever the checkpoint's.
const contextLength = Math.min(PROMPT + GEN, openModel(path).config.maxPositions);
const model = await Model.open(path, { backend: 'wasm', threads, passes, maxChunk: PROMPT, contextLength });
const label = opt.gguf ?? weights;
const ex = model.executor;
const prompt = seededTokens(PROMPT, ex.vocabSize);

async function tesseraDecode(steps) {
  ex.reset();
  let next = prompt[0];
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) next = await ex.forwardGreedy([next]);
  return (steps * 1000) / (performance.now() - t0);
}
// A prefill is ~40 ms, short enough for one hiccup to swing it: both sides take 3 and report theirs.
async function tesseraPrefill() {
  const ms = [];
  for (let i = 0; i < 3; i++) {
    ex.reset();
    const t0 = performance.now();
    await ex.forward(prompt, 'last');
    ms.push(performance.now() - t0);
  }
  return (PROMPT * 1000) / median(ms);
}
function run(cmd, args, env = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`${cmd} exited with ${r.status}: ${(r.stderr || '').slice(-400)}`);
  return r;
}
function llama2c() {
  const r = run(runomp, [bin, '-z', resolve(DIR, 'tokenizer.bin'), '-t', '0', '-n', String(PROMPT + GEN), '-i', 'Once upon a time'], { OMP_NUM_THREADS: String(threads) });
  const m = /achieved tok\/s: ([0-9.]+)/.exec(r.stderr);
  if (!m) throw new Error(`llama2.c printed no tok/s: ${r.stderr.slice(-200)}`);
  return Number(m[1]);
}
// With GNU time, each llama-bench run also reports its peak RSS (kB, on stderr's last line).
const gnuTime = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
let peerRssKb = 0;
function llamaCpp(p, n, reps) {
  const args = ['-m', gguf, '-t', String(threads), '-p', String(p), '-n', String(n), '-r', String(reps), '-o', 'json'];
  const r = gnuTime ? run(gnuTime, ['-f', '%M', llamaBench, ...args]) : run(llamaBench, args);
  if (gnuTime) peerRssKb = Math.max(peerRssKb, Number(r.stderr.trim().split('\n').at(-1)) || 0);
  return JSON.parse(r.stdout)[0].avg_ts;
}

const comparisons = [];
// llama2.c times steps 2…PROMPT+GEN (positions 1…255 at the defaults), so Tessera decodes as many
// steps from position 0 there: the same attention lengths on both sides.
const llama2cSteps = Math.min(PROMPT + GEN - 1, ex.contextLength);
if (!opt['prefill-only'] && weights === 'f32' && opt.gguf === undefined && existsSync(runomp)) comparisons.push({ name: 'decode / llama2.c', peer: llama2c, ours: () => tesseraDecode(llama2cSteps) });
if (existsSync(llamaBench) && existsSync(gguf)) {
  if (!opt['prefill-only']) comparisons.push({ name: `decode / llama.cpp ${label}`, peer: () => llamaCpp(0, GEN, 1), ours: () => tesseraDecode(GEN) });
  if (!opt['decode-only']) comparisons.push({ name: `prefill / llama.cpp ${label}`, peer: () => llamaCpp(PROMPT, 0, 3), ours: tesseraPrefill });
}
if (!comparisons.length) throw new Error(`no peer found under ${PEERS} (llama2.c/runomp, llama.cpp/build/bin/llama-bench with ${gguf})`);

// Tessera's idle threads spin for 20 ms after a run; wait that out so that they never take a core
// from the peer.
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
for (let i = 0; i < 2; i++) { await tesseraDecode(GEN); if (!opt['decode-only']) await tesseraPrefill(); }
for (const c of comparisons) { c.peer(); c.pairs = []; }
console.log(`${opt.model} ${label}, ${threads} threads, ${pairs} pairs; load average ${(await import('node:os')).loadavg().map((x) => x.toFixed(2)).join(' ')}`);
for (let p = 0; p < pairs; p++) {
  for (const c of comparisons) {
    let ours, peer;
    if (p % 2) { ours = await c.ours(); await sleep(30); peer = c.peer(); }
    else { await sleep(30); peer = c.peer(); ours = await c.ours(); }
    c.pairs.push({ ours, peer });
  }
}
for (const c of comparisons) {
  const ratios = c.pairs.map((x) => x.ours / x.peer);
  const ours = median(c.pairs.map((x) => x.ours)), peer = median(c.pairs.map((x) => x.peer));
  console.log(`${c.name.padEnd(24)} ${median(ratios).toFixed(3)}× (median of ${pairs} pairs; Tessera faster in ${ratios.filter((r) => r > 1).length}) · ` +
    `Tessera ${ours.toFixed(1)} tok/s, peer ${peer.toFixed(1)} tok/s (medians) · ratios ${ratios.map((r) => r.toFixed(2)).join(' ')}`);
}
const ourRss = process.resourceUsage().maxRSS / 1024;
console.log(`peak RSS: Tessera ${ourRss.toFixed(0)} MiB (this process; wasm memory ${(ex.memoryBytes / 2 ** 20).toFixed(0)} MiB)` +
  (peerRssKb ? ` · llama-bench ${(peerRssKb / 1024).toFixed(0)} MiB · ratio ${(ourRss / (peerRssKb / 1024)).toFixed(2)}×` : ''));
await model.dispose();
