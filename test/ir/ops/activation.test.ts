import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { f32 } from '../../../ir/index.js';
import { erf } from '../../../ir/ops/erf.js';
import { S, expectClose, inferOp, run1, values } from './harness.js';

/** erf by composite Simpson integration of 2/√π·e^(−t²): slow, but shares nothing with the series. */
function erfBySimpson(x: number, n = 20000): number {
  const h = x / n;
  const g = (t: number) => Math.exp(-t * t);
  let sum = g(0) + g(x);
  for (let i = 1; i < n; i++) sum += (i % 2 ? 4 : 2) * g(i * h);
  return ((2 / Math.sqrt(Math.PI)) * h * sum) / 3;
}

describe('erf', () => {
  it('matches tabulated values to 1e-15', () => {
    const table: [number, number][] = [
      [0.1, 0.1124629160182849], [0.5, 0.5204998778130465], [1, 0.8427007929497149],
      [1.5, 0.9661051464753108], [2, 0.9953222650189527], [3, 0.9999779095030014], [4, 0.9999999845827421],
    ];
    for (const [x, want] of table) {
      expect(Math.abs(erf(x) - want)).toBeLessThan(1e-15);
      expect(erf(-x)).toBe(-erf(x));
    }
    expect(erf(0)).toBe(0);
    expect(erf(7)).toBe(1);
    expect(erf(-30)).toBe(-1);
    expect(erf(NaN)).toBeNaN();
  });
  it('agrees with numerical integration to 1e-12 across [0, 6] (property)', () => {
    fc.assert(fc.property(fc.double({ min: 0, max: 6, noNaN: true }), (x) => {
      expect(Math.abs(erf(x) - erfBySimpson(x))).toBeLessThan(1e-12);
    }), { numRuns: 50 });
  });
});

describe('gelu', () => {
  it('exact (erf) form is x·Φ(x)', () => {
    // Φ(1) = 0.8413447460685429, Φ(2) = 0.9772498680518208, Φ(−0.5) = 0.3085375387259869.
    const y = values(run1('gelu', [f32([4], [0, 1, 2, -0.5])]));
    expectClose(y, [0, 0.8413447460685429, 2 * 0.9772498680518208, -0.5 * 0.3085375387259869], 1e-7);
  });
  it('tanh form is 0.5x(1 + tanh(√(2/π)(x + 0.044715x³)))', () => {
    const xs = [-3, -1, 0, 0.5, 1, 4];
    const want = xs.map((x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))));
    expectClose(values(run1('gelu', [f32([6], xs)], { approximate: 'tanh' })), want, 1e-7);
    expect(values(run1('gelu', [f32([1], [1])], { approximate: 'tanh' }))[0]).toBeCloseTo(0.8411919906, 7);
  });
  it('checks its attribute', () => {
    expect(() => inferOp('gelu', [['f32', [S]]], { approximate: 'fast' })).toThrow(/attribute 'approximate': expected one of "none", "tanh"/);
    expect(() => inferOp('gelu', [['i32', [S]]])).toThrow(/x must be a float tensor/);
  });
});

describe('simple activations', () => {
  const ln2 = Math.log(2), ln3 = Math.log(3);
  it('tanh, sigmoid, exp', () => {
    // tanh(ln 2) = (4 − 1)/(4 + 1); sigmoid(ln 3) = 3/4.
    expectClose(values(run1('tanh', [f32([3], [0, ln2, -ln2])])), [0, 0.6, -0.6]);
    expectClose(values(run1('sigmoid', [f32([4], [0, ln3, -ln3, -1000])])), [0.5, 0.75, 0.25, 0]);
    expectClose(values(run1('exp', [f32([3], [0, ln2, 1])])), [1, 2, Math.E]);
  });
  it('relu, neg', () => {
    expect(values(run1('relu', [f32([4], [-2, -0, 0.5, 3])]))).toEqual([0, 0, 0.5, 3]);
    expect(values(run1('neg', [f32([3], [1, -2, 0.25])]))).toEqual([-1, 2, -0.25]);
  });
  it('softcap is cap·tanh(x/cap) and keeps |y| < cap', () => {
    // 2·tanh(2 ln 3 / 2) = 2·(9 − 1)/(9 + 1) = 1.6
    expectClose(values(run1('softcap', [f32([3], [2 * ln3, 0, -1e6])], { cap: 2 })), [1.6, 0, -2]);
    expect(() => inferOp('softcap', [['f32', [S]]], { cap: 0 })).toThrow(/attribute 'cap' must be > 0/);
    expect(() => inferOp('softcap', [['f32', [S]]])).toThrow(/missing attribute 'cap'/);
  });
  it('scale multiplies by its factor', () => {
    expect(values(run1('scale', [f32([3], [1, -2, 0.5])], { factor: 8 }))).toEqual([8, -16, 4]);
    expect(inferOp('scale', [['bf16', [S, 3]]], { factor: 2 })).toEqual(['f32[S, 3]']);
  });
});
