// writeWeight (a weight built straight into a runtime's memory) against evaluateWeight (built in
// JS): byte for byte, over random trees of merges, norm folds, slices, transposes and conversions
// of random checkpoint tensors, at unaligned offsets of a larger buffer.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type DType } from '../../ir/dtype.js';
import { convertF32, f32, type HostTensor } from '../../ir/tensor.js';
import { weightBytes, type WeightIO, writeWeight } from '../../ir/weight-write.js';
import { evaluateWeight, type WeightExpr, weightCall, weightTensor, weightType } from '../../ir/weights.js';

function storeOf(seed: number, k: number, rows: readonly number[], dtypes: readonly DType[]): Map<string, HostTensor> {
  let s = seed >>> 0;
  const rand = () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
  const m = new Map<string, HostTensor>();
  rows.forEach((r, i) => {
    const t = f32([r, k], Array.from({ length: r * k }, rand));
    m.set(`w${i}`, dtypes[i] === 'f32' ? t : convertF32(t, dtypes[i]));
  });
  m.set('g', f32([k], Array.from({ length: k }, rand)));
  return m;
}

function ioOf(store: Map<string, HostTensor>): WeightIO {
  const get = (n: string) => {
    const t = store.get(n);
    if (!t) throw new Error(`no tensor ${n}`);
    return t;
  };
  return {
    leafType: (n) => ({ dtype: get(n).dtype, shape: get(n).shape as number[] }),
    readLeaf: get,
    readLeafInto: (n, dest) => {
      const t = get(n);
      dest.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    },
  };
}

describe('writeWeight', () => {
  it('writes exactly the bytes evaluateWeight computes', () => {
    fc.assert(fc.property(
      fc.record({
        seed: fc.nat(),
        k: fc.constantFrom(32, 64, 96),
        rows: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 3 }),
        dtype: fc.constantFrom<DType>('f32', 'f16', 'q8_0', 'q4_0'),
        mixed: fc.boolean(),
        shape: fc.constantFrom('leaf', 'merge', 'fold', 'fold-merge', 'quantize-fold', 'slice', 'transpose'),
        offset: fc.constantFrom(0, 1, 2, 0.5),
        pad: fc.integer({ min: 0, max: 3 }),
      }),
      (d) => {
        const dtypes = d.rows.map((_, i) => (d.mixed && i === 0 ? 'f32' : d.dtype));
        const store = storeOf(d.seed, d.k, d.rows, dtypes);
        const leaves = d.rows.map((_, i) => weightTensor(`w${i}`));
        const merge = leaves.length > 1 ? weightCall('concat', leaves, { axis: 0 }) : leaves[0];
        const fold = (e: WeightExpr) => weightCall('scale_cols', [e, weightTensor('g')], { offset: d.offset });
        const e: WeightExpr = {
          leaf: leaves[0],
          merge,
          fold: fold(leaves[0]),
          'fold-merge': fold(merge),
          'quantize-fold': weightCall('convert', [fold(merge)], { dtype: 'q8_0' }),
          slice: weightCall('slice', [merge], { axis: 0, start: 0, end: 1 }),
          transpose: weightCall('transpose', [leaves[0]]),
        }[d.shape];
        const io = ioOf(store);
        const want = evaluateWeight(e, io.readLeaf);
        const n = weightBytes(e, io);
        expect(n).toBe(want.data.byteLength);
        // Inside a larger buffer, at a 4-byte aligned offset past some bytes that must stay put.
        const at = 4 * d.pad;
        const buf = new Uint8Array(at + n + 8).fill(0xa5);
        writeWeight(e, buf.subarray(at, at + n), io);
        expect(Buffer.from(buf.subarray(at, at + n)).equals(Buffer.from(want.data.buffer, want.data.byteOffset, want.data.byteLength))).toBe(true);
        expect(buf.subarray(0, at).every((b) => b === 0xa5) && buf.subarray(at + n).every((b) => b === 0xa5)).toBe(true);
        expect(weightType(e, io.leafType).dtype).toBe(want.dtype);
      },
    ), { numRuns: 120, seed: 7 });
  });

  it('a conversion to a block type streams row chunks from ranges: the same bytes, never a whole f32 tensor read', () => {
    fc.assert(fc.property(
      fc.record({
        seed: fc.nat(),
        k: fc.constantFrom(32, 64, 96),
        rows: fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 3 }),
        dtype: fc.constantFrom<DType>('q8_0', 'q4_0', 'q4_k', 'q6_k'),
        shape: fc.constantFrom('leaf', 'merge', 'fold-merge'),
        chunkRows: fc.integer({ min: 1, max: 4 }),
      }),
      (d) => {
        const store = storeOf(d.seed, d.k, d.rows, d.rows.map(() => 'f32'));
        const leaves = d.rows.map((_, i) => weightTensor(`w${i}`));
        const merge = leaves.length > 1 ? weightCall('concat', leaves, { axis: 0 }) : leaves[0];
        const src = { leaf: leaves[0], merge, 'fold-merge': weightCall('scale_cols', [merge, weightTensor('g')], { offset: 1 }) }[d.shape];
        const e = weightCall('convert', [src], { dtype: d.dtype });
        let largest = 0;
        let wholeReads = 0;
        const base = ioOf(store);
        const io: WeightIO = {
          ...base,
          readLeaf: (n) => {
            if (n !== 'g') wholeReads++;
            return base.readLeaf(n);
          },
          readLeafRange: (n, at, dest) => {
            const t = store.get(n)!;
            largest = Math.max(largest, dest.length);
            dest.set(new Uint8Array(t.data.buffer, t.data.byteOffset + at, dest.length));
          },
        };
        const want = evaluateWeight(e, base.readLeaf);
        const got = new Uint8Array(weightBytes(e, io));
        writeWeight(e, got, io, d.chunkRows * d.k * 4);
        expect(Buffer.from(got).equals(Buffer.from(want.data.buffer, want.data.byteOffset, want.data.byteLength))).toBe(true);
        expect(wholeReads).toBe(0);
        expect(largest).toBeLessThanOrEqual(d.chunkRows * d.k * 4);
      },
    ), { numRuns: 100, seed: 11 });
  });

  it('refuses a destination of the wrong size', () => {
    const io = ioOf(storeOf(1, 32, [2], ['f32']));
    expect(() => writeWeight(weightTensor('w0'), new Uint8Array(10), io)).toThrow(/destination holds 10 bytes, the weight 256/);
  });
});
