// rms_norm (plain and Gemma's 1+w) and layer_norm (with and without bias) against the reference,
// over symbolic row counts, odd and length-1 rows, every float input dtype.
import fc from 'fast-check';
import { afterAll, describe, it } from 'vitest';
import { type DType, findOp, sym } from '../../../ir/index.js';
import { checkOp, closeGpu, expectAdapter, openGpu, randomTensor } from './harness.js';

const gpu = await openGpu();
expectAdapter(gpu);
const S = sym('S');

const rowsArb = fc.record({
  s: fc.integer({ min: 1, max: 9 }),
  d: fc.constantFrom(1, 7, 64, 333, 1030),
  dtype: fc.constantFrom<DType>('f32', 'f32', 'f16', 'bf16'),
  seed: fc.integer(),
  subgroups: fc.boolean(),
});

describe.runIf(gpu.ctx)('WGSL norms', () => {
  afterAll(() => closeGpu(gpu));
  const target = (sg: boolean) => ({ ...gpu.target!, subgroups: sg && gpu.target!.subgroups });

  it.runIf(findOp('rms_norm'))('rms_norm, offset 0 and 1, eps as given', async () => {
    // eps and offset are WGSL constants: three pairs keep the number of shaders down.
    await fc.assert(fc.asyncProperty(rowsArb, fc.constantFrom([0, 1e-6], [1, 1e-6], [0, 0.5]), async (c, [offset, eps]) => {
      await checkOp(gpu, {
        op: 'rms_norm', attrs: { eps, offset },
        operands: [{ t: randomTensor(c.dtype, [c.s, c.d], c.seed, 0.1, 3), shape: [S, c.d] }, { t: randomTensor(c.dtype, [c.d], c.seed + 1) }],
        dims: { S: c.s },
      }, { target: target(c.subgroups) });
    }), { numRuns: 12 });
  });

  it.runIf(findOp('layer_norm'))('layer_norm with and without bias, rank 3 input', async () => {
    await fc.assert(fc.asyncProperty(rowsArb, fc.boolean(), async (c, bias) => {
      const eps = bias ? 1e-5 : 1e-12;
      // An offset far from zero: the two-pass variance must not cancel.
      const x = randomTensor('f32', [2, c.s, c.d], c.seed, 0.1, 3);
      (x.data as Float32Array).forEach((v, i, a) => { a[i] = v + 40; });
      await checkOp(gpu, {
        op: 'layer_norm', attrs: { eps },
        operands: [
          { t: x, shape: [2, S, c.d] },
          { t: randomTensor(c.dtype, [c.d], c.seed + 1) },
          ...(bias ? [{ t: randomTensor('f32', [c.d], c.seed + 2) }] : []),
        ],
        dims: { S: c.s },
      }, { target: target(c.subgroups), tol: c.d === 1 ? 1e-3 : 1e-4 });
    }), { numRuns: 12 });
  });
});
