// The wasm kernels of the 256-element super-block types (K-quants, IQ4_XS) against the reference
// interpreter's dequantize-then-matmul: matmul as a decode GEMV (S = 1) and a prefill GEMM (longer
// S, odd row counts), a fused projection, and the embedding gather (bit for bit), in the relaxed-SIMD
// build and the plain SIMD128 one (the byte dots' two bodies, quant-dot.ts). Activations whose
// blocks quantize to ±127 meet every type's widest quants. Weights are
// random valid blocks (every bit pattern, finite scales); K is mostly a multiple of 256, sometimes
// not (the row's last block padded).
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { WasmFeature } from '../../../codegen/wasm/features.js';
import { dtypeInfo, QUANT_DTYPES, type QuantDType } from '../../../ir/dtype.js';
import type { HostTensor } from '../../../ir/index.js';
import { randomTensor } from '../../../src/ops-check/draw.js';
import { activationRounding, checkProduct } from '../superblock-bound.js';
import { checkAll, draw, fc, type OpCase, randomF32, randomI32, S, setupSuite, type Suite } from './harness.js';

/** Every super-block type the dtype table has. */
const SUPER = QUANT_DTYPES.filter((d) => dtypeInfo(d).blockSize === 256);

/**
 * The bound (superblock-bound.ts): the kernels quantize each 256-block of an activation row to 8
 * bits (Q8_K's blocks), which accounts for all but rounding; the integer dots are exact, and what
 * remains is f32 rounding of each block's conversion and scaling (≤ 4 roundings) and of the
 * accumulation over blocks, relative to the parts' magnitude: (blocks + 6)·2⁻²³.
 */
function superBlockBound(got: HostTensor, want: HostTensor, operands: readonly HostTensor[]): string | undefined {
  const [x, w] = operands;
  return checkProduct(got, want, x, w, (Math.ceil(w.shape[1] / 256) + 6) * 1.2e-7, activationRounding(256));
}

const kArb = fc.oneof(fc.constantFrom(256, 512, 768), fc.constantFrom(100, 300, 1));

function cases(): OpCase[] {
  const out: OpCase[] = [];
  const shapes = draw(fc.record({ rows: fc.oneof(fc.constant(1), fc.integer({ min: 2, max: 37 })), k: kArb, n: fc.oneof(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 10, max: 70 })), symbolic: fc.boolean(), seed: fc.nat() }), 3 * SUPER.length, 31);
  shapes.forEach((d, i) => {
    const dtype = SUPER[i % SUPER.length];
    const x = randomF32([d.rows, d.k], d.seed, 1.5);
    const w = randomTensor(dtype, [d.n, d.k], d.seed + 7, 0.5);
    out.push({
      label: `matmul x[${d.rows}, ${d.k}] w:${dtype}[${d.n}, ${d.k}]${d.symbolic ? ' (S)' : ''}`,
      op: 'matmul', operands: [{ t: x, shape: d.symbolic ? [S, d.k] : undefined }, { t: w }], attrs: {}, check: superBlockBound,
    });
  });
  // Per type: a decode GEMV over several blocks with a partial last column block, and a prefill with
  // an odd row count (2-row tiles and a last single row).
  for (const [j, dtype] of SUPER.entries()) {
    for (const [rows, n, k] of [[1, 21, 768], [7, 13, 512]]) {
      out.push({
        label: `matmul x[${rows}, ${k}] w:${dtype}[${n}, ${k}] (S)`, op: 'matmul', attrs: {}, check: superBlockBound,
        operands: [{ t: randomF32([rows, k], 90 + j, 2), shape: [S, k] }, { t: randomTensor(dtype, [n, k], 91 + j, 0.5) }],
      });
    }
    // Max-magnitude activations: one ±3e4 per 64 elements, so every block's extremes quantize to ±127.
    for (const [rows, n] of [[1, 9], [3, 5]]) {
      const x = randomF32([rows, 512], 95 + j, 1);
      const xs = x.data as Float32Array;
      for (let i = 0; i < xs.length; i += 64) xs[i + ((i >> 6) % 64)] = (i >> 6) % 2 ? -3e4 : 3e4;
      out.push({
        label: `matmul extreme x[${rows}, 512] w:${dtype}[${n}, 512]`, op: 'matmul', attrs: {}, check: superBlockBound,
        operands: [{ t: x }, { t: randomTensor(dtype, [n, 512], 96 + j, 0.5) }],
      });
    }
    // The gather decodes as the reference, bit for bit, including a row's padded last block.
    for (const dim of [256, 300, 512]) {
      out.push({
        label: `embedding ${dtype}[9, ${dim}]`, op: 'embedding', attrs: {},
        operands: [{ t: randomTensor(dtype, [9, dim], 70 + j) }, { t: randomI32([5], 71 + j, 0, 9), shape: [S] }],
        check: (got, want) => {
          const g = got.data as Float32Array, v = want.data as Float32Array;
          for (let i = 0; i < v.length; i++) if (!Object.is(g[i], v[i])) return `element ${i}: got ${g[i]}, want ${v[i]}`;
          return undefined;
        },
      });
    }
  }
  return out;
}

describe.each([['default features', undefined], ['plain SIMD128', [] as WasmFeature[]]])('wasm kernels of the super-block types (%s)', (_, features) => {
  let suite: Suite;
  beforeAll(async () => { suite = await setupSuite(cases(), features); }, 240_000);
  afterAll(async () => { await suite?.pool.dispose(); });
  it(`match the reference within the activation-rounding bound, at 1 and 2 threads (${SUPER.join(', ')})`, () => checkAll(suite));
  it('cover the types of the dtype table', () => {
    if (!SUPER.includes('q4_k' satisfies QuantDType)) throw new Error('q4_k missing from the dtype table');
  });
});
