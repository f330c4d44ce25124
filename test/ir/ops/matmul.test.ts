import { describe, expect, it } from 'vitest';
import { convertF32, f32 } from '../../../ir/index.js';
import { S, inferOp, run1, values } from './harness.js';

describe('matmul', () => {
  it('computes x·wᵀ + bias with w stored [out, in]', () => {
    // x = [[1, 2, 3]], w rows: [1, 0, 0], [0, 1, 1]; y = [1, 5] + [10, 20]
    const x = f32([1, 3], [1, 2, 3]), w = f32([2, 3], [1, 0, 0, 0, 1, 1]);
    expect(values(run1('matmul', [x, w]))).toEqual([1, 5]);
    expect(values(run1('matmul', [x, w, f32([2], [10, 20])]))).toEqual([11, 25]);
  });
  it('keeps leading dims', () => {
    const x = f32([2, 2, 2], [1, 0, 0, 1, 2, 0, 0, 2]), w = f32([1, 2], [3, 4]);
    const y = run1('matmul', [x, w]);
    expect(y.shape).toEqual([2, 2, 1]);
    expect(values(y)).toEqual([3, 4, 6, 8]);
  });
  it('an empty reduction (in-features 0) gives the bias, not an empty tensor', () => {
    const x = f32([3, 0]), w = f32([2, 0]);
    expect(values(run1('matmul', [x, w]))).toEqual([0, 0, 0, 0, 0, 0]);
    expect(values(run1('matmul', [x, w, f32([2], [1, 2])]))).toEqual([1, 2, 1, 2, 1, 2]);
  });
  it('reads q8_0 weights (exactly representable: k/64 with max |k| = 127)', () => {
    const row = Array.from({ length: 32 }, (_, i) => (i === 0 ? 127 : i - 16) / 64);
    const w = convertF32(f32([1, 32], row), 'q8_0');
    const x = f32([1, 32], Array.from({ length: 32 }, (_, i) => (i % 2 ? 1 : -1)));
    const want = row.reduce((acc, v, i) => acc + v * (i % 2 ? 1 : -1), 0);
    expect(values(run1('matmul', [x, w]))[0]).toBeCloseTo(want, 6);
  });
  it('infers [..., out] and names mismatches', () => {
    expect(inferOp('matmul', [['f32', [S, 3]], ['f16', [5, 3]]])).toEqual(['f32[S, 5]']);
    expect(() => inferOp('matmul', [['f32', [S, 3]], ['f32', [5, 4]]])).toThrow(/x's last dim must equal w's in-features/);
    expect(() => inferOp('matmul', [['f32', [S, 3]], ['f32', [5, 3]], ['f32', [4]]])).toThrow(/bias length must equal w's out-features/);
  });
});
