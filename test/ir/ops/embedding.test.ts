import { describe, expect, it } from 'vitest';
import { convertF32, f32, i32 } from '../../../ir/index.js';
import { S, B, expectClose, inferOp, run1, values } from './harness.js';

const table = f32([4, 3], [0, 0.5, 1, 10, 11, 12, 20, 21, 22, -1, -2, -3]);

describe('embedding', () => {
  it('gathers rows by id, keeping the ids shape', () => {
    const y = run1('embedding', [table, i32([2, 2], [3, 0, 1, 3])]);
    expect(y.shape).toEqual([2, 2, 3]);
    expect(values(y)).toEqual([-1, -2, -3, 0, 0.5, 1, 10, 11, 12, -1, -2, -3]);
  });
  it('reads f16, bf16 and block-quantized tables', () => {
    expect(values(run1('embedding', [convertF32(table, 'f16'), i32([1], [2])]))).toEqual([20, 21, 22]);
    expect(values(run1('embedding', [convertF32(table, 'bf16'), i32([1], [1])]))).toEqual([10, 11, 12]);
    // q4_0 holds (nibble − 8)·d exactly when the block's largest magnitude is −8·d: here d = 0.25 (the row of 40 is two blocks, padded).
    const rows = [0, 1].map((r) => Array.from({ length: 40 }, (_, i) => (i === 5 || i === 35 ? -2 : (((i + r) % 16) - 8) * 0.25)));
    const q = convertF32(f32([2, 40], rows.flat()), 'q4_0');
    expectClose(values(run1('embedding', [q, i32([2], [1, 0])])), [...rows[1], ...rows[0]], 0);
    const q8 = convertF32(f32([2, 40], rows.flat()), 'q8_0');
    expectClose(values(run1('embedding', [q8, i32([1], [1])])), rows[1], 2 / 127);
  });
  it('names an out-of-range id and its position', () => {
    expect(() => run1('embedding', [table, i32([2, 2], [0, 1, 4, 2])])).toThrow(/id 4 at ids\[1, 0\] is out of range \[0, 4\)/);
    expect(() => run1('embedding', [table, i32([1], [-1])])).toThrow(/id -1 at ids\[0\]/);
  });
  it('infers f32[..., D] and checks operands', () => {
    expect(inferOp('embedding', [['q8_0', [256, 64]], ['i32', [B, S]]])).toEqual(['f32[B, S, 64]']);
    expect(() => inferOp('embedding', [['f32', [256, 64]], ['f32', [S]]])).toThrow(/ids must be i32/);
    expect(() => inferOp('embedding', [['f32', [256]], ['i32', [S]]])).toThrow(/table must have rank 2/);
    expect(() => inferOp('embedding', [['i32', [4, 4]], ['i32', [S]]])).toThrow(/table must be a float or quantized tensor/);
  });
});
