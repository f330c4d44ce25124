#!/usr/bin/env node
// In-process A/B of two ways to run a model: both are opened in one process and their decode runs
// alternate (A B, B A, …), so the machine's drift (tens of percent over minutes on a shared VM)
// lands on both alike. Prints each variant's median and best tok/s, and the median over pairs of
// B's speed relative to A's with how many pairs B won: a null A/B (two identical variants) shows
// the noise floor (0.97–1.03 over 20 pairs on the 2-vCPU machine type).
//
//   npx tsc -p tsconfig.json
//   node bench/ab.mjs MODEL '{"A": {...}, "B": {...}}' [PAIRS=20] [GEN=128] [decode|prefill]
//
// A variant is Model.open's LoadOptions (backend, threads, passes, spinMicros, …; default: wasm,
// every core, the 'default' pipeline), plus optionally "dist": another build of Tessera to load
// the variant from, inside this checkout so that it finds node_modules (e.g. at the old commit
// `npx tsc -p tsconfig.json --outDir ab-old-dist`, then back to the new one; delete it after).
// Each run resets the cache and decodes
// GEN greedy steps from position 0, as `tessera bench --decode-depth 0` does; with `prefill`, it
// runs one forward over GEN prompt tokens instead (`tessera bench`'s prefill). Between runs it
// waits out the idle variant's spin (idle threads spinning would steal the other's cores).
//
// Example: node bench/ab.mjs /tmp/bench/synth15M.bin '{"A": {"spinMicros": 1000}, "B": {}}' 30
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

const [model, spec, pairsArg, genArg, mode = 'decode'] = process.argv.slice(2);
if (!model || !spec) {
  console.error("usage: node bench/ab.mjs MODEL '{\"A\": {...options}, \"B\": {...options}}' [pairs] [gen] [decode|prefill]");
  process.exit(2);
}
const variants = Object.entries(JSON.parse(spec));
if (mode !== 'decode' && mode !== 'prefill') throw new Error(`mode is decode or prefill, got ${mode}`);
if (variants.length !== 2) throw new Error('give exactly two variants, e.g. {"A": {}, "B": {"threads": 1}}');
const pairs = Number(pairsArg ?? 20);
const gen = Number(genArg ?? 128);
const here = resolve(new URL('..', import.meta.url).pathname, 'dist');

const opened = [];
for (const [name, { dist, ...opts }] of variants) {
  const { Model } = await import(pathToFileURL(resolve(dist ?? here, 'src/model.js')).href);
  const m = await Model.open(model, { backend: 'wasm', passes: 'default', maxChunk: 128, ...opts });
  // Long enough for the other variant's idle threads to stop spinning before a run.
  const quiet = (opts.spinMicros ?? 20_000) / 1000 + 5;
  opened.push({ name, m, quiet, ms: [] });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const prompt = Array.from({ length: gen }, (_, i) => 3 + ((i * 7919) % 1000));
async function timedRun(ex) {
  ex.reset();
  if (mode === 'prefill') {
    const t0 = performance.now();
    await ex.forward(prompt, 'last');
    return performance.now() - t0;
  }
  let next = 3;
  const t0 = performance.now();
  for (let i = 0; i < gen; i++) next = await ex.forwardGreedy([next]);
  return performance.now() - t0;
}

for (const o of opened) for (let i = 0; i < 2; i++) await timedRun(o.m.executor); // warm-up
const quiet = Math.max(...opened.map((o) => o.quiet));
for (let p = 0; p < pairs; p++) {
  for (const o of p % 2 ? [...opened].reverse() : opened) {
    await sleep(quiet);
    o.ms.push(await timedRun(o.m.executor));
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const tokS = (ms) => ((gen * 1000) / ms).toFixed(1);
for (const o of opened) console.log(`${o.name}: median ${tokS(median(o.ms))} tok/s, best ${tokS(Math.min(...o.ms))} tok/s (${o.m.executor.threads} threads)`);
const [a, b] = opened;
const speed = a.ms.map((t, i) => t / b.ms[i]);
console.log(`${b.name} / ${a.name} speed: median ${median(speed).toFixed(3)}× over ${pairs} pairs, ${b.name} faster in ${speed.filter((r) => r > 1).length}`);
for (const o of opened) await o.m.dispose();
