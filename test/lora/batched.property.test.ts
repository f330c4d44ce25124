// Run-time LoRA inside batched steps (issue 24): the sequences of one BatchedModel each run with
// their own request's adapters — A, B, none, the model's defaults, A at other scales (0 and
// negative), A and B together — at staggered starts, so one step holds rows of several adapter
// sets beside rows with none. Each sequence's greedy tokens equal its single-sequence run
// (Model.generate with the same `lora`), and logits of rows batched together equal Model.logits
// with those scales within 1e-4·max|logit|, on the reference, wasm and webgpu backends, with the
// compiler forbidden once the models are open. The
// per-row scales themselves (ir/ops/lora.ts): a row equals that row run alone with shared scales.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { tensor } from '../../ir/tensor.js';
import { BatchedModel, type BatchedSequence } from '../../src/batched.js';
import type { LoraRequest } from '../../src/lora.js';
import { Model } from '../../src/model.js';
import { run1 } from '../ir/ops/harness.js';
import { webgpuIfAdapter } from '../helpers/gpu.js';
import { maxAbsDiff } from '../helpers/refs.js';
import { hasShared, sharedPath } from '../helpers/shared.js';
import { randomFactor, rng, writeGgufAdapter } from './adapters.js';

const GGUF = ['models', 'tinystories-656k', 'TinyStories-656K.f16.gguf'] as const;
const LORA = ['models', 'lora'] as const;
/** A kernel backend compiles the model's module and the batched step's (asc: minutes when loaded). */
const TIMEOUT = 600_000;
const GREEDY = { temperature: 0, stopAtEos: false } as const;
const maxAbs = (xs: Float32Array) => xs.reduce((m, x) => Math.max(m, Math.abs(x)), 0);

/**
 * What a request may ask for. The model opens with A at 0.5 and B at 0 (the defaults a request
 * without `lora` runs with); `[]` turns both off.
 */
const CHOICES: readonly (readonly LoraRequest[] | undefined)[] = [
  [{ id: 'a', scale: 1 }],
  [{ id: 'b', scale: 1 }],
  [],
  undefined,
  [{ id: 'a', scale: 0.5 }],
  [{ id: 'a', scale: 0 }],
  [{ id: 0, scale: -1 }, { id: 'b', scale: 0.75 }],
  [{ id: 'b', scale: -1.5 }],
];
const lora = (choice: number) => (CHOICES[choice] ? { lora: CHOICES[choice] } : {});

interface Job {
  readonly prompt: readonly number[];
  readonly maxTokens: number;
  /** Tokens the batch has produced before this request arrives. */
  readonly arrival: number;
  /** Index into CHOICES. */
  readonly choice: number;
}

const arbJobs = fc.array(
  fc.record({
    prompt: fc.array(fc.integer({ min: 3, max: 2000 }), { minLength: 1, maxLength: 14 }),
    maxTokens: fc.integer({ min: 1, max: 10 }),
    arrival: fc.integer({ min: 0, max: 20 }),
    choice: fc.integer({ min: 0, max: CHOICES.length - 1 }),
  }),
  { minLength: 2, maxLength: 5 },
);

async function collect(stream: AsyncGenerator<{ id: number }, unknown>): Promise<number[]> {
  const ids: number[] = [];
  for await (const t of stream) ids.push(t.id);
  return ids;
}

/** Each job alone on the model's own executor, with its adapters. */
async function alone(model: Model, jobs: readonly Job[]): Promise<number[][]> {
  const out: number[][] = [];
  for (const job of jobs) out.push(await collect(model.generate(job.prompt, { ...GREEDY, maxTokens: job.maxTokens, ...lora(job.choice) })));
  return out;
}

/** The jobs through the batched model's sequences, each starting once the batch produced `arrival` tokens. */
async function batched(model: BatchedModel, jobs: readonly Job[]): Promise<number[][]> {
  const seqs = jobs.map(() => model.sequence());
  let produced = 0;
  const arrivals: { at: number; go: () => void }[] = [];
  const release = (last: boolean) => {
    for (const a of arrivals.splice(0)) {
      if (produced >= a.at || last) a.go();
      else arrivals.push(a);
    }
  };
  let unfinished = jobs.length;
  const runs = jobs.map(async (job, i) => {
    if (job.arrival > 0) await new Promise<void>((go) => { arrivals.push({ at: job.arrival, go }); });
    const ids: number[] = [];
    try {
      for await (const t of seqs[i].generate(job.prompt, { ...GREEDY, maxTokens: job.maxTokens, ...lora(job.choice) })) {
        ids.push(t.id);
        produced++;
        release(false);
      }
    } finally {
      // Nothing left running to produce tokens: the waiting jobs start now.
      release(--unfinished === arrivals.length);
    }
    return ids;
  });
  release(unfinished === arrivals.length);
  try {
    return await Promise.all(runs);
  } finally {
    await Promise.allSettled(runs);
    await Promise.all(seqs.map((s) => s.dispose()));
  }
}

const BACKENDS = ['reference', 'wasm', ...(await webgpuIfAdapter('batched run-time LoRA'))] as const;

describe.runIf(hasShared(...GGUF) && hasShared(...LORA))('run-time LoRA in batched steps', () => {
  let dir: string, a: string, b: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-lora-batched-'));
    a = sharedPath(...LORA, 'tinystories-656k-r8', 'adapter.gguf');
    const next = rng(23);
    // B adapts q (layer 0) and down (layer 1), where it stacks onto A's blocks.
    b = writeGgufAdapter(join(dir, 'b.gguf'), [randomFactor('blk.0.attn_q.weight', 3, 128, 128, next), randomFactor('blk.1.ffn_down.weight', 2, 384, 128, next)], { alpha: 6, architecture: 'llama' });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const backend of BACKENDS) {
    describe(backend, () => {
      let model: Model, many: BatchedModel;
      beforeAll(async () => {
        const adapters = [{ path: a, runtime: true, id: 'a', scale: 0.5 }, { path: b, runtime: true, id: 'b', scale: 0 }];
        const path = sharedPath(...GGUF);
        // Threads that sleep at once: two pools share the cores.
        model = backend === 'reference' ? Model.load(path, { lora: adapters })
          : await Model.open(path, { backend, passes: 'default', lora: adapters, ...(backend === 'wasm' ? { threads: 2, spinMicros: 0 } : {}) });
        many = await BatchedModel.open(model, { sequences: 5, blockSize: 4, kvBlocks: 40, maxRows: 8 });
      }, TIMEOUT);
      afterAll(async () => {
        await many?.dispose();
        await model?.dispose();
      });

      it('rows of different adapters batched together: each row\'s logits equal Model.logits with its scales', async () => {
        const prompts = [[1, 80, 147, 201], [1, 282, 57], [1, 9, 300, 41, 7], [1, 80, 147, 201], [1, 1000]];
        const requests: (readonly LoraRequest[])[] = [[{ id: 'a', scale: 1 }], [{ id: 'b', scale: 2 }], [], [{ id: 'a', scale: -0.5 }, { id: 'b', scale: 1 }], [{ id: 'a', scale: 0 }]];
        const seqs: BatchedSequence[] = prompts.map(() => many.sequence());
        const steps = many.stats.steps;
        const got = await Promise.all(seqs.map((s, i) => s.logits(prompts[i], { lora: requests[i] })));
        // 18 rows in steps of 8: the first two each hold rows of two or three adapter sets.
        expect(many.stats.steps - steps).toBe(3);
        for (const s of seqs) await s.dispose();
        const want: Float32Array[] = [];
        try {
          for (const [i, r] of requests.entries()) {
            const scales = [0, 0];
            for (const { id, scale } of r) scales[id === 'a' || id === 0 ? 0 : 1] = scale;
            model.setLoraScales(scales);
            want.push(await model.logits(prompts[i]));
          }
        } finally {
          model.setLoraScales([0.5, 0]);
        }
        for (const [i, w] of want.entries()) expect(maxAbsDiff(got[i], w), `sequence ${i}, lora ${JSON.stringify(requests[i])}`).toBeLessThanOrEqual(1e-4 * Math.max(1, maxAbs(w)));
        // The same prompt with A and with A and B differ: the adapters reached their rows.
        expect(maxAbsDiff(got[0], got[3])).toBeGreaterThan(0.05);
      }, TIMEOUT);

      it('greedy tokens of sequences with different adapters at staggered starts equal each one run alone, without the compiler', async () => {
        // Switching adapters between requests and rows must not compile anything.
        process.env.TESSERA_FORBID_COMPILER = '1';
        onTestFinished(() => { delete process.env.TESSERA_FORBID_COMPILER; });
        await fc.assert(
          fc.asyncProperty(arbJobs, async (jobs) => {
            expect(await batched(many, jobs)).toEqual(await alone(model, jobs));
            expect(many.stats.blocksInUse).toBe(0);
          }),
          { numRuns: backend === 'webgpu' ? 6 : 10 },
        );
      }, TIMEOUT);

      it('an unknown adapter is refused when the request is made, naming the known ones', () => {
        const seq = many.sequence();
        expect(() => seq.generate([1, 2], { lora: [{ id: 'c', scale: 1 }] })).toThrow(/lora\[0\]\.id "c" names no run-time adapter of this model \(known: 0 \(a\), 1 \(b\)\)/);
      });
    });
  }
});

describe('matmul_lora with per-row scales', () => {
  it('each row equals that row alone with its scales shared', () => {
    fc.assert(fc.property(
      fc.record({
        seed: fc.nat(), rows: fc.integer({ min: 1, max: 4 }), n: fc.integer({ min: 1, max: 5 }), k: fc.integer({ min: 1, max: 6 }),
        ranks: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 3 }),
        scales: fc.array(fc.constantFrom(0, 1, -1, 0.5, -1.75), { minLength: 8, maxLength: 8 }),
      }),
      ({ seed, rows, n, k, ranks, scales }) => {
        const next = rng(seed);
        const rand = (len: number) => Float32Array.from({ length: len }, () => 2 * next() - 1);
        const f32 = (shape: number[], data: Float32Array) => tensor('f32', shape, data);
        const R = ranks.reduce((s, r) => s + r, 0);
        const attrs = { ranks, slots: ranks.map((_, j) => j % 2), factors: ranks.map((r) => 2 / r) };
        const x = rand(rows * k), w = f32([n, k], rand(n * k)), aT = f32([R, k], rand(R * k)), bT = f32([n, R], rand(n * R));
        const perRow = Float32Array.from({ length: rows * 2 }, (_, i) => scales[i % scales.length]);
        const y = run1('matmul_lora', [f32([rows, k], x), w, aT, bT, f32([rows, 2], perRow)], attrs);
        for (let r = 0; r < rows; r++) {
          const one = run1('matmul_lora', [f32([1, k], x.slice(r * k, (r + 1) * k)), w, aT, bT, f32([2], perRow.slice(r * 2, r * 2 + 2))], attrs);
          expect(Array.from(y.data.slice(r * n, (r + 1) * n))).toEqual(Array.from(one.data));
        }
      },
    ));
  });

  it('names per-row scales whose rows do not match x', () => {
    const f32 = (shape: number[]) => tensor('f32', shape, new Float32Array(shape.reduce((p, d) => p * d, 1)));
    expect(() => run1('matmul_lora', [f32([3, 2]), f32([2, 2]), f32([1, 2]), f32([2, 1]), f32([2, 1])], { ranks: [1], slots: [0], factors: [1] }))
      .toThrow(/per-row scales must have one row per row of x \(3\), got f32\[2, 1\]/);
  });
});
