// The integer-dot kernels of the 32-element block types (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL)
// against the reference interpreter's dequantize-then-matmul, built with relaxed SIMD (where the
// engine has it) and with plain SIMD128: both bodies of _t_dot8 (quant-dot.ts) must give the same
// exact integers. Besides random shapes, the edges the byte dots are designed around: Q8_0 weights of
// −128 (the sign trick flips them to 127 and adds |x| back), activations whose blocks quantize to
// ±127 (the largest |x| the 7-bit operand takes), odd row counts, single rows and columns.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { relaxedSimdAvailable, type WasmFeature } from '../../../codegen/wasm/features.js';
import { dtypeInfo, type QuantDType } from '../../../ir/dtype.js';
import { type HostTensor, tensor, toF32 } from '../../../ir/index.js';
import { randomTensor } from '../../../src/ops-check/draw.js';
import { draw, fc, type OpCase, quantizedProductBounds, randomF32, rng, S, setupSuite, checkAll, type Suite } from './harness.js';

const BLOCK32: readonly QuantDType[] = ['q8_0', 'q4_0', 'q4_1', 'q5_0', 'q5_1', 'iq4_nl'];

/** Every output within harness.quantizedProductBounds (activation rounding and f32 rounding). */
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

/**
 * Q8_0 weights [n, k] whose quants are −128 wherever `pick` says (the rest random bytes, −128
 * included), scale 1/64 (an f16 0x2400) in every block.
 */
function q8Extreme(n: number, k: number, seed: number, pick: (row: number, i: number) => boolean): HostTensor {
  const { blockBytes } = dtypeInfo('q8_0');
  const blocks = Math.ceil(k / 32);
  const bytes = new Uint8Array(n * blocks * blockBytes);
  const r = rng(seed);
  for (let row = 0; row < n; row++) {
    for (let b = 0; b < blocks; b++) {
      const at = (row * blocks + b) * blockBytes;
      bytes[at] = 0x00;
      bytes[at + 1] = 0x24;
      for (let i = 0; i < 32; i++) bytes[at + 2 + i] = pick(row, b * 32 + i) ? 0x80 : Math.floor(r() * 256);
    }
  }
  return tensor('q8_0', [n, k], bytes);
}

/** Activations whose every 32-block holds ±big at one place, so each block's extremes quantize to exactly ±127. */
function extremeActivations(rows: number, k: number, seed: number, big: number): HostTensor {
  const x = randomF32([rows, k], seed, 1);
  const data = x.data as Float32Array;
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < k; b += 32) data[r * k + b + ((r + b / 32) % Math.min(32, k - b))] = (b / 32 + r) % 2 ? -big : big;
  }
  return x;
}

function cases(): OpCase[] {
  const out: OpCase[] = [];
  const push = (label: string, x: HostTensor, w: HostTensor, symbolic: boolean) => out.push({
    label: `${label} x[${x.shape}] w:${w.dtype}[${w.shape}]${symbolic ? ' (S)' : ''}`, op: 'matmul', attrs: {}, check: quantBound,
    operands: [{ t: x, shape: symbolic ? [S, x.shape[1]] : undefined }, { t: w }],
  });
  const shapes = draw(fc.record({
    rows: fc.oneof(fc.constant(1), fc.integer({ min: 2, max: 19 })),
    k: fc.oneof(fc.constantFrom(32, 64, 96, 256), fc.integer({ min: 1, max: 200 })),
    n: fc.oneof(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 10, max: 40 })),
    symbolic: fc.boolean(), seed: fc.nat(),
  }), 4 * BLOCK32.length, 41);
  shapes.forEach((d, i) => {
    const dtype = BLOCK32[i % BLOCK32.length];
    push('random', randomF32([d.rows, d.k], d.seed, 1.5), randomTensor(dtype, [d.n, d.k], d.seed + 3, 0.5), d.symbolic);
  });
  for (const [j, dtype] of BLOCK32.entries()) {
    // Max-magnitude activations (every block quantizes to ±127), a GEMV and an odd-row GEMM.
    push('extreme x', extremeActivations(1, 96, 60 + j, 3e4), randomTensor(dtype, [13, 96], 61 + j, 0.5), true);
    push('extreme x', extremeActivations(5, 64, 62 + j, 1e3), randomTensor(dtype, [9, 64], 63 + j, 0.5), false);
  }
  // Q8_0 quants of −128: whole rows, alternate elements, and against max-magnitude activations of both signs.
  push('q8 −128 rows', randomF32([1, 64], 80, 2), q8Extreme(8, 64, 81, (row) => row % 2 === 0), true);
  push('q8 −128 mixed', extremeActivations(3, 96, 82, 50), q8Extreme(11, 96, 83, (_, i) => i % 3 === 0), false);
  push('q8 −128 all', extremeActivations(1, 32, 84, 7), q8Extreme(4, 32, 85, () => true), true);
  push('q8 −128 one col', extremeActivations(2, 40, 86, 7), q8Extreme(1, 40, 87, (_, i) => i % 2 === 1), false);
  return out;
}

describe.each([['default features', undefined], ['plain SIMD128', [] as WasmFeature[]]])('wasm block-32 quantized matmul (%s)', (_, features) => {
  let suite: Suite;
  beforeAll(async () => { suite = await setupSuite(cases(), features); }, 240_000);
  afterAll(async () => { await suite?.pool.dispose(); });
  it(`match the reference within the activation-rounding bound, at 1 and 2 threads (${BLOCK32.join(', ')})`, () => checkAll(suite));
});

describe('relaxed SIMD for the byte dots', () => {
  it('is what the default build uses on Node, so the relaxed _t_dot8 is the one tested first', () => {
    expect(relaxedSimdAvailable()).toBe(true);
  });
});
