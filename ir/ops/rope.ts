// Rotary position embeddings as Hugging Face computes them: inv_freq, the angles and their cos/sin
// in float32 (each f32 step is a Math.fround here), rotate_half pairing (i, i + rd/2) by default.
// Scalings: llama3 (per-frequency smoothing) and longrope (Phi-3: short/long factors chosen by the
// total length, cos and sin scaled by an attention factor). The rotation itself is computed in f64
// from the f32 tables and rounded once.
import type { Attrs } from '../attrs.js';
import { registerOp } from '../op.js';
import { typeToString } from '../types.js';
import { expectDim, expectDType, expectFloat, expectRank, f32Type, fail, floats, outF32 } from './util.js';

const f = Math.fround;

/** The number of rotated dims: rotary_dim, or all of head_dim when it is 0. */
function rotaryDim(a: Attrs, headDim: number): number {
  return (a.rotary_dim as number) || headDim;
}

/** 1 / (ext · theta^(2i/rd)) in float32, as HF's _compute_default/_longrope_parameters do. */
function baseInvFreq(theta: number, rd: number, ext?: readonly number[]): Float32Array {
  const out = new Float32Array(rd / 2);
  for (let i = 0; i < rd / 2; i++) {
    const p = f(Math.pow(f(theta), f((2 * i) / rd)));
    out[i] = f(1 / (ext ? f(f(ext[i]) * p) : p));
  }
  return out;
}

/**
 * HF _compute_llama3_parameters. wavelen = 2π / inv_freq; torch evaluates `scalar / tensor` as
 * reciprocal(tensor) · scalar, which we follow step by step in f32.
 */
function llama3(inv: Float32Array, a: Attrs): Float32Array {
  const factor = f(a.factor as number), low = a.low_freq_factor as number, high = a.high_freq_factor as number;
  const orig = a.original_max_positions as number;
  const lowWavelen = f(orig / low), highWavelen = f(orig / high);
  return inv.map((v) => {
    const wavelen = f(f(1 / v) * f(2 * Math.PI));
    if (wavelen < highWavelen) return v;
    if (wavelen > lowWavelen) return f(v / factor);
    const smooth = f(f(f(f(1 / wavelen) * f(orig)) - f(low)) / f(high - low));
    return f(f(f(f(1 - smooth) * v) / factor) + f(smooth * v));
  });
}

/** The attention factor that scales cos and sin under longrope. */
export function longropeAttentionFactor(a: Attrs): number {
  const given = a.attention_factor as number;
  if (given > 0) return given;
  const orig = a.original_max_positions as number, max = a.max_positions as number;
  // Phi-3 configs derive the scale from max/original; without max_positions, from `factor`.
  const scale = max > 0 ? max / orig : (a.factor as number);
  return scale <= 1 ? 1 : Math.sqrt(1 + Math.log(scale) / Math.log(orig));
}

/** inv_freq for this call; `seqLen` (max position + 1) picks longrope's factors. */
export function ropeInvFreq(a: Attrs, rd: number, seqLen: number): Float32Array {
  const theta = a.theta as number;
  switch (a.scaling) {
    case 'llama3': return llama3(baseInvFreq(theta, rd), a);
    case 'longrope': {
      const long = seqLen > (a.original_max_positions as number);
      return baseInvFreq(theta, rd, (long ? a.long_factor : a.short_factor) as readonly number[]);
    }
    default: return baseInvFreq(theta, rd);
  }
}

const floatsAttr = { type: 'floats', default: [] } as const;

registerOp({
  name: 'rope',
  summary: 'rotary position embedding of x [S, H, D] or [B, S, H, D] at positions pos [S] or [B, S]',
  operands: ['x', 'pos'],
  attrs: {
    theta: { type: 'float' },
    rotary_dim: { type: 'int', default: 0, doc: 'rotated leading dims of each head; 0 = all (Phi-3 partial rotary: fewer)' },
    interleaved: { type: 'bool', default: false, doc: 'pairs (2i, 2i+1) (GGUF/Meta layout) instead of (i, i+rd/2)' },
    scaling: { type: 'string', default: 'none', oneOf: ['none', 'llama3', 'longrope'] },
    factor: { type: 'float', default: 1 },
    low_freq_factor: { type: 'float', default: 1 },
    high_freq_factor: { type: 'float', default: 4 },
    original_max_positions: { type: 'int', default: 0 },
    short_factor: floatsAttr,
    long_factor: floatsAttr,
    attention_factor: { type: 'float', default: 0, doc: 'longrope cos/sin scale; 0 = derive from max/original positions' },
    max_positions: { type: 'int', default: 0 },
  },
  infer([x, pos], a) {
    expectFloat(x, 'x');
    expectRank(x, 'x', [3, 4]);
    expectDType(pos, 'pos', ['i32']);
    const batched = x.shape.length === 4;
    expectRank(pos, 'pos', batched ? [1, 2] : [1]);
    if (pos.shape.length === 2) expectDim(pos.shape[0], x.shape[0], `pos's batch dim must equal x's`);
    expectDim(pos.shape[pos.shape.length - 1], x.shape[batched ? 1 : 0], `pos's length must equal x's sequence dim`);
    const d = x.shape[x.shape.length - 1];
    const rd = a.rotary_dim as number;
    if (rd < 0 || rd % 2 !== 0) fail(`attribute 'rotary_dim' must be even and ≥ 0, got ${rd}`);
    if (typeof d === 'number') {
      if (rd > d) fail(`attribute 'rotary_dim' ${rd} exceeds the head dim ${d} of x ${typeToString(x)}`);
      if (rotaryDim(a, d) % 2 !== 0) fail(`the head dim ${d} of x ${typeToString(x)} is odd; rope rotates pairs`);
    }
    if ((a.theta as number) <= 0) fail(`attribute 'theta' must be > 0, got ${a.theta as number}`);
    const orig = a.original_max_positions as number;
    if (a.scaling === 'llama3') {
      if (orig <= 0) fail(`llama3 scaling needs attribute 'original_max_positions' > 0`);
      if ((a.factor as number) <= 0) fail(`attribute 'factor' must be > 0, got ${a.factor as number}`);
      if (a.high_freq_factor === a.low_freq_factor) fail(`attributes 'high_freq_factor' and 'low_freq_factor' must differ`);
    }
    if (a.scaling === 'longrope') {
      if (orig <= 0) fail(`longrope scaling needs attribute 'original_max_positions' > 0`);
      const half = typeof d === 'number' ? rotaryDim(a, d) / 2 : undefined;
      for (const name of ['short_factor', 'long_factor'] as const) {
        const n = (a[name] as readonly number[]).length;
        if (half !== undefined ? n !== half : n === 0) fail(`attribute '${name}' needs ${half ?? 'rotary_dim/2'} values (one per frequency), got ${n}`);
      }
    }
    return [f32Type(x.shape)];
  },
  evaluate([x, pos], a) {
    const batched = x.shape.length === 4;
    const [b, s, h, d] = batched ? x.shape : [1, ...x.shape];
    const rd = rotaryDim(a, d), half = rd / 2;
    // Re-checked here for head dims that were symbolic at inference time.
    if (rd > d || rd % 2 !== 0) throw new Error(`rope: cannot rotate ${rd} dims of a head of ${d}`);
    if (a.scaling === 'longrope' && ((a.short_factor as readonly number[]).length !== half || (a.long_factor as readonly number[]).length !== half)) {
      throw new Error(`rope: longrope factors need ${half} values each`);
    }
    const ps = pos.data as Int32Array;
    let maxPos = -1;
    for (const p of ps) maxPos = Math.max(maxPos, p);
    const inv = ropeInvFreq(a, rd, maxPos + 1);
    const att = a.scaling === 'longrope' ? f(longropeAttentionFactor(a)) : 1;
    const interleaved = a.interleaved as boolean;
    const xs = floats(x);
    const out = Float32Array.from(xs); // dims past rd pass through
    const cos = new Float32Array(half), sin = new Float32Array(half);
    for (let bi = 0; bi < b; bi++) {
      for (let si = 0; si < s; si++) {
        // pos [S] is shared by every batch row.
        const p = ps[pos.shape.length === 2 ? bi * s + si : si];
        for (let i = 0; i < half; i++) {
          const angle = f(inv[i] * p);
          cos[i] = f(f(Math.cos(angle)) * att);
          sin[i] = f(f(Math.sin(angle)) * att);
        }
        for (let hi = 0; hi < h; hi++) {
          const base = ((bi * s + si) * h + hi) * d;
          for (let i = 0; i < half; i++) {
            // rotate_half: (x1, x2) → (x1·cos − x2·sin, x2·cos + x1·sin) for the pair (j1, j2).
            const j1 = base + (interleaved ? 2 * i : i);
            const j2 = base + (interleaved ? 2 * i + 1 : i + half);
            out[j1] = xs[j1] * cos[i] - xs[j2] * sin[i];
            out[j2] = xs[j2] * cos[i] + xs[j1] * sin[i];
          }
        }
      }
    }
    return [outF32(x.shape, out)];
  },
});
