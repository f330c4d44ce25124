// embedding against the reference for every table dtype, odd row lengths (quantized rows padded
// to whole blocks), symbolic and batched ids.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { type DType, findOp, sym } from '../../../ir/index.js';
import { checkOp, closeGpu, expectAdapter, openGpu, randomInts, randomTensor, referenceRun, runNode } from './harness.js';
import { emitWgslKernel } from '../../../codegen/wgsl/emit.js';

const gpu = await openGpu();
expectAdapter(gpu);
const S = sym('S');

describe.runIf(gpu.ctx && findOp('embedding'))('WGSL embedding', () => {
  afterAll(() => closeGpu(gpu));

  it('gathers rows of f32, f16, bf16, q8_0 and q4_0 tables', async () => {
    await fc.assert(fc.asyncProperty(
      fc.constantFrom<DType>('f32', 'f16', 'bf16', 'q8_0', 'q4_0'), fc.integer({ min: 1, max: 50 }), fc.constantFrom(1, 31, 32, 33, 96, 100),
      fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 12 }), fc.integer(),
      async (dtype, v, d, b, s, seed) => {
        // Quantized tables compare exactly too: both sides decode the same blocks the same way.
        await checkOp(gpu, {
          op: 'embedding',
          operands: [{ t: randomTensor(dtype, [v, d], seed) }, { t: randomInts([b, s], seed + 1, 0, v), shape: [b, S] }],
          dims: { S: s },
        }, { tol: 0 });
      }), { numRuns: 20 });
  });

  it('turns an out-of-range id into NaN instead of reading outside the table', async () => {
    const table = randomTensor('f32', [4, 3], 1);
    const { node } = referenceRun({ op: 'embedding', operands: [{ t: table }, { t: randomInts([2], 2, 0, 4) }] });
    const ids = randomInts([2], 2, 0, 4);
    (ids.data as Int32Array).set([7, 1]);
    const [got] = await runNode(gpu.ctx!, node, emitWgslKernel(node, gpu.target!), [table, ids], {});
    const g = Array.from(got.data as Float32Array);
    expect(g.slice(0, 3).every(Number.isNaN)).toBe(true);
    expect(g.slice(3)).toEqual(Array.from((table.data as Float32Array).slice(3, 6)));
  });
});
