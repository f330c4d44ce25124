// The prefill GEMM (codegen/wasm/gemm.ts, gemm-pack.ts) on float weights against the reference
// interpreter, at the shape edges of its register tiles (3 × 3, 4 × 2, 2 × 4) and panels: row
// counts at and around GEMM_MIN_ROWS and the tiles' rows (16, 17, 18, 33, 130 …), columns per part
// under, at and over a panel's (12 for 1 part, 4 for more: a partial last panel), K around the
// 4-k packing step (1, 3, 15, 17, 33 …), every parts count, f32 / f16 / bf16, with and without a
// norm prologue, bias and a residual epilogue, at 1 and 2 threads (the harness's 1e-4 relative
// bound). Every case has rows ≥ GEMM_MIN_ROWS, so it runs the GEMM wherever gemmServes says so
// (f32 with 2 or 4 parts keeps the tile loop, checked here too).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GEMM_MIN_ROWS, gemmServes, gemmTile } from '../../codegen/wasm/gemm.js';
import type { DType } from '../../ir/dtype.js';
import { type AttrValue, convertF32 } from '../../ir/index.js';
import { checkAll, draw, fc, type OpCase, randomF32, S, setupSuite, type Suite } from './wasm/harness.js';

const FLOATS: DType[] = ['f32', 'f16', 'bf16'];

/** Epilogues per parts count over acc0… and the extras x0 (a residual [rows, m]) and x1 ([m]). */
const EPILOGUES: Record<number, string[]> = {
  1: ['acc0', 'acc0 + x0', 'silu(acc0) * x1 - x0'],
  2: ['silu(acc0) * acc1', 'acc0 - acc1 + x0'],
  3: ['acc0 + acc1 * acc2', 'acc2 + x0'],
  4: ['acc0 * acc1 + acc2 - acc3', 'acc3 * x1 + x0'],
};

const EDGE_ROWS = [GEMM_MIN_ROWS, GEMM_MIN_ROWS + 1, 18, 33, 130];
const EDGE_K = [1, 3, 4, 15, 16, 17, 33, 130];

function floatCases(): OpCase[] {
  const draws = draw(fc.record({
    rows: fc.oneof(fc.constantFrom(...EDGE_ROWS), fc.integer({ min: GEMM_MIN_ROWS, max: 80 })),
    parts: fc.integer({ min: 1, max: 4 }),
    // Columns per part: under, at and over a panel's 12 / parts, and several panels.
    m: fc.oneof(fc.integer({ min: 1, max: 7 }), fc.constantFrom(11, 12, 13, 24, 25), fc.integer({ min: 8, max: 40 })),
    k: fc.oneof(fc.constantFrom(...EDGE_K), fc.integer({ min: 1, max: 200 })),
    dtype: fc.constantFrom(...FLOATS), bias: fc.boolean(), norm: fc.constantFrom('none', 'rms', 'layer'), e: fc.nat(), seed: fc.nat(),
  }), 40, 1107);
  return draws.map((d) => {
    const n = d.m * d.parts;
    const epilogue = EPILOGUES[d.parts][d.e % EPILOGUES[d.parts].length];
    const extras = /x1/.test(epilogue) ? 2 : /x0/.test(epilogue) ? 1 : 0;
    const operands = [{ t: randomF32([d.rows, d.k], d.seed, 1.5), shape: [S, d.k] }, { t: convertF32(randomF32([n, d.k], d.seed + 1, 0.5), d.dtype) }];
    if (d.bias) operands.push({ t: randomF32([n], d.seed + 2) });
    for (let j = 0; j < extras; j++) operands.push({ t: randomF32(j ? [d.m] : [d.rows, d.m], d.seed + 3 + j), shape: j ? [d.m] : [S, d.m] });
    const norm: Record<string, AttrValue> = d.norm === 'none' ? {} : { kind: d.norm, eps: 1e-5 };
    const op = d.norm === 'none' ? 'matmul_ep' : 'norm_matmul';
    return {
      label: `${op} x[${d.rows}, ${d.k}] w:${d.dtype}[${n}, ${d.k}] parts ${d.parts}${d.bias ? ' +bias' : ''} ${epilogue}${d.norm === 'none' ? '' : ` ${d.norm}`}`,
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

describe('wasm prefill GEMM on float weights', () => {
  const cases = [...floatCases(), ...modelCases()];
  let suite: Suite;
  beforeAll(async () => { suite = await setupSuite(cases); }, 600_000);
  afterAll(async () => { await suite?.pool.dispose(); });
  it('serves 16-bit floats at every parts count, f32 where its tile has 9 accumulators', () => {
    for (const dtype of FLOATS) for (let parts = 1; parts <= 4; parts++) expect(gemmServes(parts, dtype), `${dtype} parts ${parts}`).toBe(dtype !== 'f32' || parts % 2 === 1);
  });
  it('keeps the accumulators and one step\'s loads within 15 vector registers', () => {
    for (let parts = 1; parts <= 4; parts++) {
      const { V, MR, cols } = gemmTile(parts);
      expect(MR * V + V + MR, `parts ${parts}`).toBeLessThanOrEqual(15);
      expect(cols % 4, `parts ${parts}: whole vectors per part`).toBe(0);
    }
  });
  it('matches the reference at the tile and panel edges, fused or not, at 1 and 2 threads', () => checkAll(suite));
});
