// Exact f16 loads on the CPU kernels. Elementwise ops, cast and broadcasting in general are
// cases of the op table (src/ops-check/cases/elementwise.ts, test/ops-table.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertF32, f32, i32 } from '../../../ir/index.js';
import { interpret } from '../../../runtime/reference/interpreter.js';
import { runGraph } from '../../../runtime/wasm/graph-runner.js';
import { setupSuite, type Suite } from './harness.js';

// f16 → f32 must be exact for every class of value, through the vector loads (the first 16
// elements) and the scalar tail: signed zeros, subnormals down to 2^-24, the largest finite value,
// infinities (65504·2 overflows to one) and NaN. The harness compares within tolerances and never
// passes NaN, so this compares bits.
describe('wasm f16 loads', () => {
  const values = [0, -0, 1, -2.5, 65504, -65504, 2 ** -14, 2 ** -24, -3e-6, Infinity, -Infinity, NaN, 1e-3, 1 / 3, 131008, -7.5e-7, 2 ** -15, NaN];
  const half = convertF32(f32([values.length], values), 'f16');
  let suite: Suite;
  beforeAll(async () => {
    suite = await setupSuite([
      { label: 'cast f16 specials', op: 'cast', operands: [{ t: half }], attrs: { dtype: 'f32' } },
      { label: 'embedding f16 specials', op: 'embedding', operands: [{ t: convertF32(f32([2, values.length], [...values, ...values.map((v) => -v)]), 'f16') }, { t: i32([3], [1, 0, 1]) }], attrs: {} },
    ]);
  });
  afterAll(async () => { await suite?.pool.dispose(); });
  it('convert every class of value exactly, at 1 and 2 threads', () => {
    for (const { c, graph, prepared } of suite.built) {
      const inputs = Object.fromEntries(c.operands.map((o, i) => [`x${i}`, o.t]));
      const want = interpret(graph, { inputs, params: () => { throw new Error('no params'); } }).outputs;
      for (const nthreads of [1, 2]) {
        const got = runGraph(suite.pool, suite.module, prepared, { inputs, nthreads }).outputs;
        for (const name of Object.keys(want)) {
          const g = Array.from(got[name].data as Float32Array), w = Array.from(want[name].data as Float32Array);
          const bad = w.findIndex((x, i) => (Number.isNaN(x) ? !Number.isNaN(g[i]) : !Object.is(g[i], x)));
          expect(bad, `${c.label} @${nthreads}t: element ${bad}: got ${g[bad]}, want ${w[bad]}`).toBe(-1);
        }
      }
    }
  });
});
