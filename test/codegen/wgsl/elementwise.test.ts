// Elementwise kernels against the reference: binary ops over random broadcasts, every unary
// activation over a wide input range, cast both ways.
import fc from 'fast-check';
import { afterAll, describe, it } from 'vitest';
import { type Dim, findOp, sym } from '../../../ir/index.js';

const N = sym('N'), S = sym('S');
import { checkOp, closeGpu, expectAdapter, openGpu, randomInts, randomTensor } from './harness.js';

const gpu = await openGpu();
expectAdapter(gpu);

describe.runIf(gpu.ctx)('WGSL elementwise', () => {
  afterAll(() => closeGpu(gpu));

  it('add/sub/mul/div broadcast like numpy (symbolic S, length-1 axes, f16/bf16 operands)', async () => {
    await fc.assert(fc.asyncProperty(
      fc.constantFrom('add', 'sub', 'mul', 'div'),
      fc.integer({ min: 1, max: 37 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 70 }),
      fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }), fc.integer({ min: 0, max: 2 }),
      fc.constantFrom('f32', 'f32', 'f16', 'bf16'), fc.integer(),
      async (op, s, h, d, keep, drop, dtype, seed) => {
        const full = [s, h, d];
        // rhs: some axes of length 1, maybe fewer leading axes.
        const rhs = full.map((n, i) => (keep[i] ? n : 1)).slice(drop);
        const sym0 = (shape: number[], rank: number): Dim[] => shape.map((n, i) => (i === 0 && rank === 3 && n === s ? S : n));
        await checkOp(gpu, {
          op,
          operands: [
            { t: randomTensor('f32', full, seed), shape: sym0(full, 3) },
            { t: randomTensor(dtype, rhs, seed + 1, 0.5, 2), shape: sym0(rhs, rhs.length) },
          ],
          dims: { S: s },
        });
      }), { numRuns: 20 });
  });

  const unary: [string, Record<string, number | string>][] = [
    ['silu', {}], ['sigmoid', {}], ['gelu', {}], ['gelu', { approximate: 'tanh' }], ['tanh', {}],
    ['exp', {}], ['relu', {}], ['neg', {}], ['softcap', { cap: 2.5 }], ['scale', { factor: -0.37 }],
  ];
  for (const [op, attrs] of unary) {
    it.runIf(findOp(op))(`${op} ${JSON.stringify(attrs)} over [-12, 12] and tiny inputs`, async () => {
      await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 3000 }), fc.constantFrom('f32', 'f16', 'bf16'), fc.integer(), fc.double({ min: 1e-3, max: 12, noNaN: true }),
        async (n, dtype, seed, hi) => {
          await checkOp(gpu, { op, attrs, operands: [{ t: randomTensor(dtype, [n], seed, 1e-4, hi), shape: [N] }], dims: { N: n } });
        }), { numRuns: 12 });
    });
  }

  it.runIf(findOp('fused_elementwise'))('fused_elementwise programs over broadcast operands', async () => {
    const programs: [string, number][] = [
      ['silu(x0) * x1', 2], ['x0 + x1 * x2', 3], ['softcap(x0, 2.5) - gelu_tanh(x1)', 2],
      ['-(x0 / x1) + exp(x0 * 0.25)', 2], ['gelu(x0) * 0.5 + relu(x1) - sigmoid(x2) + tanh(x0)', 3],
    ];
    await fc.assert(fc.asyncProperty(fc.constantFrom(...programs), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 40 }),
      fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }), fc.constantFrom('f32', 'f16'), fc.integer(),
      async ([program, arity], s, d, bcast, dtype, seed) => {
        const operands = Array.from({ length: arity }, (_, j) => {
          const shape = j > 0 && bcast[j] ? [d] : [s, d];
          return { t: randomTensor(j === 1 ? dtype : 'f32', shape, seed + j, 0.2, 3), shape: shape.length === 2 ? [S, d] : shape };
        });
        await checkOp(gpu, { op: 'fused_elementwise', attrs: { program }, operands, dims: { S: s } });
      }), { numRuns: 12 });
  });

  it('cast f32 → i32 truncates toward zero, i32 → f32 rounds, f16 → f32 widens', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 999 }), fc.integer(), async (n, seed) => {
      await checkOp(gpu, { op: 'cast', attrs: { dtype: 'i32' }, operands: [{ t: randomTensor('f32', [n], seed, 0.5, 1000) }] });
      await checkOp(gpu, { op: 'cast', attrs: { dtype: 'f32' }, operands: [{ t: randomInts([n], seed, -(2 ** 30), 2 ** 30) }] });
      await checkOp(gpu, { op: 'cast', attrs: { dtype: 'f32' }, operands: [{ t: randomTensor('f16', [n], seed) }] });
      await checkOp(gpu, { op: 'cast', attrs: { dtype: 'i32' }, operands: [{ t: randomInts([n], seed, -1000, 1000) }] });
    }), { numRuns: 8 });
  });
});
