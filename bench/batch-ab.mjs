#!/usr/bin/env node
// Continuous batching in process: aggregate greedy decode tokens/s of N concurrent sequences on
// one BatchedModel against one sequence on the model's own executor, in alternating rounds on one
// opened model (so both see the same machine state), with each round's ratio and the median.
//
//   npx tsc -p tsconfig.json
//   node bench/batch-ab.mjs --model /tmp/bench/synth15M-q8_0.gguf [--backend wasm] [--threads 2]
//        [--streams 8] [--rounds 7] [--tokens 24] [--spin-micros 0]
import { parseArgs } from 'node:util';
import { loadavg } from 'node:os';
import { Model } from '../dist/src/model.js';
import { BatchedModel } from '../dist/src/batched.js';

const { values: opt } = parseArgs({
  options: {
    model: { type: 'string' },
    backend: { type: 'string', default: 'wasm' },
    threads: { type: 'string', default: '2' },
    streams: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '7' },
    tokens: { type: 'string', default: '24' },
    'spin-micros': { type: 'string' },
  },
});
if (!opt.model) {
  console.error('batch-ab: give --model PATH');
  process.exit(2);
}
const streams = Number(opt.streams), rounds = Number(opt.rounds), tokens = Number(opt.tokens);
const load = {
  backend: opt.backend, passes: 'default',
  ...(opt.backend === 'wasm' ? { threads: Number(opt.threads) } : {}),
  ...(opt['spin-micros'] !== undefined ? { spinMicros: Number(opt['spin-micros']) } : {}),
};
const model = await Model.open(opt.model, load);
const batched = await BatchedModel.open(model, { sequences: streams });
const slots = Array.from({ length: streams }, () => batched.sequence());
const params = { maxTokens: tokens, temperature: 0, stopAtEos: false };
const prompt = (i) => [1, 400 + i, 500 + i, 600 + i];

async function drain(stream) {
  let n = 0;
  for await (const _ of stream) n++;
  return n;
}

// Warm-up: JIT and first-step costs out of the rounds.
await drain(model.generate(prompt(0), { ...params, maxTokens: 4 }));
await Promise.all(slots.map((s, i) => drain(s.generate(prompt(i), { ...params, maxTokens: 4 }))));

const ratios = [];
console.log(`${opt.model} · ${model.backendReason} · ${streams} streams vs 1 · ${tokens} tokens each`);
for (let r = 0; r < rounds; r++) {
  let t0 = performance.now();
  const one = await drain(model.generate(prompt(r), params));
  const single = one / ((performance.now() - t0) / 1000);
  t0 = performance.now();
  const all = (await Promise.all(slots.map((s, i) => drain(s.generate(prompt(r + i), params))))).reduce((a, b) => a + b, 0);
  const aggregate = all / ((performance.now() - t0) / 1000);
  ratios.push(aggregate / single);
  console.log(`round ${r}: 1 stream ${single.toFixed(1)} tok/s; ${streams} streams ${aggregate.toFixed(1)} tok/s aggregate; ratio ${(aggregate / single).toFixed(2)}x; load ${loadavg()[0].toFixed(1)}`);
}
ratios.sort((a, b) => a - b);
console.log(`median ratio ${ratios[Math.floor(ratios.length / 2)].toFixed(2)}x (range ${ratios[0].toFixed(2)}–${ratios[ratios.length - 1].toFixed(2)}) over ${rounds} rounds; ${JSON.stringify(batched.stats)}`);
await batched.dispose();
await model.dispose();
