// Layout kernels move bits: every result must equal the reference exactly, for 32-bit and 16-bit
// dtypes, symbolic shapes and starts, odd element counts (half-filled last words).
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { type Dim, dimSub, type DType, findOp, type HostTensor, sym } from '../../../ir/index.js';
import { emitWgslKernel } from '../../../codegen/wgsl/emit.js';
import { checkOp, closeGpu, expectAdapter, openGpu, randomInts, randomTensor, referenceRun } from './harness.js';

const gpu = await openGpu();
expectAdapter(gpu);
const S = sym('S'), P = sym('P');

const dtypeArb = fc.constantFrom<DType>('f32', 'i32', 'f16', 'bf16');
function data(dtype: DType, shape: readonly number[], seed: number): HostTensor {
  return dtype === 'i32' ? randomInts(shape, seed, -1000, 1000) : randomTensor(dtype, shape, seed);
}
const exact = { tol: 0 };

describe.runIf(gpu.ctx)('WGSL layout', () => {
  afterAll(() => closeGpu(gpu));

  it.runIf(findOp('transpose'))('transpose by any permutation of rank ≤ 4, symbolic leading dim', async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 4 }), dtypeArb, fc.integer(), fc.integer({ min: 0, max: 23 }),
      async (shape, dtype, seed, pick) => {
        const perms = permutations(shape.length);
        const perm = perms[pick % perms.length];
        const declared: Dim[] = shape.map((d, i) => (i === 0 ? S : d));
        await checkOp(gpu, { op: 'transpose', attrs: { perm }, operands: [{ t: data(dtype, shape, seed), shape: declared }], dims: { S: shape[0] } }, exact);
      }), { numRuns: 20 });
  });

  it.runIf(findOp('slice'))('slice with symbolic bounds (the last token: S-1 .. S) and static ones', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 7 }), dtypeArb, fc.integer(), fc.boolean(),
      async (s, h, d, dtype, seed, last) => {
        const attrs = last ? { axis: 0, start: dimSub(S, 1), end: S } : { axis: 2, start: Math.floor(d / 3), end: d };
        await checkOp(gpu, { op: 'slice', attrs, operands: [{ t: data(dtype, [s, h, d], seed), shape: [S, h, d] }], dims: { S: s } }, exact);
      }), { numRuns: 15 });
  });

  it.runIf(findOp('split'))('split into pieces along any axis', async () => {
    await fc.assert(fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 1 }), dtypeArb, fc.integer(),
      async (sizes, s, axis, dtype, seed) => {
        const total = sizes.reduce((a, b) => a + b, 0);
        const shape = axis === 1 ? [s, total] : [total, 3];
        await checkOp(gpu, { op: 'split', attrs: { axis, sizes }, operands: [{ t: data(dtype, shape, seed) }] }, exact);
      }), { numRuns: 15 });
  });

  it.runIf(findOp('concat'))('concat of 1–4 operands with symbolic lengths along the axis', async () => {
    await fc.assert(fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 3 }), fc.boolean(), dtypeArb, fc.integer(),
      async (lens, h, middle, dtype, seed) => {
        // The first operand's length along the axis is symbolic (like a KV cache's P).
        const operands = lens.map((n, j) => {
          const shape = middle ? [2, n, h] : [n, h];
          const along: Dim = j === 0 ? S : n;
          return { t: data(dtype, shape, seed + j), shape: middle ? [2, along, h] : [along, h] };
        });
        await checkOp(gpu, { op: 'concat', attrs: { axis: middle ? 1 : 0 }, operands, dims: { S: lens[0] } }, exact);
      }), { numRuns: 15 });
  });

  it.runIf(findOp('kv_append'))('kv_append as a copy and in place (P ≥ 0, S ≥ 1, f32 and f16 caches)', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.constantFrom(1, 3, 8),
      fc.constantFrom<DType>('f32', 'f16'), fc.constantFrom(0, 1, 2), fc.boolean(), fc.integer(),
      async (p, s, h, d, dtype, batch, inPlace, seed) => {
        if (inPlace && batch > 1) return;
        const lead = batch ? [batch] : [];
        const past = data(dtype, [...lead, p, h, d], seed), next = data(dtype, [...lead, s, h, d], seed + 1);
        const lowering = await checkOp(gpu, {
          op: 'kv_append',
          operands: [{ t: past, shape: [...lead, P, h, d] }, { t: next, shape: [...lead, S, h, d] }],
          dims: { P: p, S: s },
        }, { ...exact, target: { ...gpu.target!, kvAppendInPlace: inPlace } });
        expect(lowering.aliasOf).toBe(inPlace ? 0 : undefined);
      }), { numRuns: 20 });
  });

  it.runIf(findOp('reshape'))('reshape is a view by default, and a copy when the target wants one', async () => {
    const x = randomTensor('f16', [3, 5], 1);
    const c = { op: 'reshape', attrs: { shape: [5, 3] }, operands: [{ t: x }] };
    const { node } = referenceRun(c);
    expect(emitWgslKernel(node, gpu.target!)).toEqual({ kernels: [], aliasOf: 0 });
    await checkOp(gpu, c, exact); // the harness runs the view: the result buffer is the operand's
    await checkOp(gpu, c, { ...exact, target: { ...gpu.target!, aliasViews: false } });
  });
});

function permutations(n: number): number[][] {
  if (n === 0) return [[]];
  return permutations(n - 1).flatMap((p) => Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)]));
}
