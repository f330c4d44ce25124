// Weight-source transforms against hand-computed results, including storage-type handling.
import { describe, expect, it } from 'vitest';
import { convertF32, f32, toF32 } from '../../ir/tensor.js';
import { evaluateWeight, weightCall, weightTensor, weightType } from '../../ir/weights.js';

const store = {
  a: f32([2, 2], [1, 2, 3, 4]),
  b: f32([1, 2], [5, 6]),
  g: f32([2], [10, 100]),
};
const read = (n: string) => store[n as keyof typeof store];
const leaf = (n: string) => ({ dtype: read(n).dtype, shape: read(n).shape });

describe('weight transforms', () => {
  it('transpose, slice, concat and scale_cols compute what they say', () => {
    const t = (e: ReturnType<typeof weightCall>) => Array.from(toF32(evaluateWeight(e, read)));
    expect(t(weightCall('transpose', [weightTensor('a')]))).toEqual([1, 3, 2, 4]);
    expect(t(weightCall('slice', [weightTensor('a')], { axis: 1, start: 1, end: 2 }))).toEqual([2, 4]);
    expect(t(weightCall('concat', [weightTensor('a'), weightTensor('b')], { axis: 0 }))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(t(weightCall('scale_cols', [weightTensor('a'), weightTensor('g')], { offset: 1 }))).toEqual([11, 202, 33, 404]);
  });

  it('concatenating different storage types widens every part (no raw byte join)', () => {
    const mixed = { ...store, h: convertF32(f32([1, 2], [0.5, -2]), 'f16') };
    const e = weightCall('concat', [weightTensor('a'), weightTensor('h')], { axis: 0 });
    const readMixed = (n: string) => mixed[n as keyof typeof mixed];
    expect(weightType(e, (n) => ({ dtype: readMixed(n).dtype, shape: readMixed(n).shape })).dtype).toBe('f32');
    expect(Array.from(toF32(evaluateWeight(e, readMixed)))).toEqual([1, 2, 3, 4, 0.5, -2]);
  });

  it('row-wise transforms keep quantized blocks', () => {
    const q = { q: convertF32(f32([4, 32], Array.from({ length: 128 }, (_, i) => Math.sin(i))), 'q8_0') };
    const e = weightCall('slice', [weightTensor('q')], { axis: 0, start: 1, end: 3 });
    const r = evaluateWeight(e, (n) => q[n as 'q']);
    expect(r.dtype).toBe('q8_0');
    expect(Array.from(toF32(r))).toEqual(Array.from(toF32(q.q)).slice(32, 96));
  });

  it('type inference names the problem', () => {
    expect(() => weightType(weightCall('slice', [weightTensor('a')], { axis: 0, start: 1, end: 5 }), leaf)).toThrow(/\[1, 5\) is out of range for axis 0/);
    expect(() => weightType(weightCall('concat', [weightTensor('a'), weightTensor('g')], { axis: 0 }), leaf)).toThrow(/shapes \[2, 2\] and \[2\] differ/);
  });
});
