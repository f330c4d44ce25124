import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { relaxedSimdAvailable, type WasmFeature } from '../../../codegen/wasm/features.js';
import { convertF32, type DType, type HostTensor, toF32 } from '../../../ir/index.js';
import { checkAll, closeF32, draw, fc, type OpCase, quantizedProductBounds, randomF32, S, setupSuite, type Suite } from './harness.js';

/** Quantized matmul check: every output within harness.quantizedProductBounds of the reference. */
function quantBound(got: HostTensor, want: HostTensor, operands: readonly HostTensor[]): string | undefined {
  const [x, w] = operands;
  const n = w.shape[0];
  const bounds = quantizedProductBounds(toF32(x), w);
  const g = got.data as Float32Array, v = want.data as Float32Array;
  for (let e = 0; e < bounds.length; e++) {
    const d = Math.abs(g[e] - v[e]);
    if (!(d <= bounds[e])) return `[${Math.floor(e / n)}, ${e % n}]: got ${g[e]}, want ${v[e]} (|Δ| ${d.toExponential(2)} > bound ${bounds[e].toExponential(2)})`;
  }
  return undefined;
}

const dimArb = fc.oneof(fc.constant(1), fc.integer({ min: 2, max: 9 }), fc.integer({ min: 10, max: 80 }), fc.constantFrom(31, 32, 33, 64, 96, 100));

function cases(): OpCase[] {
  const out: OpCase[] = [];
  const dtypes: DType[] = ['f32', 'f16', 'bf16', 'q8_0', 'q4_0'];
  const draws = draw(fc.record({ rows: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 40 })), k: dimArb, n: dimArb, bias: fc.boolean(), lead: fc.boolean(), symbolic: fc.boolean(), seed: fc.nat() }), 30, 21);
  // GEMVs of every weight type wide enough for the 8-row paths, with a partial last column block;
  // K around the 16-bit path's steps of 8 (a group of 4 left over, with and without a scalar tail).
  const gemvs = [{ n: 8, k: 33 }, { n: 21, k: 64 }, { n: 100, k: 96 }, { n: 16, k: 44 }, { n: 9, k: 47 }, { n: 8, k: 4 }].flatMap(({ n, k }, j) =>
    dtypes.map((dtype) => ({ dtype, d: { rows: 1, k, n, bias: j === 1, lead: false, symbolic: j === 2, seed: 50 + j } })));
  [...draws.map((d, i) => ({ dtype: dtypes[i % dtypes.length], d })), ...gemvs].forEach(({ dtype, d }) => {
    const xShape = d.lead && d.rows % 2 === 0 ? [2, d.rows / 2, d.k] : [d.rows, d.k];
    const x = randomF32(xShape, d.seed, 1.5);
    const w = convertF32(randomF32([d.n, d.k], d.seed + 7, 0.5), dtype);
    const operands = [{ t: x, shape: d.symbolic ? [...xShape.slice(0, -2), S, d.k] : undefined }, { t: w }];
    if (d.bias) operands.push({ t: randomF32([d.n], d.seed + 9) });
    out.push({
      label: `matmul x[${xShape}] w:${dtype}[${d.n}, ${d.k}]${d.bias ? ' +bias' : ''}${d.symbolic ? ' (S)' : ''}`,
      op: 'matmul', operands, attrs: {},
      check: dtype === 'q8_0' || dtype === 'q4_0' ? quantBound : undefined,
      // f16/bf16 weights are exact in f32, so all float cases hold to 1e-4.
    });
  });
  return out;
}

function normCases(): OpCase[] {
  const out: OpCase[] = [];
  const draws = draw(fc.record({ rows: fc.integer({ min: 1, max: 7 }), d: dimArb, seed: fc.nat(), symbolic: fc.boolean(), half: fc.boolean() }), 24, 22);
  draws.forEach((dr, i) => {
    const x = randomF32([dr.rows, dr.d], dr.seed, 3);
    const xo = { t: x, shape: dr.symbolic ? [S, dr.d] : undefined };
    const wt = (t: HostTensor) => (dr.half ? convertF32(t, 'f16') : t);
    switch (i % 6) {
      case 0: out.push({ label: `rms_norm [${dr.rows}, ${dr.d}]`, op: 'rms_norm', operands: [xo, { t: wt(randomF32([dr.d], dr.seed + 1)) }], attrs: { eps: 1e-5 } }); break;
      case 1: out.push({ label: `rms_norm offset [${dr.rows}, ${dr.d}]`, op: 'rms_norm', operands: [xo, { t: wt(randomF32([dr.d], dr.seed + 1)) }], attrs: { eps: 1e-6, offset: 1 } }); break;
      case 2: out.push({ label: `layer_norm [${dr.rows}, ${dr.d}]`, op: 'layer_norm', operands: [xo, { t: wt(randomF32([dr.d], dr.seed + 1)) }, { t: randomF32([dr.d], dr.seed + 2) }], attrs: {} }); break;
      case 3: out.push({ label: `layer_norm nobias [${dr.rows}, ${dr.d}]`, op: 'layer_norm', operands: [xo, { t: randomF32([dr.d], dr.seed + 1) }], attrs: { eps: 1e-12 } }); break;
      case 4: out.push({ label: `l2_normalize [${dr.rows}, ${dr.d}]`, op: 'l2_normalize', operands: [xo], attrs: {} }); break;
      case 5: {
        const shape = [dr.rows, 3, dr.d];
        const axis = [-1, 0, 1, 2][dr.seed % 4];
        out.push({ label: `softmax [${shape}] axis ${axis}`, op: 'softmax', operands: [{ t: randomF32(shape, dr.seed, 8) }], attrs: { axis } });
        break;
      }
    }
  });
  out.push({ label: 'softmax [1, 1]', op: 'softmax', operands: [{ t: randomF32([1, 1], 3) }], attrs: {} });
  out.push({ label: 'softmax wide', op: 'softmax', operands: [{ t: randomF32([2, 1000], 3, 30), shape: [S, 1000] }], attrs: {} });
  return out;
}

// Both builds of the module: with relaxed SIMD's fused multiply-add (the default where the engine
// has it) and with plain SIMD128 (what an engine without it gets).
describe.each([['default features', undefined], ['plain SIMD128', [] as WasmFeature[]]])('wasm matmul, norm and softmax kernels (%s)', (_, features) => {
  let suite: Suite;
  beforeAll(async () => { suite = await setupSuite([...cases(), ...normCases()], features); });
  afterAll(async () => { await suite?.pool.dispose(); });
  it('match the reference at 1 and 2 threads', () => checkAll(suite));
  it('closeF32 rejects NaN', () => {
    if (closeF32(new Float32Array([NaN]), new Float32Array([1])) === undefined) throw new Error('NaN passed');
  });
});

describe('relaxed SIMD', () => {
  it('is available on Node (V8 turns it on behind a flag), so the fast build is the one tested', () => {
    // Node 20's V8 has it behind --experimental-wasm-relaxed-simd, which features.ts turns on.
    expect(relaxedSimdAvailable()).toBe(true);
  });
});
