// The WGSL embedding's guard against ids outside the table. Gathering rows of every table dtype
// is a case of the op table (src/ops-check/cases/layout.ts, test/ops-table.test.ts).
import { afterAll, describe, expect, it } from 'vitest';
import { findOp } from '../../../ir/index.js';
import { closeGpu, expectAdapter, openGpu, randomInts, randomTensor, referenceRun, runNode } from './harness.js';
import { emitWgslKernel } from '../../../codegen/wgsl/emit.js';

const gpu = await openGpu();
expectAdapter(gpu);

describe.runIf(gpu.ctx && findOp('embedding'))('WGSL embedding', () => {
  afterAll(() => closeGpu(gpu));

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
