import { describe, expect, it } from 'vitest';
import { type AttrValue, f32, i32 } from '../../../ir/index.js';
import { longropeAttentionFactor, ropeInvFreq } from '../../../ir/ops/rope.js';
import { B, S, expectClose, inferOp, run1, values } from './harness.js';

// ---- A transcription of HF's rotary code, one torch op per line, on Float32Arrays so that every
// tensor op rounds to float32 as torch does (Float32Array.map stores each result as f32). ----

const f = Math.fround;
const F = (xs: ArrayLike<number>) => Float32Array.from(xs);

interface HfRope {
  theta: number;
  dim: number; // rotary dims: int(head_dim * partial_rotary_factor)
  llama3?: { factor: number; low: number; high: number; orig: number };
  longrope?: { short: number[]; long: number[]; orig: number; max: number };
}

/** HF inv_freq and attention_scaling for a sequence of `seqLen` positions. */
function hfInvFreq(c: HfRope, seqLen: number): [Float32Array, number] {
  // torch.arange(0, dim, 2, dtype=torch.int64).float() / dim
  const shape = F(Array.from({ length: c.dim / 2 }, (_, i) => 2 * i)).map((v) => v / c.dim);
  const powed = shape.map((e) => Math.pow(c.theta, e)); // base ** inv_freq_shape
  if (c.longrope) {
    const { short, long, orig, max } = c.longrope;
    const factor = max / orig;
    const attention = factor <= 1 ? 1 : Math.sqrt(1 + Math.log(factor) / Math.log(orig));
    const ext = F(seqLen > orig ? long : short);
    const prod = ext.map((e, i) => e * powed[i]); // ext_factors * base**…
    return [prod.map((p) => 1 / p), attention]; // 1.0 / (…)
  }
  let inv = powed.map((p) => 1 / p);
  if (c.llama3) {
    const { factor, low, high, orig } = c.llama3;
    const lowWavelen = orig / low, highWavelen = orig / high;
    // wavelen = 2 * math.pi / inv_freq   (torch: inv_freq.reciprocal() * (2π))
    const wavelen = inv.map((v) => 1 / v).map((r) => r * f(2 * Math.PI));
    // torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    const llama = inv.map((v, i) => (wavelen[i] > lowWavelen ? f(v / factor) : v));
    // smooth_factor = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
    const smooth = wavelen.map((w) => 1 / w).map((r) => r * orig).map((v) => v - low).map((v) => v / (high - low));
    // smoothed_inv_freq = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
    const a = smooth.map((s) => 1 - s).map((v, i) => v * llama[i]).map((v) => v / factor);
    const b = smooth.map((s, i) => s * llama[i]);
    const smoothed = a.map((v, i) => v + b[i]);
    // is_medium_freq = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    inv = llama.map((v, i) => (!(wavelen[i] < highWavelen) && !(wavelen[i] > lowWavelen) ? smoothed[i] : v));
  }
  return [inv, 1];
}

/** apply_rotary_pos_emb on one head [S][headDim], partial rotary as in Phi-3. */
function hfApply(c: HfRope, x: number[][], pos: number[]): number[][] {
  const [inv, scaling] = hfInvFreq(c, Math.max(...pos) + 1);
  return x.map((row, s) => {
    const freqs = inv.map((v) => v * pos[s]); // inv_freq @ position_ids
    const emb = F([...freqs, ...freqs]); // torch.cat((freqs, freqs), dim=-1)
    const cos = emb.map(Math.cos).map((v) => v * f(scaling));
    const sin = emb.map(Math.sin).map((v) => v * f(scaling));
    const rot = F(row.slice(0, c.dim)), pass = row.slice(c.dim);
    const half = c.dim / 2;
    const rotated = F([...rot.slice(half).map((v) => -v), ...rot.slice(0, half)]); // rotate_half
    const out = rot.map((v, i) => v * cos[i]).map((v, i) => v + f(rotated[i] * sin[i]));
    return [...out, ...pass];
  });
}

// ---- helpers ----

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
/** Deterministic, non-trivial test values in (−1, 1). */
const wave = (n: number, seed: number) => range(n).map((i) => f(Math.sin(1.7 * i + seed) * 0.9));

/** rope over x [S, 1, D] at the given positions, as rows [S][D]. */
function ropeRows(rows: number[][], pos: number[], attrs: Record<string, AttrValue>): number[][] {
  const d = rows[0].length;
  const y = values(run1('rope', [f32([rows.length, 1, d], rows.flat()), i32([pos.length], pos)], attrs));
  return rows.map((_, s) => y.slice(s * d, (s + 1) * d));
}

describe('rope: hand-computed rotations', () => {
  it('rotate_half pairs (i, i + D/2) with inv_freq = θ^(−2i/D)', () => {
    // D = 4, θ = 100: inv_freq = [1, 100^(−1/2) = 0.1]; pairs (0, 2) turn by pos·1, (1, 3) by pos·0.1.
    const x = [1, 2, 3, 4], p = 2;
    const want = [
      1 * Math.cos(2) - 3 * Math.sin(2), 2 * Math.cos(0.2) - 4 * Math.sin(0.2),
      3 * Math.cos(2) + 1 * Math.sin(2), 4 * Math.cos(0.2) + 2 * Math.sin(0.2),
    ];
    expectClose(ropeRows([x], [p], { theta: 100 })[0], want, 2e-6);
    // position 0 is the identity
    expectClose(ropeRows([x], [0], { theta: 100 })[0], x, 0);
  });
  it('interleaved pairs (2i, 2i + 1)', () => {
    const x = [1, 2, 3, 4];
    const want = [
      1 * Math.cos(2) - 2 * Math.sin(2), 2 * Math.cos(2) + 1 * Math.sin(2),
      3 * Math.cos(0.2) - 4 * Math.sin(0.2), 4 * Math.cos(0.2) + 3 * Math.sin(0.2),
    ];
    expectClose(ropeRows([x], [2], { theta: 100, interleaved: true })[0], want, 2e-6);
  });
  it('partial rotary rotates the first rotary_dim dims (inv_freq over rotary_dim) and passes the rest', () => {
    const x = [1, 2, 3, 4, 5, 6];
    const want = [
      1 * Math.cos(2) - 3 * Math.sin(2), 2 * Math.cos(0.2) - 4 * Math.sin(0.2),
      3 * Math.cos(2) + 1 * Math.sin(2), 4 * Math.cos(0.2) + 2 * Math.sin(0.2), 5, 6,
    ];
    expectClose(ropeRows([x], [2], { theta: 100, rotary_dim: 4 })[0], want, 2e-6);
  });
  it('applies the same rotation to every head, per sequence position; batched pos [B, S] or shared [S]', () => {
    // x [B=2, S=1, H=2, D=2], θ irrelevant for D = 2 (inv_freq = [1]); batch 0 at pos 1, batch 1 at pos 3.
    const x = f32([2, 1, 2, 2], [1, 0, 0, 1, 1, 0, 0, 1]);
    const y = values(run1('rope', [x, i32([2, 1], [1, 3])], { theta: 10 }));
    const c1 = Math.cos(1), s1 = Math.sin(1), c3 = Math.cos(3), s3 = Math.sin(3);
    expectClose(y, [c1, s1, -s1, c1, c3, s3, -s3, c3], 1e-6);
    const shared = values(run1('rope', [x, i32([1], [1])], { theta: 10 }));
    expectClose(shared, [c1, s1, -s1, c1, c1, s1, -s1, c1], 1e-6);
  });
});

describe('rope: against a transcription of the HF code', () => {
  const pos = [0, 1, 2, 7, 31, 63, 64, 100, 127];
  const rows = (d: number) => pos.map((_, s) => wave(d, s));
  it('default (Llama, θ = 1e4, D = 16)', () => {
    const got = ropeRows(rows(16), pos, { theta: 1e4 });
    const want = hfApply({ theta: 1e4, dim: 16 }, rows(16), pos);
    got.forEach((r, s) => expectClose(r, want[s], 1e-6));
  });
  it('llama3 scaling (θ = 5e5, factor 8, original 64): all three regimes occur', () => {
    const cfg = { factor: 8, low: 1, high: 4, orig: 64 };
    const attrs = { theta: 5e5, scaling: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_positions: 64 };
    const inv = ropeInvFreq({ ...attrs, rotary_dim: 0 }, 16, 1);
    const base = range(8).map((i) => Math.pow(5e5, -i / 8));
    const wavelen = base.map((v) => (2 * Math.PI) / v);
    // wavelen < 64/4 = 16: kept; > 64/1: divided by 8; otherwise smoothed between the two.
    const regimes = wavelen.map((w) => (w < 16 ? 'high' : w > 64 ? 'low' : 'mid'));
    expect(new Set(regimes)).toEqual(new Set(['high', 'mid', 'low']));
    regimes.forEach((r, i) => {
      const s = (64 / wavelen[i] - 1) / (4 - 1);
      const want = r === 'high' ? base[i] : r === 'low' ? base[i] / 8 : (1 - s) * base[i] / 8 + s * base[i];
      expect(Math.abs(inv[i] - want) / want).toBeLessThan(1e-6);
    });
    const got = ropeRows(rows(16), pos, attrs);
    const want = hfApply({ theta: 5e5, dim: 16, llama3: cfg }, rows(16), pos);
    got.forEach((r, s) => expectClose(r, want[s], 1e-6));
  });
  it('longrope + partial rotary (Phi-3.5 style): short factors up to original, long beyond, cos/sin scaled', () => {
    const short = [1, 1.1, 1.3, 1.7, 2.2, 3], long = [1, 1.5, 2.5, 4, 8, 16];
    const attrs = { theta: 1e4, rotary_dim: 12, scaling: 'longrope', original_max_positions: 32, max_positions: 128, short_factor: short, long_factor: long };
    const cfg: HfRope = { theta: 1e4, dim: 12, longrope: { short, long, orig: 32, max: 128 } };
    // sqrt(1 + ln(128/32)/ln(32)) ≈ 1.183
    expect(longropeAttentionFactor(attrs)).toBeCloseTo(Math.sqrt(1 + Math.log(4) / Math.log(32)), 12);
    for (const len of [31, 32, 33, 40]) {
      const p = range(len);
      const x = p.map((s) => wave(16, s));
      const got = ropeRows(x, p, attrs);
      const want = hfApply(cfg, x, p);
      got.forEach((r, s) => expectClose(r, want[s], 1e-6));
    }
    // The switch sits exactly at max(pos) + 1 > 32: position 5 turns differently in a 32- and a 33-long sequence.
    const x5 = wave(16, 5);
    const shortRow = ropeRows([x5, x5], [5, 31], attrs)[0], longRow = ropeRows([x5, x5], [5, 32], attrs)[0];
    expect(longRow).not.toEqual(shortRow);
    expectClose(shortRow, hfApply(cfg, [x5, x5], [5, 31])[0], 1e-6);
    expectClose(longRow, hfApply(cfg, [x5, x5], [5, 32])[0], 1e-6);
    expectClose(longRow, hfApply({ ...cfg, longrope: { short: long, long, orig: 32, max: 128 } }, [x5], [5])[0], 1e-6);
    // Position 0: cos = scale, sin = 0, so rotated dims are scaled and the 4 passed-through dims are not.
    const y0 = ropeRows([x5], [0], attrs)[0];
    const scale = f(Math.sqrt(1 + Math.log(4) / Math.log(32)));
    expectClose(y0, [...x5.slice(0, 12).map((v) => v * scale), ...x5.slice(12)], 1e-6);
    // A given attention_factor wins over the derived one.
    expectClose(ropeRows([x5], [0], { ...attrs, attention_factor: 2 })[0], [...x5.slice(0, 12).map((v) => 2 * v), ...x5.slice(12)], 1e-6);
  });
});

describe('rope: inference', () => {
  it('keeps x shape and checks pos against the sequence dim', () => {
    expect(inferOp('rope', [['f32', [S, 4, 16]], ['i32', [S]]], { theta: 1e4 })).toEqual(['f32[S, 4, 16]']);
    expect(inferOp('rope', [['f32', [B, S, 4, 16]], ['i32', [B, S]]], { theta: 1e4 })).toEqual(['f32[B, S, 4, 16]']);
    expect(() => inferOp('rope', [['f32', [S, 4, 16]], ['i32', [4]]], { theta: 1e4 })).toThrow(/pos's length must equal x's sequence dim: expected S, got 4/);
    expect(() => inferOp('rope', [['f32', [S, 4, 16]], ['f32', [S]]], { theta: 1e4 })).toThrow(/pos must be i32/);
    expect(() => inferOp('rope', [['f32', [S, 16]], ['i32', [S]]], { theta: 1e4 })).toThrow(/x must have rank 3 or 4/);
    expect(() => inferOp('rope', [['f32', [S, 4, 16]], ['i32', [S]]], {})).toThrow(/missing attribute 'theta'/);
  });
  it('checks rotary_dim and the scaling parameters', () => {
    const x = [['f32', [S, 4, 16]], ['i32', [S]]] as const;
    expect(() => inferOp('rope', x, { theta: 1e4, rotary_dim: 18 })).toThrow(/attribute 'rotary_dim' 18 exceeds the head dim 16/);
    expect(() => inferOp('rope', x, { theta: 1e4, rotary_dim: 5 })).toThrow(/'rotary_dim' must be even/);
    expect(() => inferOp('rope', x, { theta: 1e4, scaling: 'yarn' })).toThrow(/attribute 'scaling': expected one of "none", "llama3", "longrope"/);
    expect(() => inferOp('rope', x, { theta: 1e4, scaling: 'llama3', factor: 8 })).toThrow(/llama3 scaling needs attribute 'original_max_positions'/);
    expect(() => inferOp('rope', x, { theta: 1e4, scaling: 'longrope', original_max_positions: 32, short_factor: [1, 1], long_factor: [1, 1] }))
      .toThrow(/attribute 'short_factor' needs 8 values \(one per frequency\), got 2/);
  });
});
