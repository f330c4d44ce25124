import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { convertF32, dimAdd, dimSub, f32, hasTrait, getOp, i32 } from '../../../ir/index.js';
import { P, S, inferOp, runOp, run1, values } from './harness.js';

const iota = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('reshape', () => {
  it('keeps row-major order', () => {
    const y = run1('reshape', [f32([2, 3], iota(6))], { shape: [3, 2] });
    expect(y.shape).toEqual([3, 2]);
    expect(values(y)).toEqual(iota(6));
  });
  it('takes symbolic shapes, evaluated per run', () => {
    const y = run1('reshape', [f32([2, 8], iota(16))], { shape: [S, 2, 4] }, { shapes: [[S, 8]] });
    expect(y.shape).toEqual([2, 2, 4]);
    expect(values(y)).toEqual(iota(16));
  });
  it('compares element counts as polynomials', () => {
    expect(inferOp('reshape', [['f32', [S, 64]]], { shape: [S, 4, 16] })).toEqual(['f32[S, 4, 16]']);
    expect(inferOp('reshape', [['i32', [S, P]]], { shape: [P, S] })).toEqual(['i32[P, S]']);
    expect(() => inferOp('reshape', [['f32', [S, 64]]], { shape: [S, 5, 16] })).toThrow(/attribute 'shape' \[S, 5, 16\] holds 80\*S elements, x f32\[S, 64\] holds 64\*S/);
    expect(() => inferOp('reshape', [['f32', [S, 64]]], { shape: [64] })).toThrow(/holds 64 elements/);
    expect(() => inferOp('reshape', [['q8_0', [2, 32]]], { shape: [64] })).toThrow(/x must not be block-quantized/);
  });
});

describe('transpose', () => {
  it('moves axes: result axis k is x axis perm[k]', () => {
    // [[0, 1, 2], [3, 4, 5]]ᵀ = [[0, 3], [1, 4], [2, 5]]
    const y = run1('transpose', [f32([2, 3], iota(6))], { perm: [1, 0] });
    expect(y.shape).toEqual([3, 2]);
    expect(values(y)).toEqual([0, 3, 1, 4, 2, 5]);
    // [S, H, D] → [H, S, D] with S = 2, H = 3, D = 2: out[h, s, d] = x[s, h, d] = s·6 + h·2 + d
    const z = run1('transpose', [i32([2, 3, 2], iota(12))], { perm: [1, 0, 2] });
    expect(z.dtype).toBe('i32');
    expect(values(z)).toEqual([0, 1, 6, 7, 2, 3, 8, 9, 4, 5, 10, 11]);
  });
  it('round-trips through the inverse permutation (property)', () => {
    const shapeAndPerm = fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 4 }).chain((shape) =>
      fc.shuffledSubarray(iota(shape.length), { minLength: shape.length, maxLength: shape.length }).map((perm) => ({ shape, perm })));
    fc.assert(fc.property(shapeAndPerm, ({ shape, perm }) => {
      const n = shape.reduce((a, d) => a * d, 1);
      const x = f32(shape, iota(n).map((i) => i * 0.5));
      const inverse = perm.map((_, i) => perm.indexOf(i));
      const back = run1('transpose', [run1('transpose', [x], { perm })], { perm: inverse });
      expect(back.shape).toEqual(shape);
      expect(values(back)).toEqual(values(x));
    }));
  });
  it('checks the permutation', () => {
    expect(inferOp('transpose', [['f32', [S, 4, 8]]], { perm: [1, 0, 2] })).toEqual(['f32[4, S, 8]']);
    expect(() => inferOp('transpose', [['f32', [S, 4]]], { perm: [0, 0] })).toThrow(/attribute 'perm' \[0, 0\] is not a permutation of the 2 axes/);
    expect(() => inferOp('transpose', [['f32', [S, 4]]], { perm: [1, 0, 2] })).toThrow(/not a permutation/);
  });
});

describe('split and concat', () => {
  it('split cuts consecutive pieces along the axis', () => {
    const x = f32([2, 5], iota(10));
    const [a, b] = runOp('split', [x], { axis: -1, sizes: [2, 3] });
    expect(a.shape).toEqual([2, 2]);
    expect(values(a)).toEqual([0, 1, 5, 6]);
    expect(values(b)).toEqual([2, 3, 4, 7, 8, 9]);
    const [r0, r1] = runOp('split', [x], { axis: 0, sizes: [1, 1] });
    expect(values(r0)).toEqual([0, 1, 2, 3, 4]);
    expect(values(r1)).toEqual([5, 6, 7, 8, 9]);
  });
  it('concat joins along the axis, any plain dtype, symbolic sizes add', () => {
    const y = run1('concat', [f32([2, 1], [1, 2]), f32([2, 2], [3, 4, 5, 6])], { axis: 1 });
    expect(values(y)).toEqual([1, 3, 4, 2, 5, 6]);
    expect(values(run1('concat', [i32([1], [7]), i32([2], [8, 9])], { axis: 0 }))).toEqual([7, 8, 9]);
    const h = run1('concat', [convertF32(f32([1], [1]), 'f16'), convertF32(f32([1], [2]), 'f16')], { axis: 0 });
    expect(h.dtype).toBe('f16');
    expect(inferOp('concat', [['f32', [P, 4]], ['f32', [S, 4]], ['f32', [1, 4]]], { axis: 0 })).toEqual([`f32[${String(dimAdd(dimAdd(P, S), 1))}, 4]`]);
  });
  it('split ∘ concat is the identity (property)', () => {
    const arb = fc.record({
      rows: fc.integer({ min: 1, max: 3 }),
      sizes: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }),
    });
    fc.assert(fc.property(arb, ({ rows, sizes }) => {
      const total = sizes.reduce((a, s) => a + s, 0);
      const x = f32([rows, total], iota(rows * total));
      const pieces = runOp('split', [x], { axis: 1, sizes });
      expect(pieces.map((p) => p.shape)).toEqual(sizes.map((s) => [rows, s]));
      const back = run1('concat', pieces, { axis: 1 });
      expect(values(back)).toEqual(values(x));
    }));
  });
  it('name bad sizes, axes and operands', () => {
    expect(inferOp('split', [['f32', [S, 12]]], { sizes: [4, 8] })).toEqual(['f32[S, 4]', 'f32[S, 8]']);
    expect(() => inferOp('split', [['f32', [S, 12]]], { sizes: [4, 4] })).toThrow(/attribute 'sizes' \[4, 4\] add up to 8, but x f32\[S, 12\] has 12 along axis 1/);
    expect(() => inferOp('split', [['f32', [S, 12]]], { axis: 0, sizes: [1] })).toThrow(/has S along axis 0/);
    expect(() => inferOp('split', [['f32', [12]]], { sizes: [0, 12] })).toThrow(/positive sizes/);
    expect(() => inferOp('split', [['f32', [12]]], { axis: 1, sizes: [12] })).toThrow(/axis 1 is out of range for rank 1/);
    expect(() => inferOp('concat', [['f32', [S, 4]], ['f32', [S, 5]]], { axis: 0 })).toThrow(/xs\[1\] f32\[S, 5\] differs from xs\[0\] f32\[S, 4\] in axis 1/);
    expect(() => inferOp('concat', [['f32', [4]], ['i32', [4]]], { axis: 0 })).toThrow(/xs\[1\] i32\[4\] must have the dtype and rank/);
    expect(() => inferOp('concat', [], { axis: 0 })).toThrow(/at least one operand/);
  });
});

describe('slice', () => {
  it('takes the last token with symbolic bounds S-1..S', () => {
    const attrs = { axis: 0, start: dimSub(S, 1), end: S };
    expect(inferOp('slice', [['f32', [S, 4]]], attrs)).toEqual(['f32[1, 4]']);
    const y = run1('slice', [f32([3, 2], iota(6))], attrs, { shapes: [[S, 2]] });
    expect(y.shape).toEqual([1, 2]);
    expect(values(y)).toEqual([4, 5]);
  });
  it('slices inner axes', () => {
    const y = run1('slice', [f32([2, 4], iota(8))], { axis: -1, start: 1, end: 3 });
    expect(values(y)).toEqual([1, 2, 5, 6]);
    expect(inferOp('slice', [['f32', [P, 8]]], { axis: 1, start: 2, end: 8 })).toEqual(['f32[P, 6]']);
  });
  it('rejects bounds that are provably out of range, and at run time the rest', () => {
    expect(() => inferOp('slice', [['f32', [S, 4]]], { axis: 1, start: 0, end: 5 })).toThrow(/attribute 'end' 5 is past x's 4 along axis 1/);
    expect(() => inferOp('slice', [['f32', [S, 4]]], { axis: 1, start: 3, end: 2 })).toThrow(/attribute 'end' 2 is before 'start' 3/);
    expect(() => inferOp('slice', [['f32', [S, 4]]], { axis: 0, start: 0, end: dimAdd(S, 1) })).toThrow(/'end' S\+1 is past x's S/);
    // end = P is not provably past S, so only the run (S = 2, P = 5) can tell.
    const attrs = { axis: 0, start: 0, end: P };
    expect(() => run1('slice', [f32([2, 4], iota(8))], attrs, { shapes: [[S, 4]], dims: { P: 5 } })).toThrow(/slice: \[0, 5\) is outside 0\.\.2 on axis 0/);
  });
});

it('layout ops carry the layout trait', () => {
  for (const op of ['reshape', 'transpose', 'split', 'concat', 'slice']) expect(hasTrait(getOp(op), 'layout')).toBe(true);
  expect(hasTrait(getOp('matmul'), 'layout')).toBe(false);
});
