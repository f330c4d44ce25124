// softmax (any axis), argmax (first maximum, ties), l2_normalize, mean_pool against the reference.
import fc from 'fast-check';
import { afterAll, describe, it } from 'vitest';
import { type DType, f32, findOp, sym, tensor } from '../../../ir/index.js';
import { checkOp, closeGpu, expectAdapter, openGpu, randomInts, randomTensor, rng } from './harness.js';

const gpu = await openGpu();
expectAdapter(gpu);
const S = sym('S');

describe.runIf(gpu.ctx)('WGSL reductions', () => {
  afterAll(() => closeGpu(gpu));
  const target = (sg: boolean) => ({ ...gpu.target!, subgroups: sg && gpu.target!.subgroups });

  it.runIf(findOp('softmax'))('softmax along the last axis and along inner axes, large logits', async () => {
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 1, max: 6 }), fc.constantFrom(1, 3, 17, 300), fc.integer({ min: 1, max: 5 }), fc.integer({ min: -3, max: 2 }),
      fc.constantFrom<DType>('f32', 'f16'), fc.integer(), fc.boolean(),
      async (s, len, h, axis, dtype, seed, sg) => {
        const shape = [s, len, h];
        await checkOp(gpu, {
          op: 'softmax', attrs: { axis },
          operands: [{ t: randomTensor(dtype, shape, seed, 0.1, 30), shape: [S, len, h] }],
          dims: { S: s },
        }, { target: target(sg) });
      }), { numRuns: 15 });
  });

  it.runIf(findOp('argmax'))('argmax finds the first maximum (ties included) on the GPU', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 5 }), fc.constantFrom(1, 2, 31, 256, 1001), fc.integer(), fc.boolean(), async (s, v, seed, ties) => {
      const x = randomTensor('f32', [s, v], seed, 0.1, 10);
      if (ties) {
        // Quantize to a few levels so the maximum repeats.
        const r = rng(seed);
        (x.data as Float32Array).forEach((_, i, a) => { a[i] = Math.floor(r() * 4); });
      }
      await checkOp(gpu, { op: 'argmax', operands: [{ t: x, shape: [S, v] }], dims: { S: s } });
    }), { numRuns: 15 });
  });

  it.runIf(findOp('l2_normalize'))('l2_normalize, including rows below eps', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 5 }), fc.constantFrom(1, 5, 64, 385), fc.constantFrom(1e-12, 0.5), fc.integer(), fc.boolean(),
      async (s, d, eps, seed, sg) => {
        await checkOp(gpu, { op: 'l2_normalize', attrs: { eps }, operands: [{ t: randomTensor('f32', [s, d], seed, 0.01, 2), shape: [S, d] }], dims: { S: s } }, { target: target(sg) });
      }), { numRuns: 12 });
  });

  it.runIf(findOp('mean_pool'))('mean_pool with i32 and f32 padding masks, an all-padding row', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 20 }), fc.constantFrom(1, 24, 65), fc.boolean(), fc.integer(),
      async (b, s, d, f32Mask, seed) => {
        const m = randomInts([b, s], seed, 0, 2);
        const mi = m.data as Int32Array;
        if (b > 1) for (let t = 0; t < s; t++) mi[s + t] = 0; // row 1: all padding
        mi[0] = 1;
        const mask = f32Mask ? f32([b, s], Float32Array.from(mi)) : tensor('i32', [b, s], mi);
        await checkOp(gpu, { op: 'mean_pool', operands: [{ t: randomTensor('f32', [b, s, d], seed + 1), shape: [b, S, d] }, { t: mask, shape: [b, S] }], dims: { S: s } });
      }), { numRuns: 12 });
  });
});
