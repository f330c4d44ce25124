// Property: feeding a sequence in chunks of any size through the KV cache gives the same logits
// as one forward pass over the whole sequence.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Model } from '../../src/model.js';
import { maxAbsDiff } from '../helpers/refs.js';
import { hasShared, sharedPath } from '../helpers/shared.js';

describe.runIf(hasShared('refs'))('chunked prefill and cached decode', () => {
  // mistral: sliding window 8 (the window must hold across chunk borders); gemma2: softcaps,
  // alternating windows; qwen3: q/k norms.
  for (const arch of ['llama', 'mistral', 'gemma2', 'qwen3']) {
    it(`${arch}: any chunking equals one full pass`, async () => {
      const model = Model.load(sharedPath('refs', arch));
      const V = model.config.vocabSize;
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.integer({ min: 0, max: V - 1 }), { minLength: 1, maxLength: 24 }),
          fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 24 }),
          async (ids, sizes) => {
            const full = await model.logits(ids);
            const ex = model.executor;
            ex.reset();
            const parts: Float32Array[] = [];
            for (let at = 0, k = 0; at < ids.length; k++) {
              const n = Math.min(sizes[k % sizes.length], ids.length - at);
              parts.push(await ex.forward(ids.slice(at, at + n), 'all'));
              at += n;
            }
            const chunked = new Float32Array(full.length);
            let off = 0;
            for (const p of parts) { chunked.set(p, off); off += p.length; }
            expect(maxAbsDiff(chunked, full)).toBeLessThan(1e-4);
            // The last-token logits of a step equal the last row of the full pass.
            ex.truncate(ids.length - 1);
            const last = await ex.forward([ids[ids.length - 1]], 'last');
            expect(maxAbsDiff(last, full.subarray((ids.length - 1) * V))).toBeLessThan(1e-4);
          },
        ),
        { numRuns: 15 },
      );
    });
  }
});
