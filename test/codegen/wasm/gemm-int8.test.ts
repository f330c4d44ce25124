// The integer GEMM of the quantized projections (codegen/wasm/gemm-int8.ts: 2 activation rows and
// more, the 32-element block types) against the reference interpreter, over row counts around its
// 4-row passes and 32-row tiles (1, 2, 3, 5, 8, 13, 16, 17, 64, 130), odd in-features the block
// sizes allow, odd product columns (a partial last column block) and parts narrower than 4 columns
// (the tile loop's), plain and fused: a norm prologue, a bias, two parts, a residual add. Then
// exactness: its integer sums and per-block scaling are the GEMV tile loop's, so every row of an
// M-row product equals the same row run alone (M = 1, the tile loop) bit for bit. The super-block
// types, which keep the tile loop and the dequantizing GEMM, run the same cases: the dispatch
// between the paths must stay right for every type.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WasmFeature } from '../../../codegen/wasm/features.js';
import { dtypeInfo, QUANT_DTYPES, type QuantDType } from '../../../ir/dtype.js';
import { type HostTensor, tensor, toF32 } from '../../../ir/index.js';
import '../../../ir/ops/index.js';
import { normalize } from '../../../ir/ops/fused.js';
import { runGraph } from '../../../runtime/wasm/graph-runner.js';
import { randomTensor } from '../../../src/ops-check/draw.js';
import { activationRounding, weightParts } from '../superblock-bound.js';
import { type Check, checkAll, draw, fc, type Operand, type OpCase, quantizedProductBounds, randomF32, S, setupSuite, type Suite } from './harness.js';

const ROWS = [1, 2, 3, 5, 8, 13, 16, 17, 64, 130];

/**
 * Per-element bounds of x·wᵀ for the kernels' 8-bit activations: the 32-block types' from the
 * harness, the super-block types' as superblock-bound.ts reckons them (activation rounding per
 * 256-block, f32 rounding relative to Σ|x|·(|A| + |B|)).
 */
function productBounds(xs: Float32Array, w: HostTensor): Float64Array {
  if (dtypeInfo(w.dtype).blockSize === 32) return quantizedProductBounds(xs, w);
  const [n, k] = w.shape;
  const ws = toF32(w), { a, b } = weightParts(w), act = activationRounding(256);
  const rows = xs.length / k, rel = (Math.ceil(k / 256) + 6) * 1.2e-7;
  const out = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < n; j++) {
      let mag = 0;
      for (let i = 0; i < k; i++) mag += Math.abs(xs[r * k + i]) * (Math.abs(a[j * k + i]) + Math.abs(b[j * k + i]));
      out[r * n + j] = act(xs, ws, r, j, k) + rel * mag + 1e-30;
    }
  }
  return out;
}

interface Fusion {
  readonly norm?: { readonly kind: 'rms' | 'layer'; readonly eps: number };
  readonly bias: boolean;
  readonly parts: 1 | 2;
  /** A residual operand [rows, m] added to the product (parts 1) . */
  readonly residual: boolean;
}

/**
 * Every output [r, c] within the sum of its parts' product bounds (the epilogues here are
 * linear: acc0, acc0 + x0, acc0 − acc1) plus f32 rounding of the bias and epilogue.
 */
function boundCheck(f: Fusion): Check {
  return (got, want, operands) => {
    const [x, w] = operands;
    const xs = f.norm ? toF32(normalize(x, f.norm, {})) : toF32(x);
    const beta = productBounds(xs, w);
    const n = w.shape[0], m = n / f.parts, rows = xs.length / w.shape[1];
    const g = got.data as Float32Array, v = want.data as Float32Array;
    let mean = 0;
    for (const y of v) mean += Math.abs(y) / v.length;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < m; c++) {
        const e = r * m + c;
        let bound = 0;
        for (let p = 0; p < f.parts; p++) bound += beta[r * n + p * m + c];
        const tol = bound + 1e-5 * Math.max(Math.abs(v[e]), mean);
        if (!(Math.abs(g[e] - v[e]) <= tol)) return `[${r}, ${c}]: got ${g[e]}, want ${v[e]} (|Δ| ${Math.abs(g[e] - v[e]).toExponential(2)} > ${tol.toExponential(2)})`;
      }
    }
    return undefined;
  };
}

/** In-features per type: odd ones (a zero-padded tail block) and whole blocks. */
function kArb(dtype: QuantDType): fc.Arbitrary<number> {
  return dtypeInfo(dtype).blockSize === 32 ? fc.constantFrom(1, 33, 64, 95, 161, 288) : fc.constantFrom(100, 256, 300, 512);
}

/** A projection case: matmul when nothing is fused, else norm_matmul / matmul_ep with `f`'s options. */
function projection(dtype: QuantDType, rows: number, k: number, m: number, f: Fusion, seed: number, symbolic: boolean): OpCase {
  const n = m * f.parts;
  const operands: Operand[] = [
    { t: randomF32([rows, k], seed, 1.5), shape: symbolic ? [S, k] : undefined },
    { t: randomTensor(dtype, [n, k], seed + 3, 0.5) },
  ];
  if (f.bias) operands.push({ t: randomF32([n], seed + 5) });
  if (f.residual) operands.push({ t: randomF32([rows, m], seed + 7, 2), shape: symbolic ? [S, m] : undefined });
  const plain = !f.norm && !f.bias && f.parts === 1 && !f.residual;
  const epilogue = f.parts === 2 ? 'acc0 - acc1' : f.residual ? 'acc0 + x0' : 'acc0';
  const op = plain ? 'matmul' : f.norm ? 'norm_matmul' : 'matmul_ep';
  const attrs = plain ? {} : { bias: f.bias, parts: f.parts, epilogue, ...(f.norm ?? {}) };
  return {
    label: `${op} x[${rows}, ${k}] w:${dtype}[${n}, ${k}] ${JSON.stringify(attrs)}${symbolic ? ' (S)' : ''}`,
    op, operands, attrs, check: boundCheck(f),
  };
}

function cases(): OpCase[] {
  return QUANT_DTYPES.flatMap((dtype, t) => draw(fc.record({
    rows: fc.constantFrom(...ROWS), k: kArb(dtype),
    m: fc.oneof(fc.constantFrom(4, 5, 7, 13, 37), fc.integer({ min: 1, max: 40 })),
    norm: fc.constantFrom(undefined, 'rms' as const, 'layer' as const), bias: fc.boolean(), parts: fc.constantFrom(1 as const, 1 as const, 2 as const),
    residual: fc.boolean(), symbolic: fc.boolean(), seed: fc.nat(),
  }), 6, 101 + t).map((d) => projection(dtype, d.rows, d.k, d.m, {
    norm: d.norm ? { kind: d.norm, eps: 1e-5 } : undefined, bias: d.bias, parts: d.parts, residual: d.residual && d.parts === 1,
  }, d.seed, d.symbolic)));
}

/** Per type: an M-row product and each of its rows alone, plain and fused (norm, bias, two parts). */
function exactnessCases(): { whole: OpCase; single: OpCase[] }[] {
  return QUANT_DTYPES.flatMap((dtype, t) => {
    const k = dtypeInfo(dtype).blockSize === 32 ? 95 : 300;
    return ([[13, 12, { bias: false, parts: 1, residual: false }], [6, 8, { norm: { kind: 'rms', eps: 1e-6 }, bias: true, parts: 2, residual: false }]] as const).map(([rows, m, f], j) => {
      const whole = projection(dtype, rows, k, m, f, 300 + 10 * t + j, true);
      const [x, ...rest] = whole.operands;
      const xs = x.t.data as Float32Array;
      const single = Array.from({ length: rows }, (_, r) => ({
        ...whole, label: `${whole.label} row ${r}`,
        operands: [{ t: tensor('f32', [1, k], xs.slice(r * k, (r + 1) * k)), shape: [S, k] }, ...rest],
      }));
      return { whole, single };
    });
  });
}

describe.each([['default features', undefined], ['plain SIMD128', [] as WasmFeature[]]])('wasm integer GEMM of the quantized types (%s)', (_, features) => {
  let suite: Suite;
  const exact = exactnessCases();
  beforeAll(async () => { suite = await setupSuite([...cases(), ...exact.flatMap((e) => [e.whole, ...e.single])], features); }, 480_000);
  afterAll(async () => { await suite?.pool.dispose(); });

  it(`matches the reference within the activation-rounding bound, at 1 and 2 threads (${QUANT_DTYPES.join(', ')})`, () => checkAll(suite));

  it('gives every row exactly what the GEMV tile loop gives it alone', () => {
    const run = (c: OpCase, nthreads: number) => {
      const built = suite.built.find((b) => b.c === c);
      if (!built) throw new Error(`${c.label} was not built`);
      const inputs = Object.fromEntries(c.operands.map((o, i) => [`x${i}`, o.t]));
      return runGraph(suite.pool, suite.module, built.prepared, { inputs, nthreads }).outputs.y0.data as Float32Array;
    };
    const mismatches: string[] = [];
    for (const { whole, single } of exact) {
      for (const nthreads of [1, 2]) {
        const got = run(whole, nthreads);
        const m = got.length / single.length;
        single.forEach((c, r) => {
          const alone = run(c, 1);
          for (let j = 0; j < m; j++) {
            if (!Object.is(got[r * m + j], alone[j])) mismatches.push(`${whole.label} @${nthreads}t [${r}, ${j}]: ${got[r * m + j]} alone ${alone[j]}`);
          }
        });
      }
    }
    expect(mismatches.slice(0, 8).join('\n'), `${mismatches.length} outputs differ`).toBe('');
  });
});
