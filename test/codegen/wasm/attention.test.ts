// rope and attention: every attribute (rotary_dim, interleaved, llama3/longrope scaling; causal,
// sliding window, softcap, GQA, padding masks), prefill and S = 1 decode with a long past (which
// takes the split-key path), f16 K/V.
import { afterAll, beforeAll, describe, it } from 'vitest';
import { convertF32, dimAdd, findOp, type HostTensor, i32 } from '../../../ir/index.js';
import { B, checkAll, draw, fc, type OpCase, P, randomF32, rng, S, setupSuite, type Suite, T } from './harness.js';

function ropeCases(): OpCase[] {
  const out: OpCase[] = [];
  const draws = draw(fc.record({
    s: fc.oneof(fc.constant(1), fc.integer({ min: 2, max: 9 })), h: fc.integer({ min: 1, max: 4 }), half: fc.integer({ min: 1, max: 40 }),
    partial: fc.boolean(), interleaved: fc.boolean(), scaling: fc.constantFrom('none', 'llama3', 'longrope'), past: fc.integer({ min: 0, max: 40 }),
    batched: fc.boolean(), perBatch: fc.boolean(), seed: fc.nat(),
  }), 24, 41);
  for (const d of draws) {
    const D = 2 * d.half;
    const rd = d.partial && d.half > 1 ? 2 * Math.ceil(d.half / 2) : 0;
    const rdEff = rd || D;
    const attrs: Record<string, number | boolean | string | number[]> = { theta: [10000, 500000, 1e6][d.seed % 3], rotary_dim: rd, interleaved: d.interleaved, scaling: d.scaling };
    if (d.scaling === 'llama3') Object.assign(attrs, { factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_positions: 16 });
    if (d.scaling === 'longrope') {
      const r = rng(d.seed);
      Object.assign(attrs, {
        original_max_positions: 20, max_positions: 80,
        short_factor: Array.from({ length: rdEff / 2 }, () => 1 + r()), long_factor: Array.from({ length: rdEff / 2 }, () => 1 + 4 * r()),
      });
    }
    const xShape = d.batched ? [2, d.s, d.h, D] : [d.s, d.h, D];
    const posShape = d.batched && d.perBatch ? [2, d.s] : [d.s];
    const pos = i32(posShape, Array.from({ length: posShape.reduce((a, b) => a * b, 1) }, (_, k) => d.past + (k % d.s) + (k >= d.s ? 3 : 0)));
    out.push({
      label: `rope x[${xShape}] pos[${posShape}]@${d.past} ${JSON.stringify({ ...attrs, short_factor: undefined, long_factor: undefined })}`,
      op: 'rope',
      operands: [{ t: randomF32(xShape, d.seed, 2), shape: d.batched ? [B, S, d.h, D] : [S, d.h, D] }, { t: pos, shape: d.batched && d.perBatch ? [B, S] : [S] }],
      attrs,
    });
  }
  return out;
}

function attentionCases(): OpCase[] {
  const out: OpCase[] = [];
  const draws = draw(fc.record({
    s: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 12 })), past: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 20 }), fc.integer({ min: 60, max: 300 })),
    hkv: fc.integer({ min: 1, max: 3 }), group: fc.constantFrom(1, 2, 3, 4), d: fc.oneof(fc.constantFrom(4, 8, 16, 32, 64, 68, 128), fc.integer({ min: 1, max: 40 })), dvSame: fc.boolean(), dv: fc.integer({ min: 1, max: 20 }),
    causal: fc.boolean(), window: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 12 })), softcap: fc.constantFrom(0, 0, 5, 50),
    mode: fc.constantFrom('plain', 'batched', 'masked', 'maskedFlat', 'halfkv', 'symP'), seed: fc.nat(),
  }), 48, 42);
  for (const d of draws) {
    const t = d.past + d.s;
    const hq = d.hkv * d.group, dv = d.dvSame ? d.d : d.dv;
    const batched = d.mode === 'batched' || d.mode === 'masked';
    const lead = batched ? [2] : [];
    const q = randomF32([...lead, d.s, hq, d.d], d.seed, 1.5);
    let k = randomF32([...lead, t, d.hkv, d.d], d.seed + 1, 1.5);
    let v: HostTensor = randomF32([...lead, t, d.hkv, dv], d.seed + 2);
    if (d.mode === 'halfkv') { k = convertF32(k, 'f16'); v = convertF32(v, 'f16'); }
    const sLead = batched ? [B] : [];
    const tDim = d.mode === 'symP' ? dimAdd(P, S) : T;
    const operands = [
      { t: q, shape: [...sLead, S, hq, d.d] },
      { t: k, shape: [...sLead, tDim, d.hkv, d.d] },
      { t: v, shape: [...sLead, tDim, d.hkv, dv] },
    ];
    if (d.mode === 'masked') {
      // Left padding in row 0; row 1 fully padded (every query then averages all of v).
      const mask = i32([2, t], Array.from({ length: 2 * t }, (_, j) => (j < t ? (j < Math.floor(t / 3) ? 0 : 1) : 0)));
      operands.push({ t: d.seed % 2 ? mask : convertF32({ ...mask, dtype: 'f32', data: Float32Array.from(mask.data as Int32Array) }, 'f32'), shape: [B, tDim] });
    }
    if (d.mode === 'maskedFlat') {
      // Unbatched: one mask [T] for the sequence; padding at the front.
      const mask = i32([t], Array.from({ length: t }, (_, j) => (j < Math.floor(t / 4) ? 0 : 1)));
      operands.push({ t: mask, shape: [tDim] });
    }
    const attrs = { scale: 1 / Math.sqrt(d.d), causal: d.causal, window: d.window, softcap: d.softcap };
    out.push({
      label: `attention ${d.mode} S=${d.s} P=${d.past} Hq=${hq} Hkv=${d.hkv} D=${d.d} Dv=${dv} ${JSON.stringify(attrs)}`,
      op: 'attention', operands, attrs, dims: d.mode === 'symP' ? { P: d.past } : undefined,
    });
  }
  return out;
}

describe('wasm rope and attention kernels', () => {
  let suite: Suite;
  beforeAll(async () => {
    const cases = [...(findOp('rope') ? ropeCases() : []), ...(findOp('attention') ? attentionCases() : [])];
    suite = await setupSuite(cases);
  });
  afterAll(async () => { await suite?.pool.dispose(); });
  it('match the reference at 1 and 2 threads', () => checkAll(suite));
});
