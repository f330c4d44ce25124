// Opening, using and disposing models over and over leaks nothing: after a warm-up cycle (which
// compiles the wasm module, fills the pipeline caches and starts the shared GPU device), further
// Model.open → generate → dispose cycles leave every Model and Executor collectable, the OS thread
// count back where it was (the wasm pool's workers have exited), and memory flat within bounds
// measured on lavapipe + 2 cores (see the constants). A process that loads, generates and disposes
// exits by itself, promptly.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { type BackendName } from '../../src/backends.js';
import { Model } from '../../src/model.js';
import { gpuSkipReason } from '../helpers/gpu.js';
import { hasShared, sharedPath } from '../helpers/shared.js';

// A real collector call: the bounds below are about what survives a full GC, not about when V8
// happens to collect. `--expose-gc` set at run time applies to contexts created afterwards.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const CYCLES = 8;
const MiB = 2 ** 20;
/**
 * RSS growth allowed from the end of the warm-up cycle to the end of the last one. Measured: wasm
 * drifts < 1 MiB over 30 cycles, while one leaked wasm model keeps ~8 MiB resident (its shared
 * memory, weights, KV cache), so 7 leaked cycles would add ~55 MiB. WebGPU on lavapipe is noisier
 * (native allocator arenas of Dawn's and llvmpipe's threads): +30…60 MiB over the first cycles,
 * then flat (with MALLOC_ARENA_MAX=1: +65 MiB by cycle 3, then 370 ± 5 MiB through cycle 150),
 * so it gets a loose bound (worst seen +60 MiB by cycle 7); its leak detector is the
 * collectability check.
 */
const RSS_BOUND: Record<'wasm' | 'webgpu', (baseline: number) => number> = {
  wasm: () => 16 * MiB,
  webgpu: (baseline) => Math.max(96 * MiB, 0.25 * baseline),
};
/** JS heap and off-heap buffers: caches settle in the warm-up; measured drift ~1 MiB / 30 cycles. */
const HEAP_BOUND = 8 * MiB;
const EXTERNAL_BOUND = 2 * MiB;

const MODEL = () => sharedPath('models', 'stories260K', 'stories260K.bin');
const DIST = resolve(__dirname, '../../dist/src/index.js');

/** Counting this process's OS threads needs Linux's /proc; elsewhere the thread checks skip, loudly. */
const COUNTS_THREADS = process.platform === 'linux';
if (!COUNTS_THREADS) console.warn(`[tessera tests] SKIPPING the OS thread checks of dispose.test.ts: they read /proc/self/status (Linux), this is ${process.platform}`);

/** OS threads of this process (Linux); undefined elsewhere. */
function osThreads(): number | undefined {
  if (!COUNTS_THREADS) return undefined;
  const m = /^Threads:\s+(\d+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  if (!m) throw new Error('/proc/self/status has no Threads: line');
  return Number(m[1]);
}

async function settle(): Promise<void> {
  // WeakRefs are cleared between tasks; finalizers of native wrappers run after a collection.
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 10));
    gc();
  }
}

interface Snapshot {
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly arrayBuffers: number;
  readonly threads?: number;
}

async function snapshot(): Promise<Snapshot> {
  await settle();
  const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage();
  return { rss, heapUsed, external, arrayBuffers, threads: osThreads() };
}

/** Waits (a little) for the thread count to come back to `want`: a joined worker leaves at once. */
async function threadsBackTo(want: number | undefined): Promise<number | undefined> {
  let now = osThreads();
  for (let i = 0; i < 30 && want !== undefined && now !== undefined && now > want; i++) {
    await new Promise((r) => setTimeout(r, 100));
    now = osThreads();
  }
  return now;
}

interface CycleResult {
  readonly tokens: number;
  readonly threadsWhileOpen?: number;
  readonly model: WeakRef<Model>;
  readonly executor: WeakRef<object>;
}

/** One Model.open → short generate → dispose; hands back only weak references. */
async function cycle(backend: BackendName): Promise<CycleResult> {
  const model = await Model.open(MODEL(), { backend, threads: 2 });
  expect(model.executor.backend).toBe(backend);
  const threadsWhileOpen = osThreads();
  let tokens = 0;
  for await (const t of model.generate('Once upon a time', { maxTokens: 6, stopAtEos: false })) if (t.id >= 0) tokens++;
  const executor = new WeakRef(model.executor); // before dispose(), after which the model refuses every use
  await model.dispose();
  return { tokens, threadsWhileOpen, model: new WeakRef(model), executor };
}

const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;

async function repeatedCycles(backend: 'wasm' | 'webgpu'): Promise<void> {
  const warm = await cycle(backend);
  expect(warm.tokens).toBe(6);
  const base = await snapshot();
  const refs: CycleResult[] = [warm];
  const rows: string[] = [];
  for (let i = 1; i < CYCLES; i++) {
    const r = await cycle(backend);
    expect(r.tokens).toBe(6);
    refs.push(r);
    if (backend === 'wasm' && base.threads !== undefined && r.threadsWhileOpen !== undefined) {
      // threads: 2 = the main thread and one worker, which must be running while the model is
      // open and gone (exited and joined) once dispose() has resolved. Compared with the count
      // while open, so that a pool Node or V8 starts lazily meanwhile does not matter.
      expect(r.threadsWhileOpen, `cycle ${i}: OS threads while open`).toBeGreaterThanOrEqual(base.threads + 1);
      expect(await threadsBackTo(r.threadsWhileOpen - 1), `cycle ${i}: OS threads after dispose`).toBeLessThanOrEqual(r.threadsWhileOpen - 1);
    }
    const s = await snapshot();
    rows.push(`cycle ${i}: rss ${mib(s.rss)}, heap ${mib(s.heapUsed)}, external ${mib(s.external)}, arrayBuffers ${mib(s.arrayBuffers)}, threads ${s.threads}`);
  }
  const end = await snapshot();
  const report = `${backend}, baseline rss ${mib(base.rss)}, heap ${mib(base.heapUsed)}, external ${mib(base.external)}\n${rows.join('\n')}`;

  // Nothing of a disposed model stays reachable (the executor holds the wasm memory / GPU buffers).
  const alive = refs.flatMap((r, i) => [r.model.deref() ? `model ${i}` : [], r.executor.deref() ? `executor ${i}` : []].flat());
  expect(alive, `still reachable after dispose and GC\n${report}`).toEqual([]);

  // Threads: the count after the last cycle is the one after the warm-up (webgpu: the shared
  // device's threads were started by the warm-up and stay; no new ones per model). One thread of
  // slack for a pool started lazily by Node or V8; a leak per cycle would show as 7.
  if (base.threads !== undefined) expect(await threadsBackTo(base.threads), `OS threads\n${report}`).toBeLessThanOrEqual(base.threads + 1);

  expect(end.rss - base.rss, `RSS growth over ${CYCLES - 1} cycles\n${report}`).toBeLessThan(RSS_BOUND[backend](base.rss));
  expect(end.heapUsed - base.heapUsed, `heap growth\n${report}`).toBeLessThan(HEAP_BOUND);
  expect(end.external - base.external, `external growth\n${report}`).toBeLessThan(EXTERNAL_BOUND);
  expect(end.arrayBuffers - base.arrayBuffers, `arrayBuffers growth\n${report}`).toBeLessThan(EXTERNAL_BOUND);
}

interface ChildRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** ms from the child's "disposed" line to its exit. */
  readonly exitAfterDisposeMs?: number;
}

/**
 * A fresh node process that opens, generates, disposes and then simply returns from its module.
 * The script is a file, not `node --input-type=module -e`: workers inherit the parent's execArgv,
 * and with --input-type=module the wasm pool's eval'd CommonJS worker source fails to start.
 */
function runChild(backend: BackendName): Promise<ChildRun> {
  const script = `
    const [dist, model, backend] = process.argv.slice(2);
    const { Model } = await import(dist);
    const m = await Model.open(model, { backend, threads: 2 });
    let n = 0;
    for await (const t of m.generate('Once upon a time', { maxTokens: 4, stopAtEos: false })) if (t.id >= 0) n++;
    await m.dispose();
    console.log('disposed ' + n);
  `;
  const dir = mkdtempSync(join(tmpdir(), 'tessera-dispose-'));
  const file = join(dir, 'child.mjs');
  writeFileSync(file, script);
  return new Promise<ChildRun>((done, fail) => {
    const child = spawn(process.execPath, [file, pathToFileURL(DIST).href, MODEL(), backend], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    let disposedAt: number | undefined;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (disposedAt === undefined && stdout.includes('disposed')) disposedAt = performance.now();
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    // A child that never exits is the failure this test is about: kill it after a generous while.
    const killer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', fail);
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      done({ code, signal, stdout, stderr, ...(disposedAt !== undefined ? { exitAfterDisposeMs: performance.now() - disposedAt } : {}) });
    });
  }).finally(() => rmSync(dir, { recursive: true, force: true }));
}

async function expectChildExits(backend: BackendName): Promise<void> {
  if (!existsSync(DIST)) throw new Error(`${DIST} is missing: build first (npx tsc -p tsconfig.json; npm test does)`);
  const r = await runChild(backend);
  const what = `exit ${r.code} (${r.signal ?? 'no signal'})\nstdout: ${r.stdout}\nstderr: ${r.stderr.slice(-2000)}`;
  expect(r.signal, what).toBeNull();
  expect(r.code, what).toBe(0);
  expect(r.stdout, what).toMatch(/disposed 4/);
  expect(r.exitAfterDisposeMs, what).toBeLessThan(5_000);
}

describe.runIf(hasShared('models'))('dispose: repeated open → generate → dispose', () => {
  const gpuReason = gpuSkipReason('WebGPU dispose tests');

  it(`wasm (2 threads): ${CYCLES} cycles leave no model, worker thread or memory behind`, async () => {
    await repeatedCycles('wasm');
  }, 300_000);

  it(`webgpu: ${CYCLES} cycles leave no model or memory behind (when an adapter exists)`, async (t) => {
    if (gpuReason()) return t.skip();
    await repeatedCycles('webgpu');
  }, 300_000);

  it.runIf(COUNTS_THREADS)('a wasm model dropped without dispose() stops its worker threads once it is collected', async () => {
    const before = osThreads()!;
    let model: Model | undefined = await Model.open(MODEL(), { backend: 'wasm', threads: 3 });
    await model.logits([1, 2, 3]);
    const open = osThreads()!;
    expect(open).toBeGreaterThanOrEqual(before + 2);
    const ref = new WeakRef(model);
    model = undefined;
    for (let i = 0; i < 20 && ref.deref() !== undefined; i++) await settle();
    expect(ref.deref(), 'the model was collected').toBeUndefined();
    expect(await threadsBackTo(open - 2), 'its two workers exited').toBeLessThanOrEqual(open - 2);
  }, 120_000);

  it('a process that loads (wasm, 2 threads), generates and disposes exits by itself, promptly', async () => {
    await expectChildExits('wasm');
  }, 180_000);

  it('the same on webgpu (when an adapter exists)', async (t) => {
    if (gpuReason()) return t.skip();
    await expectChildExits('webgpu');
  }, 180_000);
});
