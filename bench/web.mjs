#!/usr/bin/env node
// tessera/web against Node on the same compiled artifact: decode and prefill tokens/s of greedy
// generation on wasm (1 and 2 threads), and the time from navigation to the first token in
// headless Chromium (the demo page opening ?model=… on arrival): cold (an empty Cache API and OPFS)
// and cached (a reload: files from the Cache API and OPFS). The browser's engine runs in the demo's
// worker; one more column runs it on the page's own thread (engine=page), where the calling wasm
// thread spins at barriers. Medians over the rounds, Node and browser rounds interleaved so that a
// busy machine slows both alike.
//
// V8 runs a new module in baseline (Liftoff) code and tiers a function up to TurboFan only after it
// has run enough of its code, and a Node process keeps the tiered code of a module it compiled
// before for every later open of the same bytes. So each side is measured both ways: the browser's
// first generation after navigation against Node's first in a fresh process (both untiered), and
// the browser's second generation in the same page against Node's in a warm process (both tiered).
//
//   npx tsc -p tsconfig.json
//   node bench/web.mjs [--rounds 5] [--tokens 128] [--models stories260K,tinystories-656k,synth15M] [--webgpu]
//
// Needs /usr/bin/chromium (.ci/install-chromium.sh); --webgpu adds the browser's WebGPU
// (SwiftShader in headless Chromium, so a CPU figure, not a GPU one).
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { serveStatic } from '../dist/src/cli/serve-static.js';
import { compile } from '../dist/src/compile.js';
import { Model } from '../dist/src/model.js';

const here = fileURLToPath(new URL('..', import.meta.url));
const shared = resolve(here, '..', 'shared');
const { values: opt } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    tokens: { type: 'string', default: '128' },
    models: { type: 'string', default: 'stories260K,tinystories-656k' },
    webgpu: { type: 'boolean', default: false },
  },
});
const rounds = Number(opt.rounds);
const maxTokens = Number(opt.tokens);
const PROMPT = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends. One day, she saw a big red ball in the grass and ran to get it.';
const MODELS = {
  stories260K: { model: join(shared, 'models', 'stories260K', 'stories260K.bin'), tokenizer: join(shared, 'models', 'stories260K', 'tok512.bin') },
  'tinystories-656k': { model: join(shared, 'models', 'tinystories-656k') },
  // ../shared/bench/make-synthetic.mjs makes it (bench/peers.sh says how): stories15M's shape, random weights.
  synth15M: { model: '/tmp/bench/synth15M.bin', tokenizer: '/tmp/bench/tokenizer.bin' },
};
const ARGS = ['--no-sandbox', '--enable-unsafe-webgpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const work = mkdtempSync(join(tmpdir(), 'tessera-bench-web-'));
const site = join(work, 'site');
mkdirSync(join(site, 'artifacts'), { recursive: true });
copyFileSync(join(here, 'examples/web/index.html'), join(site, 'index.html'));
// As `npm run build:web`.
await build({ entryPoints: { main: join(here, 'examples/web/main.ts'), worker: join(here, 'src/web/worker-entry.ts') }, bundle: true, format: 'esm', platform: 'browser', target: 'es2022', outdir: join(site, 'dist'), logLevel: 'warning' });
const names = opt.models.split(',');
for (const name of names) {
  const m = MODELS[name];
  if (!m) throw new Error(`unknown model ${name} (have ${Object.keys(MODELS).join(', ')})`);
  await compile(m.model, { out: join(work, name), ...(m.tokenizer ? { tokenizer: m.tokenizer } : {}) });
  symlinkSync(join(work, name), join(site, 'artifacts', name));
}
const server = await serveStatic(site);
const browser = await chromium.launch({ executablePath: process.env.TESSERA_CHROMIUM ?? '/usr/bin/chromium', args: ARGS });

async function nodeRun(name, threads) {
  const start = performance.now();
  const model = await Model.open(join(work, name), { backend: 'wasm', threads });
  const it = model.generate(PROMPT, { maxTokens, stopAtEos: false });
  let r = await it.next();
  const firstToken = performance.now() - start;
  while (!r.done) r = await it.next();
  await model.dispose();
  return { prefill: r.value.prefillTokensPerSecond, decode: r.value.decodeTokensPerSecond, firstToken };
}

/** As nodeRun with 1 thread, in a fresh Node process: its first compile of the module, untiered as a page's is. */
function freshNodeRun(name) {
  const script = `import { Model } from ${JSON.stringify(join(here, 'dist/src/model.js'))};
const model = await Model.open(${JSON.stringify(join(work, name))}, { backend: 'wasm', threads: 1 });
const it = model.generate(${JSON.stringify(PROMPT)}, { maxTokens: ${maxTokens}, stopAtEos: false });
let r = await it.next();
while (!r.done) r = await it.next();
await model.dispose();
console.log(JSON.stringify({ decode: r.value.decodeTokensPerSecond }));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return JSON.parse(out.trim().split('\n').pop());
}

/** One navigation in `context` (a fresh context: an empty Cache API); `again`: a second generation in the page (tiered code). */
async function browserRun(context, name, query) {
  const page = await context.newPage();
  await page.goto(`${server.url}?model=artifacts/${name}/&${query}`);
  const r = await page.evaluate(async ({ prompt, n }) => {
    await window.tessera.ready;
    const run = await window.tessera.tell(prompt, n);
    const second = await window.tessera.tell(prompt, n);
    return { ...run, again: second.decodeTokensPerSecond, ...window.tessera.timings };
  }, { prompt: PROMPT, n: maxTokens });
  const reason = await page.textContent('#backend');
  await page.close();
  return { prefill: r.prefillTokensPerSecond, decode: r.decodeTokensPerSecond, again: r.again, firstToken: r.firstTokenSinceNavigationMs, scriptStart: r.scriptStart, opened: r.opened, reason };
}

const rows = [];
for (const name of names) {
  const cells = { fresh1: [], node1: [], node2: [], web1: [], web2: [], page2: [], cold: [], cached: [], split: [], gpu: [] };
  let reasons = new Set();
  for (let i = 0; i < rounds; i++) {
    cells.fresh1.push(freshNodeRun(name));
    cells.node1.push(await nodeRun(name, 1));
    cells.node2.push(await nodeRun(name, 2));
    const context = await browser.newContext();
    const cold = await browserRun(context, name, 'backend=wasm&threads=1');
    cells.cold.push(cold.firstToken);
    cells.web1.push(await browserRun(context, name, 'backend=wasm&threads=1'));
    const two = await browserRun(context, name, 'backend=wasm&threads=2');
    cells.web2.push(two);
    cells.cached.push(two.firstToken);
    cells.split.push(two);
    cells.page2.push(await browserRun(context, name, 'backend=wasm&threads=2&engine=page'));
    if (opt.webgpu) cells.gpu.push(await browserRun(context, name, 'backend=webgpu&software=1'));
    for (const r of [cold, two]) reasons.add(r.reason);
    await context.close();
  }
  const med = (xs, k) => median(xs.map((x) => x[k]));
  rows.push({ name, cells, med, reasons: [...reasons] });
  console.error(`# ${name}: ${[...reasons].join(' | ')}`);
}

console.log(`prompt ${PROMPT.length} chars, ${maxTokens} tokens greedy, median of ${rounds} rounds (${new Date().toISOString()})`);
console.log('| model | Node wasm 1t decode | browser wasm 1t decode | Node wasm 2t decode | browser wasm 2t decode | browser wasm 2t decode, engine on the page | Node 2t prefill | browser 2t prefill | nav→first token, cold | nav→first token, cached |' + (opt.webgpu ? ' browser webgpu (SwiftShader) decode |' : ''));
console.log('|---|---|---|---|---|---|---|---|---|---|' + (opt.webgpu ? '---|' : ''));
for (const { name, cells, med } of rows) {
  const f = (v) => v.toFixed(1);
  console.log(`| ${name} | ${f(med(cells.node1, 'decode'))} | ${f(med(cells.web1, 'decode'))} | ${f(med(cells.node2, 'decode'))} | ${f(med(cells.web2, 'decode'))} | ${f(med(cells.page2, 'decode'))} | ${f(med(cells.node2, 'prefill'))} | ${f(med(cells.web2, 'prefill'))} | ${median(cells.cold).toFixed(0)} ms | ${median(cells.cached).toFixed(0)} ms |` + (opt.webgpu ? ` ${f(med(cells.gpu, 'decode'))} |` : ''));
}
console.log('\nbrowser / Node decode, median of the per-round ratios (each round runs both within seconds):');
for (const { name, cells } of rows) {
  const ratio = (web, node, k = 'decode') => median(web.map((w, i) => w[k] / node[i].decode)).toFixed(2);
  console.log(`${name}: first generation after navigation / warm Node process: 1 thread ${ratio(cells.web1, cells.node1)} · 2 threads ${ratio(cells.web2, cells.node2)} · 2 threads, engine on the page ${ratio(cells.page2, cells.node2)}`);
  console.log(`${name}: same tiering — first generation / fresh Node process (1 thread) ${ratio(cells.web1, cells.fresh1)} · second generation in the page / warm Node process: 1 thread ${ratio(cells.web1, cells.node1, 'again')} · 2 threads ${ratio(cells.web2, cells.node2, 'again')} · 2 threads, engine on the page ${ratio(cells.page2, cells.node2, 'again')}`);
  console.log(`${name}: decode medians — Node fresh process 1t ${median(cells.fresh1.map((x) => x.decode)).toFixed(1)} · browser second generation 1t ${median(cells.web1.map((x) => x.again)).toFixed(1)}, 2t ${median(cells.web2.map((x) => x.again)).toFixed(1)}, page 2t ${median(cells.page2.map((x) => x.again)).toFixed(1)}`);
}
console.log('\nnavigation → first token (cached, 2 threads), medians: script running · model open · first token; Node: Model.open → first token (in a warm process)');
for (const { name, cells } of rows) {
  const m = (k) => median(cells.split.map((x) => x[k])).toFixed(0);
  console.log(`${name}: ${m('scriptStart')} ms · ${m('opened')} ms · ${m('firstToken')} ms; Node ${median(cells.node2.map((x) => x.firstToken)).toFixed(0)} ms`);
}
console.log(`(load average while measuring: ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(', ')})`);
await browser.close();
await server.close();
rmSync(work, { recursive: true, force: true });
