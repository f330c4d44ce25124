import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OptionError } from '../../runtime/options.js';
import { argmax, candidatesBestFirst, NonFiniteLogitsError, Rng, Sampler } from '../../runtime/sampler.js';

const logits = (...v: number[]) => Float32Array.from(v);

/** Empirical distribution of `n` draws. */
function histogram(s: Sampler, l: Float32Array, n: number, history: number[] = []): number[] {
  const h = new Array(l.length).fill(0);
  for (let i = 0; i < n; i++) h[s.sample(l, history)]++;
  return h.map((c) => c / n);
}

describe('sampler', () => {
  it('greedy takes the first maximum', () => {
    expect(new Sampler({ temperature: 0 }).sample(logits(1, 3, 3, 2))).toBe(1);
    expect(argmax(logits(-1, -1))).toBe(0);
  });

  it('temperature sampling follows softmax(logits / T)', () => {
    const l = logits(0, Math.log(3)); // probabilities 1/4, 3/4 at T = 1
    const h = histogram(new Sampler({ temperature: 1, seed: 1 }), l, 20000);
    expect(h[1]).toBeCloseTo(0.75, 1.5);
    // T = 2 flattens: p ∝ [1, √3] → 0.634
    const h2 = histogram(new Sampler({ temperature: 2, seed: 2 }), l, 20000);
    expect(h2[1]).toBeCloseTo(Math.sqrt(3) / (1 + Math.sqrt(3)), 1.5);
  });

  it('top-k, top-p and min-p keep only the allowed tokens', () => {
    const l = logits(4, 3, 2, 1, 0);
    expect(new Set(histogram(new Sampler({ temperature: 1, topK: 2, seed: 3 }), l, 3000).flatMap((p, i) => (p > 0 ? [i] : [])))).toEqual(new Set([0, 1]));
    // softmax ≈ [.64, .24, .09, .03, .01]: top-p 0.8 keeps the first two (0.64 < 0.8 ≤ 0.88).
    expect(new Set(histogram(new Sampler({ temperature: 1, topP: 0.8, seed: 4 }), l, 3000).flatMap((p, i) => (p > 0 ? [i] : [])))).toEqual(new Set([0, 1]));
    // min-p 0.2: keeps tokens with p ≥ 0.2 × 0.64 = 0.128 → only the first two.
    expect(new Set(histogram(new Sampler({ temperature: 1, minP: 0.2, seed: 5 }), l, 3000).flatMap((p, i) => (p > 0 ? [i] : [])))).toEqual(new Set([0, 1]));
  });

  it('penalties and logit bias change the logits as documented', () => {
    const s = new Sampler({ repetitionPenalty: 2, frequencyPenalty: 0.5, presencePenalty: 0.25 });
    const out = s.adjust(logits(4, -4, 1), [0, 0, 1]);
    expect(out[0]).toBeCloseTo(4 / 2 - 2 * 0.5 - 0.25);
    expect(out[1]).toBeCloseTo(-4 * 2 - 0.5 - 0.25);
    expect(out[2]).toBe(1);
    expect(new Sampler({ logitBias: { 2: 10 } }).sample(logits(5, 4, 0))).toBe(2);
    expect(new Sampler({ repetitionPenalty: 100, penaltyWindow: 1 }).sample(logits(5, 4), [1, 0])).toBe(1);
  });

  it('the same seed gives the same draws; different seeds differ', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 31 }), (seed) => {
      const a = new Rng(seed), b = new Rng(seed), c = new Rng(seed + 1);
      const xs = Array.from({ length: 8 }, () => a.next());
      expect(Array.from({ length: 8 }, () => b.next())).toEqual(xs);
      expect(Array.from({ length: 8 }, () => c.next())).not.toEqual(xs);
      for (const x of xs) expect(x >= 0 && x < 1).toBe(true);
    }), { numRuns: 200 });
  });

  it('rejects parameters out of range with a clear message', () => {
    expect(() => new Sampler({ topP: 0 })).toThrow(OptionError);
    expect(() => new Sampler({ temperature: -1 })).toThrow(/temperature must be a number ≥ 0, got -1/);
    expect(() => new Sampler({ topK: 1.5 })).toThrow(/topK must be a whole number ≥ 0, got 1.5/);
    expect(() => new Sampler({ temperature: 1 }).sample(logits(-Infinity, NaN))).toThrow(/the logits hold NaN \(token 1\)/);
    expect(() => new Sampler({ temperature: 1 }).sample(logits(-Infinity, -Infinity))).toThrow(/every token is banned/);
  });
});

describe('candidatesBestFirst', () => {
  const bySort = (logits: Float32Array) =>
    [...logits.keys()].filter((i) => logits[i] !== -Infinity).sort((a, b) => logits[b] - logits[a] || a - b);
  // Few distinct values make ties (and ±0) common; -Infinity is a banned token.
  const logit = fc.oneof(
    fc.float({ noNaN: true, noDefaultInfinity: true }),
    fc.constantFrom(0, -0, 1, -1, -Infinity, 3.5, 1e-45, -1e-45, 3.4028234663852886e38, -3.4028234663852886e38),
  );
  it('orders ids as the comparator sort does (logit descending, ties by id), -Infinity left out', () => {
    fc.assert(fc.property(fc.array(logit, { minLength: 0, maxLength: 300 }), (xs) => {
      const logits = Float32Array.from(xs);
      expect(candidatesBestFirst(logits)).toEqual(bySort(logits));
    }), { numRuns: 300 });
  });
  it('refuses NaN and +Infinity by index', () => {
    expect(() => candidatesBestFirst(Float32Array.from([0, 1, NaN]))).toThrow(NonFiniteLogitsError);
    expect(() => candidatesBestFirst(Float32Array.from([Infinity, 1]))).toThrow(/0/);
  });
});
