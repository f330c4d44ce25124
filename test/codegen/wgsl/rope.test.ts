// rope against the reference within 1e-5 at positions up to several thousand: default, partial
// rotary, interleaved, llama3 and longrope scaling (both factor sets, chosen by the positions
// on the GPU), batched and shared positions, f16 inputs.
import fc from 'fast-check';
import { afterAll, describe, it } from 'vitest';
import { type AttrValue, type DType, findOp, sym, tensor } from '../../../ir/index.js';
import { checkOp, closeGpu, expectAdapter, openGpu, randomTensor, rng } from './harness.js';

const gpu = await openGpu();
expectAdapter(gpu);
const S = sym('S');

const scalings: Record<string, (d: number) => Record<string, AttrValue>> = {
  none: () => ({}),
  llama3: () => ({ scaling: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_positions: 64 }),
  longrope: (rd) => ({
    scaling: 'longrope', original_max_positions: 32, max_positions: 128,
    short_factor: Array.from({ length: rd / 2 }, (_, i) => 1 + i * 0.05),
    long_factor: Array.from({ length: rd / 2 }, (_, i) => 1 + i * 0.7),
  }),
};

describe.runIf(gpu.ctx && findOp('rope'))('WGSL rope', () => {
  afterAll(() => closeGpu(gpu));

  it('matches the reference within 1e-5 for every variant', async () => {
    await fc.assert(fc.asyncProperty(
      fc.record({
        s: fc.integer({ min: 1, max: 6 }),
        h: fc.integer({ min: 1, max: 3 }),
        d: fc.constantFrom(2, 8, 16, 64, 96),
        partial: fc.boolean(),
        interleaved: fc.boolean(),
        scaling: fc.constantFrom('none', 'llama3', 'longrope'),
        theta: fc.constantFrom(1e4, 5e5, 1e6),
        maxPos: fc.constantFrom(5, 31, 40, 4000, 8000),
        batch: fc.constantFrom(0, 2),
        sharedPos: fc.boolean(),
        dtype: fc.constantFrom<DType>('f32', 'f32', 'f16'),
        seed: fc.integer(),
      }),
      async (c) => {
        const rd = c.partial && c.d >= 4 ? (c.d * 3) / 4 - (((c.d * 3) / 4) % 2) : c.d;
        const attrs = { theta: c.theta, interleaved: c.interleaved, ...(rd !== c.d ? { rotary_dim: rd } : {}), ...scalings[c.scaling](rd) };
        const lead = c.batch ? [c.batch] : [];
        const r = rng(c.seed);
        const posShape = c.batch && !c.sharedPos ? [c.batch, c.s] : [c.s];
        const pos = tensor('i32', posShape, Int32Array.from({ length: posShape.reduce((p, q) => p * q, 1) }, () => Math.floor(r() * (c.maxPos + 1))));
        await checkOp(gpu, {
          op: 'rope', attrs,
          operands: [
            { t: randomTensor(c.dtype, [...lead, c.s, c.h, c.d], c.seed), shape: [...lead, S, c.h, c.d] },
            { t: pos, shape: posShape.length === 2 ? [c.batch, S] : [S] },
          ],
          dims: { S: c.s },
        }, { tol: 1e-5 });
      }), { numRuns: 25 });
  });
});
