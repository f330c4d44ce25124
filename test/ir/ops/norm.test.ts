import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { f32 } from '../../../ir/index.js';
import { S, expectClose, inferOp, run1, values } from './harness.js';

describe('rms_norm', () => {
  it('is x·rsqrt(mean(x²) + eps)·w, and (1 + w) with offset 1', () => {
    // mean([3², 4²]) = 12.5
    const r = 1 / Math.sqrt(12.5);
    expectClose(values(run1('rms_norm', [f32([1, 2], [3, 4]), f32([2], [1, 2])], { eps: 0 })), [3 * r, 8 * r]);
    expectClose(values(run1('rms_norm', [f32([1, 2], [3, 4]), f32([2], [0, 1])], { eps: 0, offset: 1 })), [3 * r, 8 * r]);
    // eps matters for small rows: x = [0.001, 0], mean x² = 5e-7, eps = 5e-7 → x·rsqrt(1e-6) = 1
    expectClose(values(run1('rms_norm', [f32([1, 2], [0.001, 0]), f32([2], [1, 1])], { eps: 5e-7 })), [1, 0], 1e-6);
  });
  it('checks the weight length', () => {
    expect(() => inferOp('rms_norm', [['f32', [S, 4]], ['f32', [3]]])).toThrow(/w's length must equal x's last dim/);
  });
});

describe('layer_norm', () => {
  it('uses the biased variance, then w and b', () => {
    // x = [1, 2, 3, 4]: mean 2.5, var = (2.25 + 0.25 + 0.25 + 2.25)/4 = 1.25
    const s = Math.sqrt(1.25);
    const y = values(run1('layer_norm', [f32([1, 4], [1, 2, 3, 4]), f32([4], [1, 1, 2, 2]), f32([4], [0, 1, 0, 1])], { eps: 0 }));
    expectClose(y, [-1.5 / s, -0.5 / s + 1, 1 / s, 3 / s + 1]);
  });
  it('adds eps inside the square root and works row by row; b is optional', () => {
    const y = values(run1('layer_norm', [f32([2, 2], [0, 2, 5, 5]), f32([2], [1, 1])], { eps: 1 }));
    // row 0: mean 1, var 1 → ±1/√2; row 1: constant → 0
    expectClose(y, [-Math.SQRT1_2, Math.SQRT1_2, 0, 0]);
  });
  it('rows have mean ≈ b and variance ≈ 1 with w = 1, b = 0 (property)', () => {
    fc.assert(fc.property(fc.array(fc.float({ min: -100, max: 100, noNaN: true }), { minLength: 2, maxLength: 16 }), (xs) => {
      fc.pre(Math.max(...xs) - Math.min(...xs) > 1e-2);
      const y = values(run1('layer_norm', [f32([1, xs.length], xs), f32([xs.length], xs.map(() => 1))], { eps: 0 }));
      const mean = y.reduce((a, v) => a + v, 0) / y.length;
      const variance = y.reduce((a, v) => a + (v - mean) ** 2, 0) / y.length;
      expect(Math.abs(mean)).toBeLessThan(1e-5);
      expect(Math.abs(variance - 1)).toBeLessThan(1e-4);
    }));
  });
  it('checks w and b', () => {
    expect(inferOp('layer_norm', [['f32', [S, 4]], ['f32', [4]], ['f32', [4]]])).toEqual(['f32[S, 4]']);
    expect(() => inferOp('layer_norm', [['f32', [S, 4]], ['f32', [4]], ['f32', [5]]])).toThrow(/b's length must equal x's last dim/);
    expect(() => inferOp('layer_norm', [['f32', [S, 4]], ['f32', [2, 2]]])).toThrow(/w must have rank 1/);
  });
});

describe('l2_normalize', () => {
  it('divides by max(‖x‖, eps)', () => {
    expectClose(values(run1('l2_normalize', [f32([2, 2], [3, 4, 0, 0])])), [0.6, 0.8, 0, 0]);
    // ‖[1e-13, 0]‖ = 1e-13 < eps = 1e-12 → divided by 1e-12
    expectClose(values(run1('l2_normalize', [f32([1, 2], [1e-13, 0])])), [0.1, 0], 1e-7);
    expectClose(values(run1('l2_normalize', [f32([1, 2], [3, 4])], { eps: 10 })), [0.3, 0.4]);
  });
  it('infers the same shape', () => {
    expect(inferOp('l2_normalize', [['f32', [S, 8]]])).toEqual(['f32[S, 8]']);
    expect(() => inferOp('l2_normalize', [['f32', []]])).toThrow(/x must have rank ≥ 1/);
  });
});
