// The passes' fused projections against their reference semantics: matmul_ep (epilogue in the
// store, or over a product in scratch for merged gate/up weights), norm_matmul (rms/layer
// statistics, x normalised as it is loaded), rope_matmul (rotation of the Q/K column ranges).
// Rows are symbolic, so both the GEMV (S ≤ 4) and the GEMM (S > 4) bodies run.
import fc from 'fast-check';
import { afterAll, describe, it } from 'vitest';
import { type AttrValue, type DType, findOp, sym, tensor } from '../../../ir/index.js';
import { checkOp, closeGpu, expectAdapter, openGpu, randomTensor, rng } from './harness.js';

const gpu = await openGpu();
expectAdapter(gpu);
const S = sym('S');

// Each entry fixes what shapes the WGSL (program, bias, weight dtype, norm kind), so the property
// compiles a few shaders and then varies the sizes and data.
interface Epilogue { program: string; parts: number; extras: ('full' | 'row')[]; bias: boolean; wType: DType; kind: 'rms' | 'layer' }
const EPILOGUES: readonly Epilogue[] = [
  { program: 'acc0 + x0', parts: 1, extras: ['full'], bias: false, wType: 'q8_0', kind: 'rms' },
  { program: 'gelu(acc0) * x0', parts: 1, extras: ['row'], bias: true, wType: 'f32', kind: 'layer' },
  { program: 'silu(acc0) * acc1', parts: 2, extras: [], bias: false, wType: 'f32', kind: 'rms' },
  { program: 'gelu_tanh(acc0) * acc1 + x0', parts: 2, extras: ['full'], bias: true, wType: 'q8_0', kind: 'layer' },
  { program: 'acc0 * acc1 + acc2 - acc3 * x0', parts: 4, extras: ['row'], bias: true, wType: 'q4_0', kind: 'rms' },
];

describe.runIf(gpu.ctx)('WGSL fused projections', () => {
  afterAll(() => closeGpu(gpu));

  for (const op of ['matmul_ep', 'norm_matmul'] as const) {
    it.runIf(findOp(op))(`${op}: epilogues on one, two and four column blocks, bias, extras broadcast`, async () => {
      await fc.assert(fc.asyncProperty(
        fc.constantFrom(...EPILOGUES), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 20 }), fc.constantFrom(7, 40), fc.integer(),
        async (ep, s, m, k, seed) => {
          const { bias, wType, kind } = ep;
          const n = m * ep.parts;
          const extras = ep.extras.map((e, j) => (e === 'full'
            ? { t: randomTensor('f32', [s, m], seed + 10 + j), shape: [S, m] }
            : { t: randomTensor('f32', [m], seed + 10 + j) }));
          const attrs: Record<string, AttrValue> = { bias, parts: ep.parts, epilogue: ep.program, ...(op === 'norm_matmul' ? { kind, eps: 1e-5 } : {}) };
          await checkOp(gpu, {
            op, attrs, dims: { S: s },
            operands: [
              { t: randomTensor('f32', [s, k], seed, 0.1, 2), shape: [S, k] },
              { t: randomTensor(wType, [n, k], seed + 1) },
              ...(bias ? [{ t: randomTensor('f32', [n], seed + 2) }] : []),
              ...extras,
            ],
          });
        }), { numRuns: 12 });
    });
  }

  it.runIf(findOp('rope_matmul'))('rope_matmul: Q and K heads rotated, V passed through, with or without a norm', async () => {
    const hd = 8;
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 1, max: 7 }),
      // norm, interleaved, rotary_dim, scaling, bias: the WGSL-shaping choices, a few combinations.
      fc.constantFrom(['none', false, 0, 'none', false], ['rms', true, 6, 'longrope', true], ['none', false, 6, 'longrope', false], ['rms', true, 0, 'none', true] as const),
      fc.constantFrom(0, 2), fc.integer(),
      async (s, [norm, interleaved, rotaryDim, scaling, bias], batch, seed) => {
        const n = 5 * hd; // 3 query heads, 1 key head, 1 value head
        const rd = rotaryDim || hd;
        const ropeAttrs: Record<string, AttrValue> = {
          theta: 1e4, interleaved, rotary_dim: rotaryDim, scaling,
          ...(scaling === 'longrope' ? {
            original_max_positions: 32, max_positions: 128,
            short_factor: Array.from({ length: rd / 2 }, (_, i) => 1 + 0.1 * i), long_factor: Array.from({ length: rd / 2 }, (_, i) => 1 + i),
          } : {}),
        };
        const r = rng(seed);
        const lead = batch ? [batch, s] : [s];
        const pos = tensor('i32', [s], Int32Array.from({ length: s }, () => Math.floor(r() * 60)));
        await checkOp(gpu, {
          op: 'rope_matmul', dims: { S: s },
          attrs: { norm, eps: 1e-6, head_dim: hd, rope_cols: s % 2 ? [0, 4 * hd] : [0, 3 * hd, 3 * hd, 4 * hd], ...ropeAttrs },
          operands: [
            { t: randomTensor('f32', [...lead, 24], seed, 0.1, 2), shape: batch ? [batch, S, 24] : [S, 24] },
            { t: randomTensor('f32', [n, 24], seed + 1) },
            { t: pos, shape: [S] },
            ...(bias ? [{ t: randomTensor('f32', [n], seed + 2) }] : []),
          ],
        });
      }), { numRuns: 12 });
  });
});
