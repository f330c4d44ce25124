import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { f32, type HostTensor, i32, tensor } from '../../../ir/index.js';
import { expectClose, inferOp, run1, S, values } from './harness.js';

/** A pool [n, bs, 1, 1] whose slot s holds xs[s]. */
const pool1 = (n: number, bs: number, xs: number[]) => f32([n, bs, 1, 1], xs);

describe('paged_attention: worked values', () => {
  // Two blocks of two slots. Row 0's table is [1, 0]: positions 0, 1 are slots 2, 3 and position 2
  // is slot 0. With zero queries every visible position weighs the same.
  const v = pool1(2, 2, [8, 100, 1, 2]);
  const k = pool1(2, 2, [0, 0, 0, 0]);
  it('a row sees the first lens[r] positions of its own table', () => {
    const q = f32([2, 1, 1], [0, 0]);
    const blocks = i32([2, 2], [1, 0, 0, 1]);
    // Row 0: positions 0..2 → slots 2, 3, 0 → (1 + 2 + 8) / 3. Row 1: length 1 → slot 0 → 8.
    expectClose(values(run1('paged_attention', [q, k, v, blocks, i32([2], [3, 1])], { scale: 1 })), [11 / 3, 8]);
  });
  it('window W keeps the last W positions; length 0 gives zeros', () => {
    const q = f32([2, 1, 1], [0, 0]);
    const blocks = i32([2, 2], [1, 0, 1, 0]);
    expectClose(values(run1('paged_attention', [q, k, v, blocks, i32([2], [3, 0])], { scale: 1, window: 2 })), [(2 + 8) / 2, 0]);
  });
  it('scores are scaled dot products: weights 1/4, 3/4 for scores 0, ln 3', () => {
    const q = f32([1, 1, 1], [1]);
    const keys = pool1(1, 2, [0, Math.log(3)]);
    const vals = pool1(1, 2, [1, 5]);
    expectClose(values(run1('paged_attention', [q, keys, vals, i32([1, 1], [0]), i32([1], [2])], { scale: 1 })), [1 / 4 + 15 / 4]);
  });
});

describe('paged_kv_write', () => {
  it('writes row r at its position in its table and leaves the rest', () => {
    const pool = pool1(2, 2, [1, 2, 3, 4]);
    const out = run1('paged_kv_write', [pool, f32([2, 1, 1], [9, 7]), i32([2, 2], [1, 0, 0, 1]), i32([2], [2, 1])]);
    // Row 0 position 2 → table entry 1 = block 0, slot 0; row 1 position 1 → block 0, slot 1.
    expect(values(out)).toEqual([9, 7, 3, 4]);
  });
  it('refuses a position past the table or a block outside the pool, naming the row', () => {
    const pool = pool1(2, 2, [1, 2, 3, 4]);
    expect(() => run1('paged_kv_write', [pool, f32([1, 1, 1], [9]), i32([1, 1], [0]), i32([1], [2])])).toThrow(/row 0 position 2 is past its block table/);
    expect(() => run1('paged_kv_write', [pool, f32([1, 1, 1], [9]), i32([1, 1], [5]), i32([1], [0])])).toThrow(/block table entry 0 is 5, outside the pool of 2 blocks/);
  });
});

describe('paged ops: type inference', () => {
  it('infers the result shapes', () => {
    expect(inferOp('paged_attention', [['f32', [S, 4, 8]], ['f32', [10, 16, 2, 8]], ['f32', [10, 16, 2, 6]], ['i32', [S, 3]], ['i32', [S]]], { scale: 1 })).toEqual(['f32[S, 4, 6]']);
    expect(inferOp('paged_kv_write', [['f32', [10, 16, 2, 8]], ['f32', [S, 2, 8]], ['i32', [S, 3]], ['i32', [S]]])).toEqual(['f32[10, 16, 2, 8]']);
  });
  it('names the operand at fault', () => {
    expect(() => inferOp('paged_attention', [['f32', [S, 3, 8]], ['f32', [10, 16, 2, 8]], ['f32', [10, 16, 2, 8]], ['i32', [S, 3]], ['i32', [S]]], { scale: 1 })).toThrow(/not a multiple of k's 2 heads/);
    expect(() => inferOp('paged_attention', [['f32', [S, 2, 8]], ['f32', [10, 16, 2, 8]], ['f32', [10, 8, 2, 8]], ['i32', [S, 3]], ['i32', [S]]], { scale: 1 })).toThrow(/v's block size must equal k's/);
    expect(() => inferOp('paged_attention', [['f32', [S, 2, 8]], ['f32', [10, 16, 2, 8]], ['f32', [10, 16, 2, 8]], ['f32', [S, 3]], ['i32', [S]]], { scale: 1 })).toThrow(/blocks/);
    expect(() => inferOp('paged_kv_write', [['f32', [10, 16, 2, 8]], ['f32', [S, 3, 8]], ['i32', [S, 3]], ['i32', [S]]])).toThrow(/new's heads must equal pool's/);
    expect(() => inferOp('paged_kv_write', [['f32', [10, 16, 2, 8]], ['f32', [S, 2, 8]], ['i32', [S, 3]], ['i32', [4]]])).toThrow(/one position per row/);
  });
});

/** Random pools, block tables dealt from a shuffled pool (no block shared), lengths ≥ 1. */
const arbPaged = fc.record({
  rows: fc.integer({ min: 1, max: 4 }),
  blockSize: fc.integer({ min: 1, max: 4 }),
  hkv: fc.integer({ min: 1, max: 2 }),
  group: fc.integer({ min: 1, max: 3 }),
  d: fc.integer({ min: 1, max: 9 }),
  dv: fc.integer({ min: 1, max: 5 }),
  lens: fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 4, maxLength: 4 }),
  window: fc.constantFrom(0, 0, 1, 2, 5),
  softcap: fc.constantFrom(0, 0, 3),
  seed: fc.integer({ min: 1, max: 2 ** 30 }),
}).map((c) => ({ ...c, lens: c.lens.slice(0, c.rows) }));

function noise(seed: number, n: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  });
}

/** Row r's positions 0…len−1 gathered into a contiguous [len, H, D] cache. */
function gather(pool: HostTensor, table: Int32Array, m: number, r: number, len: number): HostTensor {
  const [, bs, h, d] = pool.shape;
  const src = pool.data as Float32Array, row = h * d;
  const out = new Float32Array(len * row);
  for (let p = 0; p < len; p++) {
    const slot = table[r * m + Math.floor(p / bs)] * bs + (p % bs);
    out.set(src.subarray(slot * row, (slot + 1) * row), p * row);
  }
  return tensor('f32', [len, h, d], out);
}

describe('paged_attention equals attention over each row gathered into a contiguous cache', () => {
  it('random block tables and lengths (1 included, one row included)', () => {
    fc.assert(
      fc.property(arbPaged, ({ rows, blockSize, hkv, group, d, dv, lens, window, softcap, seed }) => {
        const hq = hkv * group;
        const m = Math.max(...lens.map((l) => Math.ceil(l / blockSize)));
        const n = rows * m + 1;
        // Blocks dealt from a shuffled pool: tables are not in order, and no block is shared.
        const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => noise(seed + a, 1)[0] - noise(seed + b, 1)[0]);
        const table = Int32Array.from({ length: rows * m }, (_, i) => order[i]);
        const k = tensor('f32', [n, blockSize, hkv, d], noise(seed, n * blockSize * hkv * d));
        const v = tensor('f32', [n, blockSize, hkv, dv], noise(seed + 1, n * blockSize * hkv * dv));
        const q = tensor('f32', [rows, hq, d], noise(seed + 2, rows * hq * d));
        const attrs = { scale: 1 / Math.sqrt(d), window, softcap };
        const got = values(run1('paged_attention', [q, k, v, tensor('i32', [rows, m], table), i32([rows], lens)], attrs));
        const want = lens.flatMap((len, r) => {
          const qr = tensor('f32', [1, hq, d], (q.data as Float32Array).slice(r * hq * d, (r + 1) * hq * d));
          return values(run1('attention', [qr, gather(k, table, m, r, len), gather(v, table, m, r, len)], { ...attrs, causal: true }));
        });
        expectClose(got, want, 1e-6);
      }),
      { numRuns: 200 },
    );
  });

  it('paged_kv_write then gather returns the rows written, other slots untouched', () => {
    fc.assert(
      fc.property(arbPaged, ({ rows, blockSize, hkv, d, lens, seed }) => {
        const m = Math.max(...lens.map((l) => Math.ceil(l / blockSize)));
        const n = rows * m;
        const table = Int32Array.from({ length: n }, (_, i) => n - 1 - i);
        const pool = tensor('f32', [n, blockSize, hkv, d], noise(seed, n * blockSize * hkv * d));
        const rowsNew = tensor('f32', [rows, hkv, d], noise(seed + 3, rows * hkv * d));
        const pos = lens.map((l) => l - 1);
        const out = run1('paged_kv_write', [pool, rowsNew, tensor('i32', [rows, m], table), i32([rows], pos)]);
        const row = hkv * d;
        const written = new Set<number>();
        pos.forEach((p, r) => {
          const slot = table[r * m + Math.floor(p / blockSize)] * blockSize + (p % blockSize);
          written.add(slot);
          expect(Array.from((out.data as Float32Array).subarray(slot * row, (slot + 1) * row))).toEqual(Array.from((rowsNew.data as Float32Array).subarray(r * row, (r + 1) * row)));
        });
        for (let slot = 0; slot < n * blockSize; slot++) {
          if (written.has(slot)) continue;
          expect(Array.from((out.data as Float32Array).subarray(slot * row, (slot + 1) * row))).toEqual(Array.from((pool.data as Float32Array).subarray(slot * row, (slot + 1) * row)));
        }
      }),
      { numRuns: 100 },
    );
  });
});
