// Attention (scaled dot product, GQA, causal/sliding-window/padding masks, Gemma-2 softcap) and
// kv_append, the step that grows the KV cache. Layout is [S, H, D] per sequence, with an optional
// leading batch dim B on every operand.
import { type Dim, dimAdd, dimEquals, dimSub, dimToString } from '../dim.js';
import { registerOp } from '../op.js';
import type { Attrs } from '../attrs.js';
import { type HostTensor, numel, tensor } from '../tensor.js';
import { typeToString } from '../types.js';
import { expectDim, expectDType, expectFloat, expectRank, expectUnblocked, f32Type, fail, floats, newLike, outF32 } from './util.js';

/** float32's most negative finite value: HF adds it to masked scores instead of −∞. */
export const F32_MIN = -3.4028234663852886e38;

/**
 * One query–key score as HF's eager attention computes it: scaled dot product, optional softcap,
 * then masked keys get finfo(f32).min added in float32, which swallows the score, so every masked
 * key gets the same value and a row with no visible key becomes a uniform average (not NaN).
 * Shared by `attention` and the tiled `flash_attention`, which must agree exactly.
 */
export function attentionScore(qs: Float32Array, qo: number, ks: Float32Array, ko: number, d: number, scale: number, cap: number, visible: boolean): number {
  let dot = 0;
  for (let c = 0; c < d; c++) dot += qs[qo + c] * ks[ko + c];
  let score = scale * dot;
  if (cap > 0) score = cap * Math.tanh(score / cap);
  return visible ? score : Math.fround(Math.fround(score) + F32_MIN);
}

/** What both attention evaluators read off their operands and attributes (q [B?, S, Hq, D], …). */
export interface AttentionCall {
  readonly b: number; readonly s: number; readonly hq: number; readonly d: number;
  readonly t: number; readonly hkv: number; readonly dv: number; readonly group: number;
  readonly qs: Float32Array; readonly ks: Float32Array; readonly vs: Float32Array; readonly ms?: Float32Array;
  readonly scale: number; readonly cap: number; readonly window: number; readonly causal: boolean;
  /** The result [.., S, Hq, Dv] for the values `out`. */
  result(out: Float32Array): HostTensor;
}

export function attentionCall([q, k, v, mask]: readonly (HostTensor | undefined)[], a: Attrs): AttentionCall {
  if (!q || !k || !v) throw new Error('attention needs q, k and v');
  const batched = q.shape.length === 4;
  const lead = (t: readonly number[]) => (batched ? t : [1, ...t]);
  const [b, s, hq, d] = lead(q.shape), [, t, hkv] = lead(k.shape), dv = v.shape[v.shape.length - 1];
  return {
    b, s, hq, d, t, hkv, dv, group: hq / hkv,
    qs: floats(q), ks: floats(k), vs: floats(v), ...(mask ? { ms: floats(mask) } : {}),
    scale: a.scale as number, cap: a.softcap as number, window: a.window as number, causal: a.causal as boolean,
    result: (out) => outF32([...q.shape.slice(0, -1), dv], out),
  };
}

registerOp({
  name: 'attention',
  summary: 'softmax(scale · q·kᵀ, masked) · v with GQA; q [S, Hq, D], k [T, Hkv, D], v [T, Hkv, Dv] (or with a batch dim)',
  operands: ['q', 'k', 'v', 'mask?'],
  attrs: {
    scale: { type: 'float' },
    causal: { type: 'bool', default: true },
    window: { type: 'int', default: 0, doc: 'sliding window W > 0: query at position i sees keys i−W < j ≤ i' },
    softcap: { type: 'float', default: 0, doc: 'cap·tanh(s/cap) on the scaled scores, before masking; 0 = off' },
  },
  infer([q, k, v, mask], a) {
    expectFloat(q, 'q');
    expectFloat(k, 'k');
    expectFloat(v, 'v');
    expectRank(q, 'q', [3, 4]);
    const rank = q.shape.length;
    expectRank(k, 'k', [rank]);
    expectRank(v, 'v', [rank]);
    const batched = rank === 4;
    if (batched) {
      expectDim(k.shape[0], q.shape[0], `k's batch dim must equal q's`);
      expectDim(v.shape[0], q.shape[0], `v's batch dim must equal q's`);
    }
    const [s, hq, d] = q.shape.slice(-3), [t, hkv, dk] = k.shape.slice(-3), [tv, hv, dv] = v.shape.slice(-3);
    expectDim(dk, d, `k's head dim must equal q's`);
    expectDim(tv, t, `v's length must equal k's`);
    expectDim(hv, hkv, `v's head count must equal k's`);
    if (typeof hq === 'number' && typeof hkv === 'number' && (hkv === 0 || hq % hkv !== 0)) {
      fail(`q's ${hq} heads are not a multiple of k's ${hkv} heads (grouped-query attention needs Hq % Hkv = 0)`);
    }
    const window = a.window as number, softcap = a.softcap as number;
    if (window < 0) fail(`attribute 'window' must be ≥ 0, got ${window}`);
    if (softcap < 0) fail(`attribute 'softcap' must be ≥ 0, got ${softcap}`);
    // Query i sits at absolute position T−S+i, so the keys must include every query.
    if ((a.causal || window > 0) && !dimEquals(s, t)) {
      const past = dimSub(t, s);
      if (typeof past === 'number' && past < 0) fail(`k has ${dimToString(t)} positions but q has ${dimToString(s)} queries; causal attention needs T ≥ S`);
    }
    if (mask) {
      expectDType(mask, 'mask', ['i32', 'f32']);
      expectRank(mask, 'mask', [rank - 2]);
      if (batched) expectDim(mask.shape[0], q.shape[0], `mask's batch dim must equal q's`);
      expectDim(mask.shape[mask.shape.length - 1], t, `mask's length must equal k's`);
    }
    return [f32Type([...q.shape.slice(0, -1), dv])];
  },
  evaluate(operands, a) {
    const call = attentionCall(operands, a);
    const { b, s, hq, d, t, hkv, dv, group, qs, ks, vs, ms, scale, cap, window, causal } = call;
    const out = new Float32Array(b * s * hq * dv);
    const p = new Float64Array(t);
    const acc = new Float64Array(dv);
    for (let bi = 0; bi < b; bi++) {
      for (let h = 0; h < hq; h++) {
        const kh = Math.floor(h / group);
        for (let i = 0; i < s; i++) {
          const qpos = t - s + i;
          const qo = ((bi * s + i) * hq + h) * d;
          let max = -Infinity;
          for (let j = 0; j < t; j++) {
            const visible = (!causal || j <= qpos) && (window <= 0 || j > qpos - window) && (!ms || ms[bi * t + j] !== 0);
            const score = attentionScore(qs, qo, ks, ((bi * t + j) * hkv + kh) * d, d, scale, cap, visible);
            p[j] = score;
            max = Math.max(max, score);
          }
          let sum = 0;
          for (let j = 0; j < t; j++) sum += (p[j] = Math.exp(p[j] - max));
          acc.fill(0);
          for (let j = 0; j < t; j++) {
            const w = p[j] / sum;
            const vo = ((bi * t + j) * hkv + kh) * dv;
            for (let c = 0; c < dv; c++) acc[c] += w * vs[vo + c];
          }
          out.set(acc, ((bi * s + i) * hq + h) * dv);
        }
      }
    }
    return [call.result(out)];
  },
});

registerOp({
  name: 'kv_append',
  summary: 'the KV cache grown by this step: concat(past [P, H, D], new [S, H, D]) on the sequence axis (axis 1 with a batch dim)',
  operands: ['past', 'new'],
  attrs: {},
  infer([past, next]) {
    expectRank(past, 'past', [3, 4]);
    expectUnblocked(past, 'past');
    expectRank(next, 'new', [past.shape.length]);
    if (past.dtype !== next.dtype) fail(`new ${typeToString(next)} must have past's dtype ${past.dtype}`);
    const axis = past.shape.length - 3;
    past.shape.forEach((d, i) => {
      if (i !== axis) expectDim(next.shape[i], d, `new's axis ${i} must equal past's (past is ${typeToString(past)})`);
    });
    const shape: Dim[] = [...past.shape];
    shape[axis] = dimAdd(past.shape[axis], next.shape[axis]);
    return [{ dtype: past.dtype, shape }];
  },
  evaluate([past, next]) {
    const batched = past.shape.length === 4;
    const b = batched ? past.shape[0] : 1;
    const pRun = numel(past.shape) / b, nRun = numel(next.shape) / b;
    const shape = [...past.shape];
    shape[batched ? 1 : 0] += next.shape[batched ? 1 : 0];
    const out = newLike(past, numel(shape));
    for (let bi = 0; bi < b; bi++) {
      out.set((past.data as Float32Array).subarray(bi * pRun, (bi + 1) * pRun), bi * (pRun + nRun));
      out.set((next.data as Float32Array).subarray(bi * nRun, (bi + 1) * nRun), bi * (pRun + nRun) + pRun);
    }
    return [tensor(past.dtype, shape, out)];
  },
});
