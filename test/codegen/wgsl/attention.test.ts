// attention kernels against the reference: prefill (flash) and decode (split-K) forms, causal
// with a past (T > S), sliding windows, GQA ratios, softcaps, batched padding masks (including a
// row with every key masked), long T spanning many tiles and chunks, f16 KV caches.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { type DType, findOp, type HostTensor, sym, tensor } from '../../../ir/index.js';
import { type AttentionVariant, emitAttention } from '../../../codegen/wgsl/attention.js';
import { checkOp, closeGpu, expectAdapter, expectMatches, openGpu, randomTensor, referenceRun, rng, runPaths } from './harness.js';

const gpu = await openGpu();
expectAdapter(gpu);
const S = sym('S'), T = sym('T'), B = sym('B');

interface Config {
  hkv: number; group: number; d: number; dv: number;
  causal: boolean; window: number; softcap: number; batch: number; mask: boolean; kvType: DType;
}
interface Case extends Config { s: number; past: number; seed: number }

// Head layout and masking are baked into the WGSL, so each configuration is a shader to compile
// (seconds on lavapipe); the property draws one of these and then free shapes (S, T, batch) and
// data. Together they cover GQA ratios 1–4 and MQA, d ≠ dv, odd dv, causal with and without a
// window, non-causal windows, softcaps, padding masks (batched, with an all-padding sequence),
// f16 KV caches and a value dim wider than a workgroup.
const CONFIGS: readonly Config[] = [
  { hkv: 2, group: 2, d: 16, dv: 16, causal: true, window: 0, softcap: 0, batch: 0, mask: false, kvType: 'f32' },
  { hkv: 1, group: 3, d: 32, dv: 5, causal: true, window: 3, softcap: 0, batch: 0, mask: false, kvType: 'f32' },
  { hkv: 2, group: 1, d: 16, dv: 16, causal: true, window: 8, softcap: 1, batch: 0, mask: false, kvType: 'f16' },
  { hkv: 1, group: 4, d: 8, dv: 32, causal: false, window: 5, softcap: 20, batch: 0, mask: false, kvType: 'f32' },
  { hkv: 1, group: 2, d: 16, dv: 16, causal: true, window: 2, softcap: 0, batch: 2, mask: true, kvType: 'f16' },
  // dv over the split-K combine's 64 invocations: more than one block of value columns.
  { hkv: 1, group: 2, d: 8, dv: 72, causal: true, window: 0, softcap: 0, batch: 0, mask: false, kvType: 'f32' },
];

const caseArb = (o: { s: fc.Arbitrary<number>; past: fc.Arbitrary<number> }) =>
  fc.tuple(fc.constantFrom(...CONFIGS), o.s, o.past, fc.integer()).map(([c, s, past, seed]): Case => ({ ...c, s, past, seed }));

async function check(c: Case, variant?: AttentionVariant): Promise<void> {
  const t = c.s + c.past, hq = c.hkv * c.group;
  const lead = c.batch ? [c.batch] : [];
  const leadSym = c.batch ? [B] : [];
  const r = rng(c.seed);
  const operands: { t: HostTensor; shape: (number | typeof S)[] }[] = [
    { t: randomTensor('f32', [...lead, c.s, hq, c.d], c.seed, 0.1, 2), shape: [...leadSym, S, hq, c.d] },
    { t: randomTensor(c.kvType, [...lead, t, c.hkv, c.d], c.seed + 1, 0.1, 2), shape: [...leadSym, T, c.hkv, c.d] },
    { t: randomTensor(c.kvType, [...lead, t, c.hkv, c.dv], c.seed + 2), shape: [...leadSym, T, c.hkv, c.dv] },
  ];
  if (c.mask) {
    const rows = c.batch || 1;
    const m = Int32Array.from({ length: rows * t }, () => (r() < 0.7 ? 1 : 0));
    if (rows > 1) m.fill(0, t, 2 * t); // a sequence that is all padding: uniform average
    operands.push({ t: tensor('i32', [...lead, t], m), shape: [...leadSym, T] });
  }
  const dims = { S: c.s, T: t, B: c.batch || 1 };
  const attrs = { scale: 1 / Math.sqrt(c.d), causal: c.causal, window: c.window, softcap: c.softcap };
  const { node, want } = referenceRun({ op: 'attention', operands, attrs, dims });
  const runs = await runPaths(gpu, node, (t) => emitAttention(node, t, variant ? { variant } : {}), operands.map((o) => o.t), dims);
  for (const { path, got: [got] } of runs) expectMatches(got, want[0], 1e-4, `attention ${JSON.stringify(c)}, ${path}:`);
}

describe.runIf(gpu.ctx && findOp('attention'))('WGSL attention', () => {
  afterAll(() => closeGpu(gpu));

  it('emits split-K guarded by S = 1 and flash by S ≥ 2 when S is symbolic', () => {
    const operands = [
      { t: randomTensor('f32', [1, 2, 8], 1), shape: [S, 2, 8] },
      { t: randomTensor('f32', [3, 1, 8], 2), shape: [T, 1, 8] },
      { t: randomTensor('f32', [3, 1, 8], 3), shape: [T, 1, 8] },
    ];
    const { node } = referenceRun({ op: 'attention', operands, attrs: { scale: 0.3 }, dims: { S: 1, T: 3 } });
    const ks = emitAttention(node, gpu.target!).kernels;
    expect(ks.map((k) => [k.entryPoint, k.when?.min, k.when?.max])).toEqual([
      ['attention_split', undefined, 1], ['attention_combine', undefined, 1], ['attention_flash', 2, undefined],
    ]);
    expect(ks[0].bindings.at(-1)).toMatchObject({ kind: 'scratch', id: 0 });
  });

  it('prefill: flash attention over query and key tiles', async () => {
    await fc.assert(fc.asyncProperty(caseArb({ s: fc.integer({ min: 2, max: 40 }), past: fc.constantFrom(0, 0, 3, 17) }), (c) => check(c)), { numRuns: 15 });
  });

  it('decode: S = 1 after a long past, split over many chunks and combined', async () => {
    // 1100 and 2000 keys: more 16-key partials than the combine's 64 invocations take at once.
    await fc.assert(fc.asyncProperty(caseArb({ s: fc.constant(1), past: fc.constantFrom(0, 5, 63, 64, 200, 700, 1100, 2000) }), (c) => check(c)), { numRuns: 18 });
  });

  it.runIf(findOp('flash_attention'))('flash_attention (attention with tiling hints) runs the same kernels', async () => {
    await fc.assert(fc.asyncProperty(fc.constantFrom(...CONFIGS.slice(0, 2)), fc.integer({ min: 1, max: 9 }), fc.constantFrom(0, 70), fc.constantFrom(1, 16), fc.constantFrom(1, 3), fc.integer(),
      async (c, s, past, tileQ, splitK, seed) => {
        const t = s + past, hq = c.hkv * c.group;
        const operands = [
          { t: randomTensor('f32', [s, hq, c.d], seed, 0.1, 2), shape: [S, hq, c.d] },
          { t: randomTensor(c.kvType, [t, c.hkv, c.d], seed + 1, 0.1, 2), shape: [T, c.hkv, c.d] },
          { t: randomTensor(c.kvType, [t, c.hkv, c.dv], seed + 2), shape: [T, c.hkv, c.dv] },
        ];
        await checkOp(gpu, {
          op: 'flash_attention', operands, dims: { S: s, T: t },
          attrs: { scale: 1 / Math.sqrt(c.d), causal: c.causal, window: c.window, softcap: c.softcap, tile_q: tileQ, tile_k: 8, split_k: splitK },
        });
      }), { numRuns: 6 });
  });

  it('each form also computes the other regime (flash at S = 1, split-K at S > 1)', async () => {
    await fc.assert(fc.asyncProperty(caseArb({ s: fc.integer({ min: 1, max: 5 }), past: fc.constantFrom(0, 70) }), fc.constantFrom<AttentionVariant>('flash', 'split'),
      (c, v) => check(c, v)), { numRuns: 10 });
  });
});
