// matmul kernels (tiled GEMM and GEMV, with and without subgroups) against the reference, for
// every weight dtype, odd sizes, symbolic rows, optional bias.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { type DType, type HostTensor, sym, toF32 } from '../../../ir/index.js';
import { emitMatmul, type MatmulVariant } from '../../../codegen/wgsl/matmul.js';
import type { WgslTarget } from '../../../codegen/wgsl/target.js';
import { closeGpu, expectAdapter, openGpu, randomTensor, referenceRun, runPaths } from './harness.js';

const gpu = await openGpu();
expectAdapter(gpu);

const U = 2 ** -24; // unit roundoff of f32

/**
 * The tolerance. Dequantizing is exact in f32 (an f16 scale times a small integer fits in 24
 * bits; f16/bf16 widen exactly), so the GPU forms exactly the reference's products x_k·w_nk and
 * differs only in how it rounds their sum (the reference sums in f64, then rounds once). For any
 * summation order and fused or unfused multiply-adds, floating-point summation of K products is
 * within γ_K·Σ|x_k·w_nk| (γ_K = K·u/(1−K·u), Higham, Accuracy and Stability, §3.1), plus one
 * rounding for the bias add and one for the reference's own result. So each element must satisfy
 * |got − want| ≤ (K + 2)·u·(Σ_k |x_k·w_nk| + |bias_n|) + u·|want|, for every weight dtype.
 */
function expectWithinSumBound(got: HostTensor, want: HostTensor, x: HostTensor, w: HostTensor, bias: HostTensor | undefined): void {
  const [n, k] = w.shape;
  const xs = toF32(x), ws = toF32(w), bs = bias ? toF32(bias) : undefined;
  const g = got.data as Float32Array, r = want.data as Float32Array;
  expect(g.length).toBe(r.length);
  for (let i = 0; i < r.length; i++) {
    const row = Math.floor(i / n), col = i % n;
    let mag = bs ? Math.abs(bs[col]) : 0;
    for (let t = 0; t < k; t++) mag += Math.abs(xs[row * k + t] * ws[col * k + t]);
    const bound = (k + 2) * U * mag / (1 - (k + 2) * U) + U * Math.abs(r[i]);
    if (!(Math.abs(g[i] - r[i]) <= bound)) {
      throw new Error(`y[${row}, ${col}]: got ${g[i]}, want ${r[i]}: |Δ| = ${Math.abs(g[i] - r[i])} > bound ${bound} (K = ${k}, w ${w.dtype})`);
    }
  }
}

interface Case { rows: number; n: number; k: number; wType: DType; bias: boolean; seed: number }

async function check(c: Case, variant?: MatmulVariant, subgroups = gpu.target!.subgroups): Promise<void> {
  const S = sym('S');
  const x = randomTensor('f32', [c.rows, c.k], c.seed);
  const w = randomTensor(c.wType, [c.n, c.k], c.seed + 1);
  const bias = c.bias ? randomTensor('f32', [c.n], c.seed + 2) : undefined;
  const operands = [{ t: x, shape: [S, c.k] }, { t: w }, ...(bias ? [{ t: bias }] : [])];
  const { node, want } = referenceRun({ op: 'matmul', operands, dims: { S: c.rows } });
  const lower = (t: WgslTarget) => emitMatmul(node, { ...t, subgroups }, variant ? { variant } : {});
  for (const { got: [got] } of await runPaths(gpu, node, lower, operands.map((o) => o.t), { S: c.rows })) expectWithinSumBound(got, want[0], x, w, bias);
}

// Shapes are symbolic or rolled into the uniform on lavapipe, so a shader is compiled per
// (weight dtype, bias, variant): each weight dtype comes with or without a bias, not both.
const caseArb = (maxRows: number) => fc.record({
  rows: fc.integer({ min: 1, max: maxRows }),
  n: fc.integer({ min: 1, max: 80 }),
  k: fc.integer({ min: 1, max: 100 }),
  w: fc.constantFrom<[DType, boolean]>(['f32', true], ['f16', false], ['bf16', false], ['q8_0', false], ['q4_0', true]),
  seed: fc.integer(),
}).map(({ w: [wType, bias], ...c }) => ({ ...c, wType, bias }));

describe.runIf(gpu.ctx)('WGSL matmul', () => {
  afterAll(() => closeGpu(gpu));

  it('picks GEMV for few rows and GEMM for many (both, guarded, when rows are symbolic)', async () => {
    const { node } = referenceRun({ op: 'matmul', operands: [{ t: randomTensor('f32', [3, 8], 1), shape: [sym('S'), 8] }, { t: randomTensor('f32', [5, 8], 2) }], dims: { S: 3 } });
    const kernels = emitMatmul(node, gpu.target!).kernels;
    expect(kernels.map((k) => [k.entryPoint, k.when?.min, k.when?.max])).toEqual([['matmul_gemv', undefined, 4], ['matmul_gemm', 5, undefined]]);
  });

  it('chooses by row count at run time: any dtype, odd sizes, bias or not', async () => {
    await fc.assert(fc.asyncProperty(caseArb(70), (c) => check(c)), { numRuns: 16 });
  });

  it('GEMM over row counts that are not multiples of the tile, down to one row', async () => {
    await fc.assert(fc.asyncProperty(caseArb(140), (c) => check(c, 'gemm')), { numRuns: 10 });
  });

  it('GEMV with a workgroup-memory reduction and with subgroups, K spanning many chunks', async () => {
    await fc.assert(fc.asyncProperty(caseArb(3), fc.integer({ min: 1, max: 600 }), fc.boolean(), (c, k, sg) =>
      check({ ...c, k }, 'gemv', sg && gpu.target!.subgroups && (c.wType === 'f32' || c.wType === 'q4_0'))), { numRuns: 12 });
  });
});
