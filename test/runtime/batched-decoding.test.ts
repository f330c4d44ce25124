// Continuous batching is token-identical to running each request alone (greedy), for mixed prompt
// lengths, requests that start and end at different steps, fewer slots than requests (a slot's
// sequence runs the next request in the blocks the last one gave back) and a pool too small for
// every slot at once (blocks wait and are reused), on the reference, wasm and webgpu backends.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../ir/errors.js';
import { BatchedModel, type BatchedOptions } from '../../src/batched.js';
import { Model } from '../../src/model.js';
import { webgpuIfAdapter } from '../helpers/gpu.js';
import { hasShared, sharedPath } from '../helpers/shared.js';

const MODEL = ['models', 'stories260K', 'stories260K.bin'] as const;

interface Job {
  readonly prompt: readonly number[];
  readonly maxTokens: number;
  /** Tokens the batch has produced before this request arrives. */
  readonly arrival: number;
}

const arbJobs = fc.array(
  fc.record({
    prompt: fc.array(fc.integer({ min: 3, max: 511 }), { minLength: 1, maxLength: 20 }),
    maxTokens: fc.integer({ min: 1, max: 12 }),
    arrival: fc.integer({ min: 0, max: 30 }),
  }),
  { minLength: 1, maxLength: 6 },
);

const GREEDY = { temperature: 0, stopAtEos: false } as const;

async function collect(stream: AsyncGenerator<{ id: number }, unknown>): Promise<number[]> {
  const ids: number[] = [];
  for await (const t of stream) ids.push(t.id);
  return ids;
}

/** Each job alone on the model's own executor, one after another. */
async function alone(model: Model, jobs: readonly Job[]): Promise<number[][]> {
  const out: number[][] = [];
  for (const job of jobs) out.push(await collect(model.generate(job.prompt, { ...GREEDY, maxTokens: job.maxTokens })));
  return out;
}

/**
 * Runs the jobs through `slots` sequences of a batched model: a job arrives once the batch has
 * produced `arrival` tokens (or nothing is running), then waits for a free slot.
 */
async function runBatched(batched: BatchedModel, slots: number, jobs: readonly Job[]): Promise<number[][]> {
  const free = Array.from({ length: slots }, () => batched.sequence());
  const waiters: (() => void)[] = [];
  let produced = 0, running = 0;
  const arrivals: { at: number; go: () => void }[] = [];
  const release = () => {
    for (const a of arrivals.splice(0)) {
      if (produced >= a.at || running === 0) a.go();
      else arrivals.push(a);
    }
  };
  const settled = await Promise.allSettled(jobs.map(async (job) => {
    await new Promise<void>((go) => { arrivals.push({ at: job.arrival, go }); release(); });
    while (free.length === 0) await new Promise<void>((r) => waiters.push(r));
    const seq = free.pop()!;
    running++;
    const ids: number[] = [];
    try {
      for await (const t of seq.generate(job.prompt, { ...GREEDY, maxTokens: job.maxTokens })) {
        ids.push(t.id);
        produced++;
        release();
      }
    } finally {
      running--;
      free.push(seq);
      waiters.shift()?.();
      release();
    }
    return ids;
  }));
  // Every sequence gives its blocks back even when a job failed, so the next run starts clean.
  await Promise.all(free.map((s) => s.dispose()));
  return settled.map((r) => {
    if (r.status === 'rejected') throw r.reason;
    return r.value;
  });
}

// Small blocks and steps, so that tables span several blocks and prompts run in several chunks;
// 24 blocks of 4 hold three sequences of the longest job (32 positions), so no job is refused, and
// blocks freed by one job are taken by the next.
// (wasm and webgpu compile a program per layout, so they take the first only.)
const LAYOUTS: readonly { readonly slots: number; readonly opts: BatchedOptions }[] = [
  { slots: 3, opts: { sequences: 3, blockSize: 4, kvBlocks: 24, maxRows: 8 } },
  { slots: 1, opts: { sequences: 1, blockSize: 16, maxRows: 5 } },
];
const LAYOUTS_ON = { reference: LAYOUTS, wasm: LAYOUTS.slice(0, 1), webgpu: LAYOUTS.slice(0, 1) };

const BACKENDS = ['reference', 'wasm', ...(await webgpuIfAdapter('batched decoding'))] as const;

for (const backend of BACKENDS) {
  describe.runIf(hasShared(...MODEL))(`batched greedy decoding on ${backend} equals each request alone`, () => {
    let model: Model;
    const batched: BatchedModel[] = [];
    beforeAll(async () => {
      const path = sharedPath(...MODEL);
      const tokenizer = sharedPath('models', 'stories260K', 'tok512.bin');
      // Threads that sleep at once: two pools share the two cores.
      model = backend === 'reference' ? Model.load(path, { tokenizer })
        : backend === 'wasm' ? await Model.open(path, { tokenizer, backend, threads: 2, spinMicros: 0, passes: 'default' })
          : await Model.open(path, { tokenizer, backend, passes: 'default' });
      for (const l of LAYOUTS_ON[backend]) batched.push(await BatchedModel.open(model, l.opts));
    }, 300_000);
    afterAll(async () => {
      for (const b of batched) await b.dispose();
      await model?.dispose();
    });

    it('two requests at once, one starting later: the same tokens, and every block given back', async () => {
      const jobs: Job[] = [{ prompt: [1, 403, 407], maxTokens: 10, arrival: 0 }, { prompt: [1, 68, 5, 99, 200, 17, 300], maxTokens: 6, arrival: 4 }];
      const got = await runBatched(batched[0], 3, jobs);
      expect(got).toEqual(await alone(model, jobs));
      expect(batched[0].stats.blocksInUse).toBe(0);
      expect(batched[0].stats.steps).toBeLessThan(10 + 6 + 2);
    }, 120_000);

    it('random jobs: mixed lengths, staggered starts and ends, slots and blocks reused', async () => {
      await fc.assert(
        fc.asyncProperty(arbJobs, fc.integer({ min: 0, max: LAYOUTS_ON[backend].length - 1 }), async (jobs, which) => {
          const got = await runBatched(batched[which], LAYOUTS[which].slots, jobs);
          expect(got).toEqual(await alone(model, jobs));
          expect(batched[which].stats.blocksInUse).toBe(0);
        }),
        { numRuns: backend === 'webgpu' ? 4 : 8 },
      );
    }, 300_000);
  });
}

// The pool's refusal is the scheduler's (runtime/paged/engine.ts), the same on every backend.
describe.runIf(hasShared(...MODEL))('a batched model whose pool cannot hold a request', () => {
  let model: Model;
  beforeAll(() => { model = Model.load(sharedPath(...MODEL), { tokenizer: sharedPath('models', 'stories260K', 'tok512.bin') }); });
  afterAll(() => model?.dispose());

  it('a sequence that cannot get blocks while nothing else runs is refused, and its blocks come back', async () => {
    const small = await BatchedModel.open(model, { sequences: 2, blockSize: 4, kvBlocks: 2, maxRows: 8 });
    try {
      const seq = small.sequence();
      await expect(collect(seq.generate([1, 2, 3, 4, 5, 6, 7, 8, 9], { ...GREEDY, maxTokens: 2 }))).rejects.toThrow(/the KV cache is full/);
      expect(small.stats.blocksInUse).toBe(0);
      // A job that fits still runs afterwards.
      expect(await collect(seq.generate([1, 2, 3], { ...GREEDY, maxTokens: 3 }))).toEqual(await alone(model, [{ prompt: [1, 2, 3], maxTokens: 3, arrival: 0 }]).then((r) => r[0]));
    } finally {
      await small.dispose();
    }
  }, 60_000);
});

// The paged step program goes through the lowering cache like the model's own step programs, so a
// second `serve --parallel` start neither lowers the paged graph nor runs AssemblyScript. A private
// cache directory, so other test files' entries do not move the count.
describe.runIf(hasShared(...MODEL))('the batched step on wasm is served from the lowering cache', () => {
  let dir: string;
  let saved: string | undefined;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-batched-cache-'));
    saved = process.env.TESSERA_CACHE_DIR;
    process.env.TESSERA_CACHE_DIR = dir;
  });
  afterAll(() => {
    process.env.TESSERA_CACHE_DIR = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  it('a second open of the same layout adds no entry and gives the same tokens', async () => {
    const entries = () => (existsSync(join(dir, 'wasm-programs')) ? readdirSync(join(dir, 'wasm-programs')).length : 0);
    const model = await Model.open(sharedPath(...MODEL), { tokenizer: sharedPath('models', 'stories260K', 'tok512.bin'), backend: 'wasm', threads: 1, passes: 'default' });
    const opened: BatchedModel[] = [];
    try {
      const opts: BatchedOptions = { sequences: 2, blockSize: 8, maxRows: 6 };
      const before = entries();
      opened.push(await BatchedModel.open(model, opts));
      expect(entries()).toBe(before + 1);
      opened.push(await BatchedModel.open(model, opts));
      expect(entries()).toBe(before + 1);
      const jobs: Job[] = [{ prompt: [1, 403, 407, 12], maxTokens: 8, arrival: 0 }, { prompt: [1, 68, 5], maxTokens: 5, arrival: 2 }];
      const fresh = await runBatched(opened[0], 2, jobs);
      expect(await runBatched(opened[1], 2, jobs)).toEqual(fresh);
      expect(fresh).toEqual(await alone(model, jobs));
    } finally {
      for (const b of opened) await b.dispose();
      await model.dispose();
    }
  }, 300_000);
});

// A server whose requests all run batched frees the model's own executor (one copy of the weights).
describe.runIf(hasShared(...MODEL))('a model whose executor was released to its batched form', () => {
  it('its sequences still decode as the model did alone; the model itself refuses with a UsageError', async () => {
    const model = Model.load(sharedPath(...MODEL), { tokenizer: sharedPath('models', 'stories260K', 'tok512.bin') });
    const jobs: Job[] = [{ prompt: [1, 403, 407], maxTokens: 6, arrival: 0 }, { prompt: [1, 68, 5, 99], maxTokens: 4, arrival: 1 }];
    const want = await alone(model, jobs);
    const batched = await BatchedModel.open(model, { sequences: 2, blockSize: 4, maxRows: 8 });
    try {
      await model.releaseExecutor();
      expect(await runBatched(batched, 2, jobs)).toEqual(want);
      expect(() => model.generate([1, 2], { maxTokens: 1 })).toThrow(UsageError);
      expect(() => model.executor).toThrow(/released/);
    } finally {
      await batched.dispose();
      await model.dispose();
    }
  }, 120_000);
});
