import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { convertF32, f32, i32 } from '../../../ir/index.js';
import { S, inferOp, run1, values } from './harness.js';

describe('binary arithmetic', () => {
  it('computes add, sub, mul, div elementwise', () => {
    const a = f32([2, 2], [1, 2, 3, 4]), b = f32([2, 2], [8, 4, 2, 1]);
    expect(values(run1('add', [a, b]))).toEqual([9, 6, 5, 5]);
    expect(values(run1('sub', [a, b]))).toEqual([-7, -2, 1, 3]);
    expect(values(run1('mul', [a, b]))).toEqual([8, 8, 6, 4]);
    expect(values(run1('div', [a, b]))).toEqual([0.125, 0.5, 1.5, 4]);
  });
  it('broadcasts numpy-style (a row against every row, a column against every column)', () => {
    const m = f32([2, 3], [1, 2, 3, 4, 5, 6]);
    expect(values(run1('add', [m, f32([3], [10, 20, 30])]))).toEqual([11, 22, 33, 14, 25, 36]);
    expect(values(run1('mul', [m, f32([2, 1], [2, -1])]))).toEqual([2, 4, 6, -4, -5, -6]);
    expect(values(run1('sub', [f32([1], [1]), m]))).toEqual([0, -1, -2, -3, -4, -5]);
  });
  it('reads f16 and bf16 operands and returns f32', () => {
    const h = convertF32(f32([2], [1.5, -2]), 'f16');
    const bf = convertF32(f32([2], [0.5, 4]), 'bf16');
    const y = run1('add', [h, bf]);
    expect(y.dtype).toBe('f32');
    expect(values(y)).toEqual([2, 2]);
  });
  it('infers broadcast shapes symbolically and names bad operands', () => {
    expect(inferOp('add', [['f32', [S, 4]], ['f32', [4]]])).toEqual(['f32[S, 4]']);
    expect(inferOp('mul', [['f32', [S, 1]], ['f32', [1, 8]]])).toEqual(['f32[S, 8]']);
    expect(() => inferOp('add', [['f32', [S, 4]], ['f32', [3]]])).toThrow(/\[S, 4\] and \[3\] do not broadcast/);
    expect(() => inferOp('add', [['i32', [4]], ['f32', [4]]])).toThrow(/lhs must be a float tensor/);
    expect(() => inferOp('div', [['f32', [4]], ['i32', [4]]])).toThrow(/rhs must be a float tensor/);
  });
  it('add is commutative (property)', () => {
    fc.assert(fc.property(fc.array(fc.float({ noNaN: true, noDefaultInfinity: true }), { minLength: 1, maxLength: 8 }), (xs) => {
      const a = f32([xs.length], xs), b = f32([xs.length], xs.map((v) => v / 3));
      expect(values(run1('add', [a, b]))).toEqual(values(run1('add', [b, a])));
    }));
  });
});

describe('silu', () => {
  it('is x·sigmoid(x)', () => {
    // silu(0) = 0, silu(1) = 1/(1+e⁻¹) = 0.7310585786, silu(−2) = −2/(1+e²) = −0.2384058440
    const y = values(run1('silu', [f32([3], [0, 1, -2])]));
    expect(y[0]).toBe(0);
    expect(y[1]).toBeCloseTo(0.7310585786, 7);
    expect(y[2]).toBeCloseTo(-0.238405844, 7);
  });
});

describe('cast', () => {
  it('truncates floats toward zero and widens ints', () => {
    expect(values(run1('cast', [f32([4], [1.9, -1.9, 0, 3])], { dtype: 'i32' }))).toEqual([1, -1, 0, 3]);
    const y = run1('cast', [i32([3], [0, 1, -7])], { dtype: 'f32' });
    expect(y.dtype).toBe('f32');
    expect(values(y)).toEqual([0, 1, -7]);
  });
  it('refuses values that do not fit in i32', () => {
    expect(() => run1('cast', [f32([2], [1, 3e9])], { dtype: 'i32' })).toThrow(/element 1 .* does not fit in i32/);
    expect(() => run1('cast', [f32([1], [NaN])], { dtype: 'i32' })).toThrow(/does not fit/);
  });
  it('infers the target dtype and checks the attribute', () => {
    expect(inferOp('cast', [['f32', [S, 2]]], { dtype: 'i32' })).toEqual(['i32[S, 2]']);
    expect(() => inferOp('cast', [['f32', [2]]], { dtype: 'f16' })).toThrow(/attribute 'dtype': expected one of "f32", "i32"/);
    expect(() => inferOp('cast', [['q8_0', [32]]], { dtype: 'f32' })).toThrow(/x must be a float or i32 tensor/);
  });
});
