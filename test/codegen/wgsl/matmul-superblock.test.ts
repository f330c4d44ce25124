// The WGSL kernels of the 256-element super-block types (K-quants, IQ4_XS) against the reference
// interpreter's dequantize-then-matmul: the GEMV (decode, S = 1, a row's (block, step) pairs spread
// over the workgroup) and the tiled GEMM (longer S, odd row counts), both from a symbolic row count;
// and the embedding gather, bit for bit. Weights are random valid blocks (every bit pattern, finite
// scales); K is mostly a multiple of 256, sometimes not (the row's last block padded).
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { emitMatmul, type MatmulVariant } from '../../../codegen/wgsl/matmul.js';
import { emitWgslKernel } from '../../../codegen/wgsl/emit.js';
import type { WgslTarget } from '../../../codegen/wgsl/target.js';
import { dtypeInfo, QUANT_DTYPES, type QuantDType } from '../../../ir/dtype.js';
import { sym } from '../../../ir/index.js';
import { randomTensor as randomBlocks } from '../../../src/ops-check/draw.js';
import { checkProduct } from '../superblock-bound.js';
import { closeGpu, expectAdapter, openGpu, randomInts, randomTensor, referenceRun, runPaths } from './harness.js';

const gpu = await openGpu();
expectAdapter(gpu);

const SUPER = QUANT_DTYPES.filter((d) => dtypeInfo(d).blockSize === 256);
const S = sym('S');

/**
 * The tolerance. Both kernels use x as it is (no activation rounding). The GEMM decodes every
 * element exactly as the reference and sums K exact products: γ_{K+2} of Σ|x·w| (Higham §3.1).
 * The GEMV sums a step's 32 quants times x in f32, scales the sum (two roundings each for the
 * scale and min parts, which are summed apart), then sums the steps and the workgroup's partials:
 * at most K + 8 roundings, relative to Σ|x|·(|A| + |B|) (superblock-bound.ts), which also bounds
 * the GEMM's.
 */
const rel = (k: number) => ((k + 8) * 2 ** -24) / (1 - (k + 8) * 2 ** -24);

interface Case { rows: number; n: number; k: number; dtype: QuantDType; seed: number }

async function check(c: Case, variant?: MatmulVariant): Promise<void> {
  const x = randomTensor('f32', [c.rows, c.k], c.seed);
  const w = randomBlocks(c.dtype, [c.n, c.k], c.seed + 1, 0.5);
  const operands = [{ t: x, shape: [S, c.k] }, { t: w }];
  const { node, want } = referenceRun({ op: 'matmul', operands, dims: { S: c.rows } });
  const lower = (t: WgslTarget) => emitMatmul(node, t, variant ? { variant } : {});
  for (const { path, got: [got] } of await runPaths(gpu, node, lower, [x, w], { S: c.rows })) {
    const msg = checkProduct(got, want[0], x, w, rel(c.k));
    expect(msg, `${c.dtype} rows ${c.rows} n ${c.n} k ${c.k} ${variant ?? ''} ${path}`).toBeUndefined();
  }
}

const caseArb = (maxRows: number) => fc.record({
  rows: fc.integer({ min: 1, max: maxRows }),
  n: fc.oneof(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 10, max: 40 })),
  k: fc.oneof(fc.constantFrom(256, 512, 768), fc.constantFrom(1, 100, 300)),
  dtype: fc.constantFrom(...SUPER),
  seed: fc.integer(),
});

describe.runIf(gpu.ctx)('WGSL kernels of the super-block types', () => {
  afterAll(() => closeGpu(gpu));

  it('GEMV (decode) and GEMM (prefill) from a symbolic row count', async () => {
    await fc.assert(fc.asyncProperty(caseArb(9), (c) => check(c)), { numRuns: 12 });
  }, 600_000);

  it('every type, both variants: a decode GEMV over several blocks and a GEMM with an odd row count', async () => {
    for (const [i, dtype] of SUPER.entries()) {
      await check({ rows: 1, n: 7, k: 768, dtype, seed: 10 + i }, 'gemv');
      await check({ rows: 5, n: 13, k: 512, dtype, seed: 20 + i }, 'gemm');
    }
  }, 600_000);

  it('gathers embedding rows bit for bit, including a row\'s padded last block', async () => {
    for (const [i, dtype] of SUPER.entries()) {
      for (const dim of [256, 300]) {
        const table = randomBlocks(dtype, [6, dim], 30 + i), ids = randomInts([4], 40 + i, 0, 6);
        const { node, want } = referenceRun({ op: 'embedding', operands: [{ t: table }, { t: ids, shape: [S] }], dims: { S: 4 } });
        for (const { path, got: [got] } of await runPaths(gpu, node, (t) => emitWgslKernel(node, t), [table, ids], { S: 4 })) {
          const g = got.data as Float32Array, v = want[0].data as Float32Array;
          const bad = v.findIndex((y, e) => !Object.is(g[e], y));
          expect(bad, `${dtype}[6, ${dim}] ${path}: element ${bad} got ${g[bad]} want ${v[bad]}`).toBe(-1);
        }
      }
    }
  }, 600_000);
});
