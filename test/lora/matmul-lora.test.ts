// matmul_lora's reference semantics: a hand-checked value, equality with matmul over the weight
// merged by add_low_rank for drawn shapes, stacked blocks and scales (0 and negative too), and
// type errors that name the operand or attribute.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tensor } from '../../ir/tensor.js';
import { evaluateWeight, weightCall, weightTensor } from '../../ir/weights.js';
import { inferOp, run1 } from '../ir/ops/harness.js';
import { maxAbsDiff } from '../helpers/refs.js';
import { rng } from './adapters.js';

const f32 = (shape: number[], data: number[] | Float32Array) => tensor('f32', shape, Float32Array.from(data));

describe('add_low_rank (the merged form)', () => {
  it('adds scale·B·A to w (by hand) and names a misfit', () => {
    const leaves: Record<string, ReturnType<typeof f32>> = { w: f32([2, 2], [1, 2, 3, 4]), b: f32([2, 1], [1, 0]), a: f32([1, 2], [1, 1]) };
    const e = weightCall('add_low_rank', [weightTensor('w'), weightTensor('b'), weightTensor('a')], { scale: 2 });
    expect(Array.from(evaluateWeight(e, (n) => leaves[n]).data)).toEqual([3, 4, 3, 4]);
    const bad = weightCall('add_low_rank', [weightTensor('w'), weightTensor('a'), weightTensor('a')]);
    expect(() => evaluateWeight(bad, (n) => leaves[n])).toThrow(/add_low_rank: b \[1, 2\] · a \[1, 2\] does not make the \[2, 2\] of w/);
  });
});

describe('matmul_lora', () => {
  it('computes x·wᵀ + scale·factor·(x·aᵀ)·bᵀ + bias (by hand)', () => {
    // x [1, 2], w = I₂, a = [1, 1] (rank 1), b = [[1], [2]], scale 0.5, factor 2, bias [10, 20]:
    // x·wᵀ = [3, 4]; x·aᵀ = 7; times 1 → b gives [7, 14].
    const y = run1('matmul_lora', [f32([1, 2], [3, 4]), f32([2, 2], [1, 0, 0, 1]), f32([1, 2], [1, 1]), f32([2, 1], [1, 2]), f32([1], [0.5]), f32([2], [10, 20])], { ranks: [1], slots: [0], factors: [2] });
    expect(Array.from(y.data)).toEqual([20, 38]);
  });

  it('equals matmul over the weight merged with each block (add_low_rank), for stacked adapters', () => {
    fc.assert(fc.property(
      fc.record({ seed: fc.nat(), rows: fc.integer({ min: 1, max: 3 }), n: fc.integer({ min: 1, max: 6 }), k: fc.integer({ min: 1, max: 6 }),
        ranks: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 3 }),
        scales: fc.array(fc.oneof(fc.constant(0), fc.double({ min: -2, max: 2, noNaN: true })), { minLength: 3, maxLength: 3 }) }),
      ({ seed, rows, n, k, ranks, scales }) => {
        const next = rng(seed);
        const rand = (len: number) => Float32Array.from({ length: len }, () => 2 * next() - 1);
        const R = ranks.reduce((s, r) => s + r, 0);
        const slots = ranks.map((_, j) => j % 3);
        const factors = ranks.map((r) => 4 / r);
        const x = f32([rows, k], rand(rows * k)), w = f32([n, k], rand(n * k)), a = f32([R, k], rand(R * k)), b = f32([n, R], rand(n * R));
        const y = run1('matmul_lora', [x, w, a, b, f32([3], scales)], { ranks, slots, factors });
        // The same with each block merged into w in turn.
        const leaves: Record<string, ReturnType<typeof f32>> = { w, a, b };
        let merged = weightTensor('w');
        let at = 0;
        ranks.forEach((r, j) => {
          const aj = weightCall('slice', [weightTensor('a')], { axis: 0, start: at, end: at + r });
          const bj = weightCall('slice', [weightTensor('b')], { axis: 1, start: at, end: at + r });
          merged = weightCall('add_low_rank', [merged, bj, aj], { scale: scales[slots[j]] * factors[j] });
          at += r;
        });
        const want = run1('matmul', [x, evaluateWeight(merged, (name) => leaves[name])]);
        expect(maxAbsDiff(y.data as Float32Array, want.data as Float32Array)).toBeLessThanOrEqual(1e-5);
      },
    ), { numRuns: 60 });
  });

  it('names the operand or attribute that does not fit', () => {
    const attrs = { ranks: [2], slots: [0], factors: [1] };
    expect(() => inferOp('matmul_lora', [['f32', [3, 4]], ['f32', [5, 4]], ['f32', [2, 3]], ['f32', [5, 2]], ['f32', [1]]], attrs)).toThrow(/a's columns must equal w's in-features/);
    expect(() => inferOp('matmul_lora', [['f32', [3, 4]], ['f32', [5, 4]], ['f32', [2, 4]], ['f32', [6, 2]], ['f32', [1]]], attrs)).toThrow(/b's rows must equal w's out-features/);
    expect(() => inferOp('matmul_lora', [['f32', [3, 4]], ['f32', [5, 4]], ['f32', [3, 4]], ['f32', [5, 3]], ['f32', [1]]], attrs)).toThrow(/a's rows must be the sum of ranks \[2\]/);
    expect(() => inferOp('matmul_lora', [['f32', [3, 4]], ['f32', [5, 4]], ['f32', [2, 4]], ['f32', [5, 2]], ['f32', [1]]], { ...attrs, slots: [1] })).toThrow(/slots must index scales \(length 1\), got \[1\]/);
    expect(() => inferOp('matmul_lora', [['f32', [3, 4]], ['f32', [5, 4]], ['f32', [2, 4]], ['f32', [5, 2]], ['f32', [1]]], { ...attrs, factors: [] })).toThrow(/one entry per block/);
  });
});
