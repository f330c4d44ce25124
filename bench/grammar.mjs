#!/usr/bin/env node
// Structured output's cost. (1) The mask per decode step on the 32000-token llama2 vocabulary:
// building the vocabulary trie, compiling a JSON schema, then a seeded random walk through the
// schema's language (each step: the mask for the current grammar state, applied to a logits
// row, then one allowed token) — cold (states seen for the first time) and warm (the same walk
// again, masks cached). (2) Decode speed with and without the schema on a small model, in
// alternating runs, reported as the median ratio.
//
//   npx tsc -p tsconfig.json
//   node bench/grammar.mjs [--model ../shared/bench/synth15M.bin] [--tokenizer ../shared/models/llama2c-vocab/tokenizer.bin]
//                          [--threads 2] [--steps 200] [--tokens 128] [--runs 5]
import { parseArgs } from 'node:util';
import { loadTokenizer } from '../dist/models/tokenizers/load.js';
import { buildGrammar, GrammarConstraint, GrammarMatcher, jsonSchemaToGbnf, maskHas, tokenizerVocabulary } from '../dist/runtime/grammar/index.js';
import { Model } from '../dist/src/model.js';

const { values: opt } = parseArgs({
  options: {
    model: { type: 'string', default: '../shared/bench/synth15M.bin' },
    tokenizer: { type: 'string', default: '../shared/models/llama2c-vocab/tokenizer.bin' },
    threads: { type: 'string', default: '2' },
    steps: { type: 'string', default: '200' },
    tokens: { type: 'string', default: '128' },
    runs: { type: 'string', default: '5' },
    'skip-decode': { type: 'boolean', default: false },
  },
});

const SCHEMA = {
  type: 'object',
  properties: {
    id: { type: 'integer', minimum: 1, maximum: 100000 },
    name: { type: 'string', maxLength: 40 },
    email: { type: 'string', pattern: '^[a-z0-9.]+@[a-z]+\\.[a-z]{2,3}$' },
    born: { type: 'string', format: 'date' },
    tags: { type: 'array', items: { type: 'string', maxLength: 12 }, maxItems: 5 },
    address: { type: 'object', properties: { street: { type: 'string' }, city: { type: 'string' }, zip: { type: 'string', pattern: '^[0-9]{5}$' } }, required: ['city'] },
    active: { type: 'boolean' },
    score: { type: 'number' },
  },
  required: ['id', 'name', 'active'],
  additionalProperties: false,
};

const ms = (t0) => performance.now() - t0;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
const fmt = (x) => x.toFixed(3);

// --- (1) mask cost on the 32000-token vocabulary ---
const tokenizer = loadTokenizer(opt.tokenizer);
let t0 = performance.now();
const vocab = tokenizerVocabulary(tokenizer);
console.log(`vocabulary: ${vocab.size} tokens, trie of ${vocab.trie.byte.length} nodes built in ${ms(t0).toFixed(1)} ms`);
t0 = performance.now();
const gbnf = jsonSchemaToGbnf(SCHEMA);
const grammar = buildGrammar(gbnf);
const constraint = new GrammarConstraint(grammar, vocab, [tokenizer.eosId ?? 2]);
console.log(`schema → grammar (${gbnf.split('\n').length} rules) → automaton: ${ms(t0).toFixed(1)} ms`);

/** A seeded walk of `steps` tokens, picking allowed tokens (longer ones more often, to move on). */
function walk(seed, steps) {
  const times = [];
  const matcher = new GrammarMatcher(constraint);
  const logits = new Float32Array(vocab.size);
  let s = seed >>> 0;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  for (let i = 0; i < steps && !matcher.finished; i++) {
    logits.fill(0);
    // CPU time of this thread's process (µs resolution): on a shared, loaded machine wall time
    // measures the neighbours; nothing else runs in this process here.
    const c = process.cpuUsage();
    matcher.apply(logits);
    const d = process.cpuUsage(c);
    times.push((d.user + d.system) / 1000);
    const mask = matcher.mask();
    const allowed = [];
    for (let id = 0; id < vocab.size; id++) if (maskHas(mask, id) && !constraint.isEos(id)) allowed.push(id);
    if (allowed.length === 0) break;
    matcher.accept(allowed[Math.floor(rand() * allowed.length)]);
  }
  return times;
}
const steps = Number(opt.steps);
// Eight documents in a row on one constraint: 'cold' steps meet states as a fresh process would
// (later documents reuse masks cached by earlier ones); 'warm' walks the same documents again.
const cold = [1, 2, 3, 4, 5, 6, 7, 8].flatMap((seed) => walk(seed, steps));
const warm = [1, 2, 3, 4, 5, 6, 7, 8].flatMap((seed) => walk(seed, steps));
console.log(`mask + apply per step over ${cold.length} steps (CPU ms): cold median ${fmt(median(cold))} p90 ${fmt(pct(cold, 0.9))} max ${fmt(Math.max(...cold))}; ` +
  `warm median ${fmt(median(warm))} max ${fmt(Math.max(...warm))}; ${constraint.cachedMasks} masks cached, ${constraint.automaton.stateCount} states`);

if (opt['skip-decode']) process.exit(0);

// --- (2) decode with and without the schema ---
const threads = Number(opt.threads);
const tokens = Number(opt.tokens);
const runs = Number(opt.runs);
t0 = performance.now();
const model = await Model.open(opt.model, { backend: 'wasm', threads, tokenizer: opt.tokenizer });
console.log(`model ${opt.model} on ${model.executor.backend} (${threads} threads) opened in ${ms(t0).toFixed(0)} ms`);
async function decode(params) {
  const stream = model.generate('Once upon a time', { maxTokens: tokens, temperature: 1, seed: 7, stopAtEos: false, ...params });
  let first;
  const t = performance.now();
  for (;;) {
    const r = await stream.next();
    if (r.done) return { tps: r.value.decodeTokensPerSecond, n: r.value.generatedTokens, first, stop: r.value.stopReason };
    first ??= ms(t);
  }
}
// A schema whose documents are long enough for `tokens` steps: a list of free strings.
const LONG = { type: 'array', items: { type: 'string' } };
const free = [];
const constrained = [];
const ratios = [];
const firstFree = [];
const firstSchema = [];
await decode({}); // warm-up: compiled kernels, caches
for (let r = 0; r < runs; r++) {
  const a = await decode({});
  // A fresh copy of the schema each run would hit the constraint cache anyway (keyed by grammar text);
  // the first run's first token includes compiling it.
  const b = await decode({ jsonSchema: LONG });
  free.push(a.tps);
  constrained.push(b.tps);
  ratios.push(b.tps / a.tps);
  firstFree.push(a.first);
  firstSchema.push(b.first);
}
console.log(`decode tok/s free: ${free.map((x) => x.toFixed(1)).join(' ')}`);
console.log(`decode tok/s with schema: ${constrained.map((x) => x.toFixed(1)).join(' ')}`);
console.log(`median ratio (schema / free, paired runs): ${median(ratios).toFixed(3)}`);
console.log(`first token after the call (ms): free ${firstFree.map((x) => x.toFixed(0)).join(' ')}; schema ${firstSchema.map((x) => x.toFixed(0)).join(' ')} (run 1 compiles the schema)`);
await model.dispose();
