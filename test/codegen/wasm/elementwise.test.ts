import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertF32, f32, findOp, i32 } from '../../../ir/index.js';
import { interpret } from '../../../runtime/reference/interpreter.js';
import { runGraph } from '../../../runtime/wasm/graph-runner.js';
import { checkAll, draw, fc, type OpCase, randomF32, randomI32, S, setupSuite, type Suite } from './harness.js';

// Shapes: rank 1–3, odd sizes and length-1 edges; the leading dim is sometimes symbolic (S).
const shapeArb = fc.array(fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 10, max: 70 })), { minLength: 1, maxLength: 3 });

const ACTIVATIONS: { op: string; attrs: Record<string, number | string>; scale: number }[] = [
  { op: 'silu', attrs: {}, scale: 8 },
  { op: 'gelu', attrs: {}, scale: 8 },
  { op: 'gelu', attrs: { approximate: 'tanh' }, scale: 8 },
  { op: 'tanh', attrs: {}, scale: 4 },
  { op: 'sigmoid', attrs: {}, scale: 10 },
  { op: 'exp', attrs: {}, scale: 20 },
  { op: 'relu', attrs: {}, scale: 1 },
  { op: 'neg', attrs: {}, scale: 1 },
  { op: 'softcap', attrs: { cap: 30 }, scale: 100 },
  { op: 'scale', attrs: { factor: 0.125 }, scale: 3 },
];

function cases(): OpCase[] {
  const out: OpCase[] = [];
  const draws = draw(fc.record({ shape: shapeArb, seed: fc.nat(), symbolic: fc.boolean(), half: fc.boolean() }), ACTIVATIONS.length * 3, 11);
  draws.forEach((d, i) => {
    const a = ACTIVATIONS[i % ACTIVATIONS.length];
    if (!findOp(a.op)) return;
    let t = randomF32(d.shape, d.seed, a.scale);
    if (d.half && i % 3 === 0) t = convertF32(t, 'f16');
    const shape = d.symbolic ? [S, ...d.shape.slice(1)] : undefined;
    out.push({ label: `${a.op}${JSON.stringify(a.attrs)} ${t.dtype}[${d.shape}]`, op: a.op, operands: [{ t, shape }], attrs: a.attrs });
  });
  for (const [k, shape] of [[0, [7]], [1, [3, 5]], [2, [1, 33]]] as const) {
    out.push({ label: `cast f32→i32 [${shape}]`, op: 'cast', operands: [{ t: randomF32(shape, k, 1000) }], attrs: { dtype: 'i32' } });
    out.push({ label: `cast i32→f32 [${shape}]`, op: 'cast', operands: [{ t: randomI32(shape, k, -5000, 5000) }], attrs: { dtype: 'f32' } });
    out.push({ label: `cast f16→f32 [${shape}]`, op: 'cast', operands: [{ t: convertF32(randomF32(shape, k), 'f16') }], attrs: { dtype: 'f32' } });
  }
  // Binary ops with broadcasting: the rhs drops leading axes or has 1s where the lhs does not
  // (and vice versa), same shapes, scalars; the leading dim is sometimes symbolic.
  const binDraws = draw(fc.record({ shape: shapeArb, mask: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }), drop: fc.nat({ max: 2 }), swap: fc.boolean(), seed: fc.nat(), symbolic: fc.boolean() }), 24, 12);
  binDraws.forEach((d, i) => {
    const op = ['add', 'sub', 'mul', 'div'][i % 4];
    if (!findOp(op)) return;
    const full = d.shape;
    const part = full.slice(Math.min(d.drop, full.length - 1)).map((n, k) => (d.mask[k] ? 1 : n));
    const [sa, sb] = d.swap ? [part, full] : [full, part];
    const a = randomF32(sa, d.seed, 2), b = randomF32(sb, d.seed + 1, 2);
    // Only a full-rank operand's leading dim may be made symbolic (the other may broadcast it).
    const sym = (t: typeof a, other: typeof a) => (d.symbolic && t.shape.length >= other.shape.length && t.shape[0] !== 1 ? [S, ...t.shape.slice(1)] : undefined);
    const aShape = sym(a, b);
    const bShape = aShape && b.shape.length === a.shape.length && b.shape[0] === a.shape[0] ? [S, ...b.shape.slice(1)] : undefined;
    out.push({ label: `${op} [${sa}] [${sb}]${aShape ? ' (S)' : ''}`, op, operands: [{ t: a, shape: aShape }, { t: b, shape: bShape }], attrs: {} });
  });
  out.push({ label: 'add f16 rhs', op: 'add', operands: [{ t: randomF32([3, 10], 5) }, { t: convertF32(randomF32([10], 6), 'f16') }], attrs: {} });
  return out;
}

describe('wasm elementwise kernels', () => {
  let suite: Suite;
  beforeAll(async () => { suite = await setupSuite(cases()); });
  afterAll(async () => { await suite?.pool.dispose(); });
  it('match the reference at 1 and 2 threads', () => checkAll(suite));
});

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
