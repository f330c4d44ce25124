// The prefill GEMM (codegen/wasm/gemm.ts, gemm-pack.ts) against the reference interpreter: matmul,
// matmul_ep (bias, 1–4 parts, epilogues with extras) and norm_matmul (rms and layer prologues)
// over every weight dtype, at row counts on both sides of GEMM_MIN_ROWS (S = 1 and short chunks
// take the GEMV tile loop, longer ones the GEMM; row counts that leave a partial micro-tile, several
// slabs, odd K and odd column counts that leave a partial panel), at 1 and 2 threads.
//
// Bounds: float weights hold to the harness's 1e-4. Quantized weights on the GEMM are dequantized
// and multiplied in f32 with the activations as they are, so the product is the reference's up to
// f32 rounding (checkProduct with (K + 8)·2⁻²⁴ relative to Σ|x|·|w|, no activation share): tight
// enough that the 8-bit activation rounding of the integer path would fail it, so these cases also
// prove the GEMM ran. Rows below GEMM_MIN_ROWS, and types the integer paths keep (the integer GEMM
// of gemm-int8.ts, or the tile loop where gemmServes says no), get the activation-rounding share of
// their block size.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GEMM_MIN_ROWS, gemmServes, gemmTile } from '../../codegen/wasm/gemm.js';
import { intGemmRows } from '../../codegen/wasm/gemm-int8.js';
import { type DType, dtypeInfo, isQuantized, QUANT_DTYPES, type QuantDType } from '../../ir/dtype.js';
import { type AttrValue, convertF32, f32, type HostTensor, toF32 } from '../../ir/index.js';
import { randomTensor } from '../../src/ops-check/draw.js';
import { activationRounding, checkProduct } from './superblock-bound.js';
import { checkAll, type Check, draw, fc, type OpCase, randomF32, S, setupSuite, type Suite } from './wasm/harness.js';

const FLOATS: DType[] = ['f32', 'f16', 'bf16'];
/** Every quantized type the dtype table has, in a fixed order. */
const QUANTS: DType[] = [...QUANT_DTYPES];

function weights(dtype: DType, n: number, k: number, seed: number): HostTensor {
  if (!isQuantized(dtype)) return convertF32(randomF32([n, k], seed, 0.5), dtype);
  return randomTensor(dtype, [n, k], seed, 0.5);
}

/** The product x·wᵀ (x: the rows the kernel multiplies) within the bound of the path these rows take. */
function productBound(rows: number, xs: (operands: readonly HostTensor[]) => HostTensor): Check | undefined {
  return (got, want, operands) => {
    const w = operands[1];
    const k = w.shape[1];
    const block = dtypeInfo(w.dtype).blockSize;
    // The dispatch of matmul-quant.ts: the integer GEMM where it serves the type, else the GEMM from GEMM_MIN_ROWS.
    const integer = isQuantized(w.dtype) && intGemmRows(w.dtype as QuantDType, w.shape[0], 1) !== undefined;
    const gemm = !integer && rows >= GEMM_MIN_ROWS && gemmServes(1, w.dtype);
    return checkProduct(got, want, xs(operands), w, gemm ? (k + 8) * 2 ** -24 : (Math.ceil(k / block) + 6) * 1.2e-7, gemm ? undefined : activationRounding(block));
  };
}

function kFor(dtype: DType, pick: number): number {
  const block = dtypeInfo(dtype).blockSize;
  if (block === 256) return [256, 512, 300][pick % 3];
  if (block === 32) return [32, 96, 100, 47][pick % 4];
  return [1, 3, 47, 64, 129][pick % 5];
}

function matmulCases(): OpCase[] {
  const dtypes = [...FLOATS, ...QUANTS];
  const draws = draw(fc.record({
    rows: fc.oneof(fc.constant(1), fc.constantFrom(GEMM_MIN_ROWS - 1, GEMM_MIN_ROWS, GEMM_MIN_ROWS + 1), fc.integer({ min: 17, max: 70 })),
    n: fc.oneof(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 10, max: 40 })), k: fc.nat(), bias: fc.boolean(), symbolic: fc.boolean(), seed: fc.nat(),
  }), 2 * dtypes.length, 41);
  return draws.map((d, i) => {
    const dtype = dtypes[i % dtypes.length];
    const k = kFor(dtype, d.k);
    const x = randomF32([d.rows, k], d.seed, 1.5);
    const operands = [{ t: x, shape: d.symbolic ? [S, k] : undefined }, { t: weights(dtype, d.n, k, d.seed + 7) }];
    // Bias only on float weights here: the quantized bound below is the plain product's.
    const bias = d.bias && !isQuantized(dtype);
    if (bias) operands.push({ t: randomF32([d.n], d.seed + 9) });
    return {
      label: `matmul x[${d.rows}, ${k}] w:${dtype}[${d.n}, ${k}]${bias ? ' +bias' : ''}${d.symbolic ? ' (S)' : ''}`,
      op: 'matmul', operands, attrs: {},
      check: isQuantized(dtype) ? productBound(d.rows, (ops) => ops[0]) : undefined,
    };
  });
}

/** Each row of x divided by its root mean square (rms_norm without gain), as f32. */
function rmsRows(x: HostTensor, eps: number): HostTensor {
  const xs = toF32(x), k = x.shape[x.shape.length - 1];
  const out = new Float32Array(xs.length);
  for (let r = 0; r < xs.length / k; r++) {
    let ss = 0;
    for (let i = 0; i < k; i++) ss += xs[r * k + i] ** 2;
    const inv = 1 / Math.sqrt(ss / k + eps);
    for (let i = 0; i < k; i++) out[r * k + i] = xs[r * k + i] * inv;
  }
  return f32(x.shape, out);
}

/** Epilogues per parts count, over acc0… and up to two extras x0, x1. */
const EPILOGUES: Record<number, string[]> = {
  1: ['acc0', 'silu(acc0)', 'acc0 + x0'],
  2: ['silu(acc0) * acc1', 'acc0 - acc1 * x0'],
  3: ['acc0 + acc1 * acc2'],
  4: ['acc0 * acc1 + acc2 - acc3'],
};

/** matmul_ep and norm_matmul over float weights (every parts count, bias, extras) at GEMM sizes. */
function fusedCases(): OpCase[] {
  const draws = draw(fc.record({
    rows: fc.oneof(fc.constant(1), fc.integer({ min: GEMM_MIN_ROWS, max: 45 })), m: fc.integer({ min: 1, max: 13 }), k: fc.integer({ min: 1, max: 70 }),
    parts: fc.integer({ min: 1, max: 4 }), bias: fc.boolean(), norm: fc.constantFrom('none', 'rms', 'layer'), e: fc.nat(), dtype: fc.constantFrom(...FLOATS), seed: fc.nat(),
  }), 24, 42);
  return draws.map((d) => {
    const n = d.m * d.parts;
    const epilogue = EPILOGUES[d.parts][d.e % EPILOGUES[d.parts].length];
    const extras = /x1/.test(epilogue) ? 2 : /x0/.test(epilogue) ? 1 : 0;
    const operands = [{ t: randomF32([d.rows, d.k], d.seed, 1.5), shape: [S, d.k] }, { t: weights(d.dtype, n, d.k, d.seed + 1) }];
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

/** Long chunks: several slabs per panel and a last slab with a partial micro-tile; a wide K (small slabs). */
function longCases(): OpCase[] {
  const out: OpCase[] = [];
  for (const [rows, k, n, dtype] of [[301, 64, 21, 'f32'], [130, 2051, 9, 'f16'], [259, 512, 11, 'q6_k'], [200, 96, 35, 'q8_0']] as const) {
    out.push({
      label: `matmul x[${rows}, ${k}] w:${dtype}[${n}, ${k}] (S)`, op: 'matmul', attrs: {},
      operands: [{ t: randomF32([rows, k], rows, 1.5), shape: [S, k] }, { t: weights(dtype, n, k, rows + 1) }],
      check: isQuantized(dtype) ? productBound(rows, (ops) => ops[0]) : undefined,
    });
  }
  // Quantized weights behind a norm prologue: the product of the normalised rows.
  for (const dtype of ['q4_k', 'q5_0'] as const) {
    out.push({
      label: `norm_matmul x[40, 512] w:${dtype}[13, 512] rms`, op: 'norm_matmul', attrs: { bias: false, parts: 1, epilogue: 'acc0', kind: 'rms', eps: 1e-5 },
      operands: [{ t: randomF32([40, 512], 8, 2), shape: [S, 512] }, { t: weights(dtype, 13, 512, 9) }],
      check: productBound(40, (ops) => rmsRows(ops[0], 1e-5)),
    });
  }
  out.push({
    label: 'norm_matmul x[150, 1500] w:bf16[14, 1500] parts 2 rms', op: 'norm_matmul',
    operands: [{ t: randomF32([150, 1500], 5, 2), shape: [S, 1500] }, { t: weights('bf16', 14, 1500, 6) }],
    attrs: { bias: false, parts: 2, epilogue: 'silu(acc0) * acc1', kind: 'rms', eps: 1e-6 },
  });
  return out;
}

describe('wasm prefill GEMM', () => {
  let suite: Suite;
  beforeAll(async () => { suite = await setupSuite([...matmulCases(), ...fusedCases(), ...longCases()]); }, 600_000);
  afterAll(async () => { await suite?.pool.dispose(); });
  it('matches the reference on every weight dtype, fused or not, at 1 and 2 threads', () => checkAll(suite));
  it('keeps the accumulators and one step\'s loads within 15 vector registers', () => {
    for (let parts = 1; parts <= 4; parts++) {
      const { V, MR } = gemmTile(parts);
      expect(MR * V + V + MR, `parts ${parts}`).toBeLessThanOrEqual(15);
    }
  });
});
