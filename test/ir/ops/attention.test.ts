import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dimAdd, f32, i32, type HostTensor } from '../../../ir/index.js';
import { F32_MIN } from '../../../ir/ops/attention.js';
import { B, P, S, T, expectClose, inferOp, run1, values } from './harness.js';

const ln3 = Math.log(3);
/** A [len, 1, 1] tensor: one head of one dim, so scores and outputs are easy to compute by hand. */
const col = (xs: number[]) => f32([xs.length, 1, 1], xs);

describe('attention: masks', () => {
  // Query 0 scores keys [0, ln 3] → weights [1/4, 3/4]; query 1 scores [0, 0] → [1/2, 1/2].
  const q = col([1, 0]), k = col([0, ln3]), v = col([1, 5]);
  it('non-causal: every query sees every key', () => {
    expectClose(values(run1('attention', [q, k, v], { scale: 1, causal: false })), [1 / 4 + 15 / 4, 3]);
  });
  it('causal: query i sees keys j ≤ i', () => {
    expectClose(values(run1('attention', [q, k, v], { scale: 1 })), [1, 3]);
  });
  it('scale multiplies the scores', () => {
    // k = [0, 1] scaled by ln 3 gives scores [0, ln 3] again: weights [1/4, 3/4].
    expectClose(values(run1('attention', [col([1]), col([0, 1]), col([1, 5])], { scale: ln3, causal: false })), [4]);
  });
  // With all-zero queries the scores tie, so each output is the mean of the values it can see.
  const v5 = col([1, 2, 4, 8, 16]), zeros = (n: number) => col(new Array<number>(n).fill(0));
  it('sliding window W: query i sees keys i − W < j ≤ i (W keys including itself)', () => {
    expectClose(values(run1('attention', [zeros(5), zeros(5), v5], { scale: 1, window: 2 })), [1, 1.5, 3, 6, 12]);
    expectClose(values(run1('attention', [zeros(5), zeros(5), v5], { scale: 1, window: 1 })), [1, 2, 4, 8, 16]);
    expectClose(values(run1('attention', [zeros(5), zeros(5), v5], { scale: 1, window: 8 })), [1, 1.5, 7 / 3, 15 / 4, 31 / 5]);
  });
  it('decode with a past: query i sits at T − S + i', () => {
    // S = 1, T = 5: the one query is position 4 and sees all five keys, or the last two with W = 2.
    expectClose(values(run1('attention', [zeros(1), zeros(5), v5], { scale: 1 })), [31 / 5]);
    expectClose(values(run1('attention', [zeros(1), zeros(5), v5], { scale: 1, window: 2 })), [12]);
    // S = 2, T = 5: positions 3 and 4.
    expectClose(values(run1('attention', [zeros(2), zeros(5), v5], { scale: 1 })), [15 / 4, 31 / 5]);
    expectClose(values(run1('attention', [zeros(2), zeros(5), v5], { scale: 1, window: 3 })), [14 / 3, 28 / 3]);
  });
  it('padding mask [B, T] (i32 or f32, 0 = padding) drops keys per batch row', () => {
    const bq = f32([2, 3, 1, 1], [0, 0, 0, 0, 0, 0]);
    const bv = f32([2, 3, 1, 1], [1, 2, 4, 1, 2, 100]);
    for (const mask of [i32([2, 3], [1, 1, 1, 1, 1, 0]), f32([2, 3], [1, 1, 1, 1, 1, 0])]) {
      const y = values(run1('attention', [bq, bq, bv, mask], { scale: 1, causal: false }));
      expectClose(y, [7 / 3, 7 / 3, 7 / 3, 1.5, 1.5, 1.5]);
    }
  });
  it('a query with no visible key averages all keys uniformly (HF adds finfo(f32).min, swallowing the scores)', () => {
    // Left padding: key 0 is padding, so causal query 0 sees nothing. Scores [1, 2, 3] would weigh
    // the keys unequally, but score + finfo.min rounds to finfo.min in float32 for all three.
    const bq = f32([1, 3, 1, 1], [1, 1, 1]), bk = f32([1, 3, 1, 1], [1, 2, 3]), bv = f32([1, 3, 1, 1], [3, 6, 30]);
    const y = values(run1('attention', [bq, bk, bv, i32([1, 3], [0, 1, 1])], { scale: 1 }));
    // query 0: uniform → 13; query 1: key 1 only → 6; query 2: keys 1, 2 with scores 2, 3 → (6 + 30e)/(1 + e)
    expectClose(y, [13, 6, (6 + 30 * Math.E) / (1 + Math.E)], 1e-5);
    expect(Math.fround(Math.fround(3) + F32_MIN)).toBe(Math.fround(F32_MIN));
  });
});

describe('attention: heads, softcap, shapes', () => {
  it('GQA: query head h reads kv head floor(h / (Hq/Hkv))', () => {
    // Hq = 4, Hkv = 2, one key: each output head is its kv head's value.
    const q = f32([1, 4, 1], [0.3, -1, 2, 0.5]), k = f32([1, 2, 1], [1, -1]), v = f32([1, 2, 2], [10, 11, 20, 21]);
    expect(values(run1('attention', [q, k, v], { scale: 1 }))).toEqual([10, 11, 10, 11, 20, 21, 20, 21]);
  });
  it('GQA scores use the mapped kv head too', () => {
    // Hq = 2, Hkv = 1 (MQA): both heads score against the same keys [0, ln 3] with their own queries.
    const q = f32([1, 2, 1], [1, 0]), k = f32([2, 1, 1], [0, ln3]), v = f32([2, 1, 1], [1, 5]);
    expectClose(values(run1('attention', [q, k, v], { scale: 1, causal: false })), [4, 3]);
  });
  it('softcap: cap·tanh(s/cap) on the scaled scores', () => {
    // scores [0, 2] capped at 1 → [0, tanh 2]; values [0, 1] → weight of key 1
    const w = Math.exp(Math.tanh(2)) / (1 + Math.exp(Math.tanh(2)));
    expectClose(values(run1('attention', [col([2]), col([0, 1]), col([0, 1])], { scale: 1, softcap: 1 })), [w]);
    // The cap comes after the scale: scale 0.5 → s = 1 → tanh(1/1)
    const w2 = Math.exp(Math.tanh(1)) / (1 + Math.exp(Math.tanh(1)));
    expectClose(values(run1('attention', [col([2]), col([0, 1]), col([0, 1])], { scale: 0.5, softcap: 1 })), [w2]);
  });
  it('Dv may differ from D, and the batch dim leads', () => {
    const q = f32([2, 1, 1, 2], [0, 0, 0, 0]), k = f32([2, 2, 1, 2], [1, 2, 3, 4, 5, 6, 7, 8]);
    const v = f32([2, 2, 1, 3], [1, 2, 3, 3, 4, 5, 0, 0, 0, 2, 2, 2]);
    const y = run1('attention', [q, k, v], { scale: 1 });
    expect(y.shape).toEqual([2, 1, 1, 3]);
    expectClose(values(y), [2, 3, 4, 1, 1, 1]);
  });
  it('outputs are convex combinations of the visible values (property)', () => {
    const arb = fc.record({
      s: fc.integer({ min: 1, max: 4 }), past: fc.integer({ min: 0, max: 3 }), window: fc.integer({ min: 0, max: 4 }),
      seed: fc.integer({ min: 0, max: 1000 }),
    });
    fc.assert(fc.property(arb, ({ s, past, window, seed }) => {
      const t = s + past, d = 3;
      const gen = (n: number, k: number) => Array.from({ length: n }, (_, i) => Math.sin(seed + 7.3 * i + k));
      const q: HostTensor = f32([s, 2, d], gen(s * 2 * d, 1)), k = f32([t, 1, d], gen(t * d, 2)), v = f32([t, 1, 1], gen(t, 3));
      const y = values(run1('attention', [q, k, v], { scale: 1, window }));
      const vs = values(v);
      y.forEach((o, idx) => {
        const i = Math.floor(idx / 2), pos = past + i;
        const seen = vs.filter((_, j) => j <= pos && (window === 0 || j > pos - window));
        expect(o).toBeGreaterThanOrEqual(Math.min(...seen) - 1e-6);
        expect(o).toBeLessThanOrEqual(Math.max(...seen) + 1e-6);
      });
    }));
  });
  it('infers [.., Hq, Dv] with symbolic lengths', () => {
    const TS = dimAdd(P, S);
    expect(inferOp('attention', [['f32', [S, 4, 16]], ['f32', [TS, 2, 16]], ['f32', [TS, 2, 8]]], { scale: 0.25 })).toEqual(['f32[S, 4, 8]']);
    expect(inferOp('attention', [['f32', [B, S, 4, 16]], ['f32', [B, S, 4, 16]], ['f32', [B, S, 4, 16]], ['i32', [B, S]]], { scale: 0.25, causal: false }))
      .toEqual(['f32[B, S, 4, 16]']);
    expect(inferOp('attention', [['f32', [4, 4, 16]], ['f32', [2, 4, 16]], ['f32', [2, 4, 16]]], { scale: 1, causal: false })).toEqual(['f32[4, 4, 16]']);
  });
  it('names the operand or attribute at fault', () => {
    const kv = ['f32', [T, 2, 16]] as const;
    expect(() => inferOp('attention', [['f32', [S, 3, 16]], kv, kv], { scale: 1 })).toThrow(/q's 3 heads are not a multiple of k's 2 heads/);
    expect(() => inferOp('attention', [['f32', [S, 4, 8]], kv, kv], { scale: 1 })).toThrow(/k's head dim must equal q's: expected 8, got 16/);
    expect(() => inferOp('attention', [['f32', [S, 4, 16]], kv, ['f32', [S, 2, 16]]], { scale: 1 })).toThrow(/v's length must equal k's: expected T, got S/);
    expect(() => inferOp('attention', [['f32', [4, 4, 16]], ['f32', [2, 2, 16]], ['f32', [2, 2, 16]]], { scale: 1 })).toThrow(/k has 2 positions but q has 4 queries; causal attention needs T ≥ S/);
    expect(() => inferOp('attention', [['f32', [S, 4, 16]], kv, kv], {})).toThrow(/missing attribute 'scale'/);
    expect(() => inferOp('attention', [['f32', [S, 4, 16]], kv, kv], { scale: 1, window: -1 })).toThrow(/attribute 'window' must be ≥ 0/);
    expect(() => inferOp('attention', [['f32', [B, S, 4, 16]], ['f32', [B, T, 2, 16]], ['f32', [B, T, 2, 16]], ['i32', [B, S]]], { scale: 1 }))
      .toThrow(/mask's length must equal k's: expected T, got S/);
    expect(() => inferOp('attention', [['f32', [B, S, 4, 16]], ['f32', [B, T, 2, 16]], ['f32', [B, T, 2, 16]], ['f16', [B, T]]], { scale: 1 }))
      .toThrow(/mask must be i32 or f32/);
    expect(() => inferOp('attention', [['f32', [S, 4, 16]], ['f32', [B, T, 2, 16]], kv], { scale: 1 })).toThrow(/k must have rank 3/);
  });
});

describe('kv_append', () => {
  it('concatenates on the sequence axis', () => {
    const y = run1('kv_append', [f32([2, 1, 2], [1, 2, 3, 4]), f32([1, 1, 2], [5, 6])]);
    expect(y.shape).toEqual([3, 1, 2]);
    expect(values(y)).toEqual([1, 2, 3, 4, 5, 6]);
    // batched [B, P, H, D]: per batch row, past then new
    const z = run1('kv_append', [f32([2, 1, 1, 1], [1, 2]), f32([2, 2, 1, 1], [3, 4, 5, 6])]);
    expect(z.shape).toEqual([2, 3, 1, 1]);
    expect(values(z)).toEqual([1, 3, 4, 2, 5, 6]);
    // an empty past (the first step)
    expect(values(run1('kv_append', [f32([0, 1, 2]), f32([1, 1, 2], [7, 8])]))).toEqual([7, 8]);
  });
  it('infers [P+S, H, D] and checks the trailing dims', () => {
    expect(inferOp('kv_append', [['f32', [P, 2, 16]], ['f32', [S, 2, 16]]])).toEqual(['f32[P+S, 2, 16]']);
    expect(inferOp('kv_append', [['f16', [B, P, 2, 16]], ['f16', [B, S, 2, 16]]])).toEqual(['f16[B, P+S, 2, 16]']);
    expect(() => inferOp('kv_append', [['f32', [P, 2, 16]], ['f32', [S, 4, 16]]])).toThrow(/new's axis 1 must equal past's/);
    expect(() => inferOp('kv_append', [['f32', [P, 2, 16]], ['f16', [S, 2, 16]]])).toThrow(/must have past's dtype f32/);
  });
});
