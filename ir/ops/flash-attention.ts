// flash_attention: `attention` computed the way a tiled kernel computes it, so that property tests
// check the algorithm itself and kernels have a literal model to follow.
//
// Queries are taken tile_q rows at a time; for each query tile the keys are visited tile_k at a
// time, and every row keeps a running state (max m, sum l, weighted values acc): a new tile with
// maximum m' rescales the state by e^(m − m'), then adds its own e^(s − m') terms (online softmax).
// Nothing of size T is ever held per row. A decode step (S = 1) with split_k > 1 is the
// flash-decoding form: the key tiles are dealt into split_k contiguous runs, each reduced to its
// own (m, l, acc), and the partials are combined at the end: M = max m_i, out = Σ acc_i e^(m_i − M)
// / Σ l_i e^(m_i − M).
//
// Scores, masks and softcap are exactly attention's (ir/ops/attention.ts), HF's finfo.min masking
// included: a masked score is score + f32 min rounded to f32, so a row whose keys are all masked
// averages every value uniformly, and a masked key weighs exactly 0 next to a visible one. Key
// tiles that the causal or window mask hides from every row of a query tile are skipped, as a
// kernel would; that is exact only while every row keeps a visible key, so it is done only without
// a padding mask (which can hide all keys) and when no query lies before the first key.
import type { Attrs } from '../attrs.js';
import { getOp, registerOp } from '../op.js';
import { attentionCall, attentionScore } from './attention.js';
import { fail } from './util.js';

const ATTENTION = getOp('attention');

/** The attributes flash_attention shares with attention. */
function attentionAttrs(a: Attrs): Attrs {
  return { scale: a.scale, causal: a.causal, window: a.window, softcap: a.softcap };
}

/** A query row's running softmax state over the keys seen so far. */
interface RowState {
  m: number;
  l: number;
  readonly acc: Float64Array;
}

/** Σ acc_i e^(m_i − M) / Σ l_i e^(m_i − M) over partial states (one state: acc / l). */
function combine(states: readonly RowState[], out: Float32Array, at: number): void {
  // A state that saw keys has l ≥ 1 (its maximum contributes e⁰), or NaN, which must propagate.
  const seen = states.filter((st) => st.l !== 0);
  let big = -Infinity;
  for (const st of seen) big = Math.max(big, st.m);
  const dv = states[0].acc.length;
  const acc = new Float64Array(dv);
  let l = 0;
  for (const st of seen) {
    const f = Math.exp(st.m - big);
    l += st.l * f;
    for (let c = 0; c < dv; c++) acc[c] += st.acc[c] * f;
  }
  // No keys at all (T = 0) leaves zeros, as attention does.
  for (let c = 0; c < dv; c++) out[at + c] = seen.length ? acc[c] / l : 0;
}

registerOp({
  name: 'flash_attention',
  summary: 'attention as a tiled kernel computes it: online softmax over key tiles, split-K partials for decode steps',
  operands: ['q', 'k', 'v', 'mask?'],
  attrs: {
    ...ATTENTION.attrs,
    tile_q: { type: 'int', default: 16, doc: 'query rows per tile' },
    tile_k: { type: 'int', default: 64, doc: 'keys per tile' },
    split_k: { type: 'int', default: 1, doc: 'decode steps (S = 1): key tiles are reduced in this many independent runs, then combined' },
  },
  traits: ['fused'],
  infer(ops, a) {
    for (const name of ['tile_q', 'tile_k', 'split_k']) if ((a[name] as number) < 1) fail(`attribute '${name}' must be ≥ 1, got ${a[name] as number}`);
    return ATTENTION.infer(ops, attentionAttrs(a));
  },
  evaluate(operands, a) {
    const call = attentionCall(operands, a);
    const { b, s, hq, d, t, hkv, dv, group, qs, ks, vs, ms, scale, cap, window, causal } = call;
    const tileQ = a.tile_q as number, tileK = a.tile_k as number, splitK = a.split_k as number;
    const out = new Float32Array(b * s * hq * dv);
    const tiles = Math.ceil(t / tileK);
    const maySkip = !ms && t >= s;
    /** Keys [j0, j1) are hidden from every query at positions qa…qb by the causal/window mask. */
    const hidden = (j0: number, j1: number, qa: number, qb: number) => (causal && j0 > qb) || (window > 0 && j1 - 1 <= qa - window);
    const p = new Float64Array(tileK);
    const fresh = (): RowState => ({ m: -Infinity, l: 0, acc: new Float64Array(dv) });

    /** Folds key tile `kt` into the state of query row i of head h. */
    const consume = (st: RowState, bi: number, h: number, i: number, kt: number) => {
      const kh = Math.floor(h / group);
      const qpos = t - s + i;
      const qo = ((bi * s + i) * hq + h) * d;
      const j0 = kt * tileK, j1 = Math.min(t, j0 + tileK);
      let tileMax = -Infinity;
      for (let j = j0; j < j1; j++) {
        const visible = (!causal || j <= qpos) && (window <= 0 || j > qpos - window) && (!ms || ms[bi * t + j] !== 0);
        const score = attentionScore(qs, qo, ks, ((bi * t + j) * hkv + kh) * d, d, scale, cap, visible);
        p[j - j0] = score;
        tileMax = Math.max(tileMax, score);
      }
      const m = Math.max(st.m, tileMax);
      // The first tile has nothing to rescale (and −∞ − −∞ would be NaN).
      const rescale = st.m === -Infinity ? 0 : Math.exp(st.m - m);
      st.l *= rescale;
      for (let c = 0; c < dv; c++) st.acc[c] *= rescale;
      for (let j = j0; j < j1; j++) {
        const e = Math.exp(p[j - j0] - m);
        st.l += e;
        const vo = ((bi * t + j) * hkv + kh) * dv;
        for (let c = 0; c < dv; c++) st.acc[c] += e * vs[vo + c];
      }
      st.m = m;
    };

    for (let bi = 0; bi < b; bi++) {
      for (let h = 0; h < hq; h++) {
        if (s === 1 && splitK > 1) {
          // Flash-decoding: split_k runs of whole tiles, each with its own partial state.
          const per = Math.ceil(tiles / splitK);
          const partials = Array.from({ length: splitK }, (_, sp) => {
            const st = fresh();
            for (let kt = sp * per; kt < Math.min(tiles, (sp + 1) * per); kt++) {
              if (maySkip && hidden(kt * tileK, Math.min(t, (kt + 1) * tileK), t - 1, t - 1)) continue;
              consume(st, bi, h, 0, kt);
            }
            return st;
          });
          combine(partials, out, (bi * hq + h) * dv);
          continue;
        }
        for (let i0 = 0; i0 < s; i0 += tileQ) {
          const i1 = Math.min(s, i0 + tileQ);
          const rows = Array.from({ length: i1 - i0 }, fresh);
          for (let kt = 0; kt < tiles; kt++) {
            if (maySkip && hidden(kt * tileK, Math.min(t, (kt + 1) * tileK), t - s + i0, t - s + i1 - 1)) continue;
            rows.forEach((st, r) => consume(st, bi, h, i0 + r, kt));
          }
          rows.forEach((st, r) => combine([st], out, ((bi * s + i0 + r) * hq + h) * dv));
        }
      }
    }
    return [call.result(out)];
  },
});
