import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { f32, i32 } from '../../../ir/index.js';
import { B, S, expectClose, inferOp, run1, values } from './harness.js';

const ln2 = Math.log(2), ln3 = Math.log(3);

describe('softmax', () => {
  it('normalizes exp along the last axis by default', () => {
    // e^0 : e^ln2 : e^ln3 = 1 : 2 : 3
    expectClose(values(run1('softmax', [f32([2, 3], [0, ln2, ln3, 5, 5, 5])])), [1 / 6, 2 / 6, 3 / 6, 1 / 3, 1 / 3, 1 / 3]);
  });
  it('is stable for large logits and works along any axis', () => {
    // exp(1000) overflows; exp(x − max) does not. [1000, 1001] → [1, e]/(1 + e)
    expectClose(values(run1('softmax', [f32([2], [1000, 1001])])), [1 / (1 + Math.E), Math.E / (1 + Math.E)]);
    expectClose(values(run1('softmax', [f32([1, 2], [-1e4, 0])])), [0, 1]);
    // axis 0 of [[0, 0], [ln3, ln2]] → columns [1/4, 3/4] and [1/3, 2/3]
    expectClose(values(run1('softmax', [f32([2, 2], [0, 0, ln3, ln2])], { axis: 0 })), [0.25, 1 / 3, 0.75, 2 / 3]);
    expectClose(values(run1('softmax', [f32([2, 2], [0, 0, ln3, ln2])], { axis: -2 })), [0.25, 1 / 3, 0.75, 2 / 3]);
  });
  it('rows sum to 1 and keep the order of their logits (property)', () => {
    fc.assert(fc.property(fc.array(fc.float({ min: -50, max: 50, noNaN: true }), { minLength: 1, maxLength: 12 }), (xs) => {
      const y = values(run1('softmax', [f32([1, xs.length], xs)]));
      expect(Math.abs(y.reduce((a, v) => a + v, 0) - 1)).toBeLessThan(1e-6);
      for (let i = 1; i < xs.length; i++) if (xs[i] > xs[0]) expect(y[i]).toBeGreaterThanOrEqual(y[0]);
    }));
  });
  it('checks the axis', () => {
    expect(inferOp('softmax', [['f32', [S, 4]]], { axis: 0 })).toEqual(['f32[S, 4]']);
    expect(() => inferOp('softmax', [['f32', [S, 4]]], { axis: 2 })).toThrow(/axis 2 is out of range for rank 2/);
    expect(() => inferOp('softmax', [['f32', [S, 4]]], { axis: -3 })).toThrow(/axis -3 is out of range/);
  });
});

describe('argmax', () => {
  it('returns the first index of the maximum over the last axis', () => {
    const y = run1('argmax', [f32([3, 4], [1, 3, 3, 2, -5, -4, -4, -9, 0, 0, 0, 0])]);
    expect(y.dtype).toBe('i32');
    expect(values(y)).toEqual([1, 1, 0]);
    expect(values(run1('argmax', [f32([3], [-Infinity, -1, -2])]))).toEqual([1]);
  });
  it('drops the last axis', () => {
    expect(inferOp('argmax', [['f32', [B, S, 256]]])).toEqual(['i32[B, S]']);
    expect(inferOp('argmax', [['f32', [256]]])).toEqual(['i32[]']);
    expect(() => inferOp('argmax', [['f32', []]])).toThrow(/x must have rank ≥ 1/);
  });
});

describe('mean_pool', () => {
  it('averages the rows the mask keeps', () => {
    // batch 0: rows 0 and 1 kept → mean([1, 2], [3, 4]) = [2, 3]; batch 1: only row 0 → [5, 6]
    const h = f32([2, 3, 2], [1, 2, 3, 4, 100, 100, 5, 6, 100, 100, 100, 100]);
    expectClose(values(run1('mean_pool', [h, i32([2, 3], [1, 1, 0, 1, 0, 0])])), [2, 3, 5, 6]);
    expectClose(values(run1('mean_pool', [h, f32([2, 3], [1, 1, 0, 1, 0, 0])])), [2, 3, 5, 6]);
  });
  it('pools an all-padding row to zeros (Σmask clamped at 1e-9)', () => {
    expectClose(values(run1('mean_pool', [f32([1, 2, 1], [7, 8]), i32([1, 2], [0, 0])])), [0]);
  });
  it('infers [B, D] and checks the mask', () => {
    expect(inferOp('mean_pool', [['f32', [B, S, 64]], ['i32', [B, S]]])).toEqual(['f32[B, 64]']);
    expect(() => inferOp('mean_pool', [['f32', [B, S, 64]], ['i32', [B, 5]]])).toThrow(/mask's sequence dim must equal h's/);
    expect(() => inferOp('mean_pool', [['f32', [S, 64]], ['i32', [S]]])).toThrow(/h must have rank 3/);
  });
});
