// The prefill GEMM (codegen/wasm/gemm.ts, gemm-pack.ts) on float weights against the reference
// interpreter, at the shape edges of its 3 × 3 register tile and 12-column panels: row counts at
// and over the dtype's gemmMinRows (+0, +1, +2, +17, +114 …: partial 3-row passes), columns per
// part under, at and over a panel's 12 (a partial last panel) and several panels, K around the 4-k
// packing step (1, 3, 15, 17, 33 …), every parts count, f32 / f16 / bf16, with and without a norm
// prologue, bias and a residual epilogue, at 1 and 2 threads (the harness's 1e-4 relative bound).
// Every case has rows ≥ gemmMinRows, so it runs the GEMM (gemmServes, checked).
//
// Quantized panels (dequantized while packing) at the same edges, plain matmuls: the bound is the
// product's f32 rounding plus the 8-bit activation share of the integer paths (checkProduct with
// activationRounding), since matmul-quant.ts decides per shape whether the integer GEMM or this
// one runs; a wrong column, lane or block is off by the weights' magnitude either way.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gemmMinRows, gemmServes, gemmTile } from '../../codegen/wasm/gemm.js';
import { type DType, dtypeInfo } from '../../ir/dtype.js';
import { type AttrValue, convertF32 } from '../../ir/index.js';
import { randomTensor } from '../../src/ops-check/draw.js';
import { activationRounding, checkProduct } from './superblock-bound.js';
import { checkAll, draw, fc, type OpCase, randomF32, S, setupSuite, type Suite } from './wasm/harness.js';

const FLOATS: DType[] = ['f32', 'f16', 'bf16'];

/** Epilogues per parts count over acc0… and the extras x0 (a residual [rows, m]) and x1 ([m]). */
const EPILOGUES: Record<number, string[]> = {
  1: ['acc0', 'acc0 + x0', 'silu(acc0) * x1 - x0'],
  2: ['silu(acc0) * acc1', 'acc0 - acc1 + x0'],
  3: ['acc0 + acc1 * acc2', 'acc2 + x0'],
  4: ['acc0 * acc1 + acc2 - acc3', 'acc3 * x1 + x0'],
};

/** Rows over the dtype's gemmMinRows. */
const EDGE_ROWS = [0, 1, 2, 17, 114];
const EDGE_K = [1, 3, 4, 15, 16, 17, 33, 130];

function floatCases(): OpCase[] {
  const draws = draw(fc.record({
    over: fc.oneof(fc.constantFrom(...EDGE_ROWS), fc.integer({ min: 0, max: 64 })),
    parts: fc.integer({ min: 1, max: 4 }),
    // Columns per part: under, at and over a panel's 12 / parts, and several panels.
    m: fc.oneof(fc.integer({ min: 1, max: 7 }), fc.constantFrom(11, 12, 13, 24, 25), fc.integer({ min: 8, max: 40 })),
    k: fc.oneof(fc.constantFrom(...EDGE_K), fc.integer({ min: 1, max: 200 })),
    dtype: fc.constantFrom(...FLOATS), bias: fc.boolean(), norm: fc.constantFrom('none', 'rms', 'layer'), e: fc.nat(), seed: fc.nat(),
  }), 40, 1107);
  return draws.map(({ over, ...d }) => {
    const rows = gemmMinRows(d.dtype) + over;
    const n = d.m * d.parts;
    const epilogue = EPILOGUES[d.parts][d.e % EPILOGUES[d.parts].length];
    const extras = /x1/.test(epilogue) ? 2 : /x0/.test(epilogue) ? 1 : 0;
    const operands = [{ t: randomF32([rows, d.k], d.seed, 1.5), shape: [S, d.k] }, { t: convertF32(randomF32([n, d.k], d.seed + 1, 0.5), d.dtype) }];
    if (d.bias) operands.push({ t: randomF32([n], d.seed + 2) });
    for (let j = 0; j < extras; j++) operands.push({ t: randomF32(j ? [d.m] : [rows, d.m], d.seed + 3 + j), shape: j ? [d.m] : [S, d.m] });
    const norm: Record<string, AttrValue> = d.norm === 'none' ? {} : { kind: d.norm, eps: 1e-5 };
    const op = d.norm === 'none' ? 'matmul_ep' : 'norm_matmul';
    return {
      label: `${op} x[${rows}, ${d.k}] w:${d.dtype}[${n}, ${d.k}] parts ${d.parts}${d.bias ? ' +bias' : ''} ${epilogue}${d.norm === 'none' ? '' : ` ${d.norm}`}`,
      op, operands, attrs: { bias: d.bias, parts: d.parts, epilogue, ...norm },
    };
  });
}

/** Plain matmuls at the shapes of the synthetic 110M model's projections, one prompt chunk each. */
function modelCases(): OpCase[] {
  return [[128, 768, 768, 'f32'], [130, 2048, 96, 'f32'], [37, 100, 768, 'bf16'], [64, 36, 2051, 'f16']].map(([rows, n, k, dtype]) => ({
    label: `matmul x[${rows}, ${k}] w:${dtype}[${n}, ${k}]`, op: 'matmul', attrs: {},
    operands: [{ t: randomF32([rows as number, k as number], 3, 1.5), shape: [S, k as number] }, { t: convertF32(randomF32([n as number, k as number], 4, 0.5), dtype as DType) }],
  }));
}

const QUANTS: DType[] = ['q4_k', 'q6_k', 'q2_k', 'q5_0', 'iq4_xs', 'q5_1'];

function quantCases(): OpCase[] {
  const draws = draw(fc.record({
    over: fc.oneof(fc.constantFrom(...EDGE_ROWS), fc.integer({ min: 0, max: 44 })),
    n: fc.oneof(fc.integer({ min: 1, max: 5 }), fc.constantFrom(11, 12, 13, 25)), blocks: fc.integer({ min: 1, max: 3 }), tail: fc.boolean(), seed: fc.nat(),
  }), 2 * QUANTS.length, 1108);
  return draws.map(({ over, ...d }, i) => {
    const dtype = QUANTS[i % QUANTS.length];
    const rows = gemmMinRows(dtype) + over;
    const block = dtypeInfo(dtype).blockSize;
    // A partial last block (k not a multiple of the block) where the format allows it (32-blocks).
    const k = d.blocks * block - (d.tail && block === 32 ? 5 : 0);
    return {
      label: `matmul x[${rows}, ${k}] w:${dtype}[${d.n}, ${k}]`, op: 'matmul', attrs: {},
      operands: [{ t: randomF32([rows, k], d.seed, 1.5), shape: [S, k] }, { t: randomTensor(dtype, [d.n, k], d.seed + 1, 0.5) }],
      check: (got, want, ops) => checkProduct(got, want, ops[0], ops[1], (k + 8) * 2 ** -24, activationRounding(block)),
    };
  });
}

describe('wasm prefill GEMM at tile and panel edges', () => {
  const cases = [...floatCases(), ...modelCases(), ...quantCases()];
  let suite: Suite;
  beforeAll(async () => { suite = await setupSuite(cases); }, 600_000);
  afterAll(async () => { await suite?.pool.dispose(); });
  it('serves float weights at every parts count, f32 from 32 rows', () => {
    expect(gemmMinRows('f32')).toBe(32);
    for (const dtype of FLOATS) for (let parts = 1; parts <= 4; parts++) expect(gemmServes(parts, dtype), `${dtype} parts ${parts}`).toBe(true);
  });
  it('keeps the accumulators and one step\'s loads within 15 vector registers', () => {
    for (let parts = 1; parts <= 4; parts++) {
      const { V, MR, cols } = gemmTile(parts);
      expect(MR * V + V + MR, `parts ${parts}`).toBeLessThanOrEqual(15);
      expect(cols, `parts ${parts}: a part's columns are the group's vectors`).toBe(4 * V);
    }
  });
  it('matches the reference on float and quantized weights, fused or not, at 1 and 2 threads', () => checkAll(suite));
});
