// Weights over the storage binding limit, bound as row ranges (codegen/wgsl/split.ts): the ranges
// themselves, and matmul (GEMM and GEMV), a fused projection and embedding over split weights
// against the reference interpreter. The limit is drawn per case, so a weight splits into 1 to
// all-its-rows ranges, with 1-row ranges and uneven last ranges among them.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { emitEmbedding } from '../../../codegen/wgsl/embedding.js';
import { emitMatmul, type MatmulVariant } from '../../../codegen/wgsl/matmul.js';
import { kernelFromData, kernelToData } from '../../../codegen/wgsl/serialize.js';
import { rowBytes, weightParts } from '../../../codegen/wgsl/split.js';
import { WEBGPU_DEFAULT_TARGET, type WgslTarget } from '../../../codegen/wgsl/target.js';
import type { WgslLowering } from '../../../codegen/wgsl/types.js';
import { type DType, findOp, storageBytes, sym } from '../../../ir/index.js';
import { checkOp, closeGpu, expectAdapter, openGpu, randomInts, randomTensor, referenceRun, runNode } from './harness.js';

const gpu = await openGpu();
expectAdapter(gpu);
const S = sym('S');

/** The device target with a binding limit of `rows` rows of a [n, k] weight of `dtype`. */
function capped(base: WgslTarget, dtype: DType, k: number, rows: number): WgslTarget {
  return { ...base, maxStorageBindingSize: rows * storageBytes(dtype, [1, k]) };
}

/** Row ranges bound per kernel; fails when nothing was split (the property would be vacuous). */
function rangesBound(l: WgslLowering, operand: number): number {
  const starts = new Set<number>();
  for (const k of l.kernels) for (const b of k.bindings) if (b.kind === 'operand' && b.index === operand && b.rows) starts.add(b.rows.first);
  return starts.size;
}

describe('weightParts', () => {
  it('covers every row once, in ranges within the limit, balanced, or returns undefined when the weight fits', () => {
    fc.assert(fc.property(
      fc.constantFrom<DType>('f32', 'f16', 'bf16', 'q8_0', 'q4_0'), fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: 400 }),
      (dtype, n, k, limitRows) => {
        const type = { dtype, shape: [n, k] };
        const limit = limitRows * rowBytes(type) + (limitRows % 3); // not always a whole number of rows
        const parts = weightParts(type, { ...WEBGPU_DEFAULT_TARGET, maxStorageBindingSize: limit });
        if (storageBytes(dtype, [n, k]) <= limit) {
          expect(parts).toBeUndefined();
          return;
        }
        expect(parts).toBeDefined();
        let next = 0;
        for (const p of parts!) {
          expect(p.first).toBe(next);
          expect(p.count).toBeGreaterThan(0);
          expect(p.count * rowBytes(type)).toBeLessThanOrEqual(limit);
          next += p.count;
        }
        expect(next).toBe(n);
        const counts = parts!.map((p) => p.count);
        expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
        expect(parts!.length).toBe(Math.ceil(n / Math.floor(limit / rowBytes(type))));
      }), { numRuns: 300 });
  });

  it('refuses a weight one row of which exceeds the limit, naming the row size', () => {
    expect(() => weightParts({ dtype: 'f32', shape: [10, 100] }, { ...WEBGPU_DEFAULT_TARGET, maxStorageBindingSize: 300 }))
      .toThrow(/one row of f32\[10, 100\] is 400 bytes, over the device's maxStorageBufferBindingSize of 300 bytes/);
  });

  it('gives each kernel one weight range, so the storage buffers per stage do not grow', () => {
    const { node } = referenceRun({ op: 'matmul', operands: [{ t: randomTensor('f32', [2, 8], 1), shape: [S, 8] }, { t: randomTensor('f32', [10, 8], 2) }], dims: { S: 2 } });
    const l = emitMatmul(node, capped(WEBGPU_DEFAULT_TARGET, 'f32', 8, 3));
    expect(l.kernels.map((k) => [k.entryPoint, k.when?.max ?? null, k.bindings[1]])).toEqual([[0, 3], [3, 3], [6, 2], [8, 2]].flatMap(([first, count]) => {
      const w = { kind: 'operand', index: 1, rows: { first, count } };
      return [['matmul_gemv', 4, w], ['matmul_gemm', null, w]];
    }));
    for (const k of l.kernels) expect(k.bindings.length).toBe(3);
  });

  it('keeps the row ranges through artifact data', () => {
    const { node } = referenceRun({ op: 'embedding', operands: [{ t: randomTensor('q4_0', [9, 40], 1) }, { t: randomInts([3], 2, 0, 9), shape: [S] }], dims: { S: 3 } });
    for (const k of emitEmbedding(node, capped(WEBGPU_DEFAULT_TARGET, 'q4_0', 40, 4)).kernels) {
      const back = kernelFromData(JSON.parse(JSON.stringify(kernelToData(k))), k.wgsl, ['S'], 65535);
      expect(back.bindings).toEqual(k.bindings);
    }
  });
});

describe.runIf(gpu.ctx)('WGSL kernels over split weights', () => {
  afterAll(() => closeGpu(gpu));

  // Few dtypes (f16: packed pairs, q8_0: rows not word-aligned), each with one bias choice: every
  // one is a shader or two to compile on lavapipe. The row-range logic does not depend on dtype.
  const matmulCase = (maxRows: number) => fc.record({
    rows: fc.integer({ min: 1, max: maxRows }),
    n: fc.integer({ min: 2, max: 70 }),
    k: fc.integer({ min: 3, max: 70 }),
    w: fc.constantFrom<[DType, boolean]>(['f32', true], ['f16', false], ['q8_0', false]),
    perPart: fc.integer({ min: 1, max: 40 }),
    seed: fc.integer(),
  });

  interface MatmulCase { rows: number; n: number; k: number; w: [DType, boolean]; perPart: number; seed: number }

  async function checkMatmul(c: MatmulCase, variant?: MatmulVariant): Promise<void> {
    const [wType, bias] = c.w;
    // At least two ranges, and room in one binding for the bias (the limit applies to every operand).
    const perPart = Math.min(Math.max(c.perPart, bias ? Math.ceil((4 * c.n) / storageBytes(wType, [1, c.k])) : 1), c.n - 1);
    const target = capped(gpu.target!, wType, c.k, perPart);
    const operands = [
      { t: randomTensor('f32', [c.rows, c.k], c.seed), shape: [S, c.k] },
      { t: randomTensor(wType, [c.n, c.k], c.seed + 1) },
      ...(bias ? [{ t: randomTensor('f32', [c.n], c.seed + 2) }] : []),
    ];
    const l = await checkOp(gpu, { op: 'matmul', operands, dims: { S: c.rows } }, { target, lower: (node, t) => emitMatmul(node, t, variant ? { variant } : {}) });
    expect(rangesBound(l, 1)).toBe(Math.ceil(c.n / perPart));
  }

  it('matmul: GEMV or GEMM by row count, each weight range writing its own columns', async () => {
    await fc.assert(fc.asyncProperty(matmulCase(70), (c) => checkMatmul(c)), { numRuns: 8 });
  });

  it('matmul: GEMM over split weights, rows not multiples of the tile, down to one row', async () => {
    await fc.assert(fc.asyncProperty(matmulCase(80), (c) => checkMatmul(c, 'gemm')), { numRuns: 4 });
  });

  it('matmul: GEMV over split weights, one-row ranges included', async () => {
    await fc.assert(fc.asyncProperty(matmulCase(3), fc.integer({ min: 1, max: 3 }), (c, perPart) => checkMatmul({ ...c, perPart }, 'gemv')), { numRuns: 4 });
  });

  it.runIf(findOp('matmul_ep'))('matmul_ep: an epilogue in the store and one over a merged gate/up product, weight split', async () => {
    await fc.assert(fc.asyncProperty(
      fc.constantFrom({ program: 'acc0 + x0', parts: 1 }, { program: 'silu(acc0) * acc1', parts: 2 }),
      fc.integer({ min: 1, max: 9 }), fc.integer({ min: 2, max: 20 }), fc.integer({ min: 1, max: 7 }), fc.integer(),
      async (ep, s, m, perPart, seed) => {
        const n = m * ep.parts, k = 24;
        const l = await checkOp(gpu, {
          op: 'matmul_ep', dims: { S: s },
          attrs: { bias: false, parts: ep.parts, epilogue: ep.program },
          operands: [
            { t: randomTensor('f32', [s, k], seed, 0.1, 2), shape: [S, k] },
            { t: randomTensor('f32', [n, k], seed + 1) },
            ...(ep.parts === 1 ? [{ t: randomTensor('f32', [s, m], seed + 2), shape: [S, m] }] : []),
          ],
        }, { target: capped(gpu.target!, 'f32', k, Math.min(perPart, n - 1)) });
        expect(rangesBound(l, 1)).toBeGreaterThan(1);
      }), { numRuns: 4 });
  });

  it('embedding: every id read from the range that holds it, float and quantized tables', async () => {
    await fc.assert(fc.asyncProperty(
      fc.constantFrom<DType>('f32', 'f16', 'q4_0'), fc.integer({ min: 2, max: 60 }), fc.constantFrom(1, 31, 33, 64),
      fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 20 }), fc.integer(),
      async (dtype, v, d, s, perPart, seed) => {
        const rows = Math.min(perPart, v - 1);
        const l = await checkOp(gpu, {
          op: 'embedding',
          operands: [{ t: randomTensor(dtype, [v, d], seed) }, { t: randomInts([s], seed + 1, 0, v), shape: [S] }],
          dims: { S: s },
        }, { tol: 0, target: capped(gpu.target!, dtype, d, rows) });
        expect(rangesBound(l, 0)).toBe(Math.ceil(v / rows));
      }), { numRuns: 8 });
  });

  it('embedding: an out-of-range id is one NaN row, written once, whatever range it falls past', async () => {
    const table = randomTensor('f32', [7, 3], 1);
    // Symbolic ids, so only the table is held to the tiny limit at code generation.
    const { node } = referenceRun({ op: 'embedding', operands: [{ t: table }, { t: randomInts([4], 2, 0, 7), shape: [S] }], dims: { S: 4 } });
    const ids = randomInts([4], 2, 0, 7);
    (ids.data as Int32Array).set([9, 6, -1, 0]);
    const [got] = await runNode(gpu.ctx!, node, emitEmbedding(node, capped(gpu.target!, 'f32', 3, 2)), [table, ids], { S: 4 });
    const g = Array.from(got.data as Float32Array);
    const t = Array.from(table.data as Float32Array);
    expect(g.slice(0, 3).every(Number.isNaN)).toBe(true);
    expect(g.slice(3, 6)).toEqual(t.slice(18, 21));
    expect(g.slice(6, 9).every(Number.isNaN)).toBe(true);
    expect(g.slice(9, 12)).toEqual(t.slice(0, 3));
  });
});
