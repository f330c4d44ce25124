// Error bounds for products with super-block weights (K-quants, IQ4_XS), shared by the wasm and
// WGSL kernel tests. Kernels of these types sum a block's two parts apart, x = A − B with A the
// part scaled by d (d·sc_j·q) and B the sub-block mins (dmin·m_j): their f32 roundings are
// relative to Σ|x|·(|A| + |B|), which can exceed Σ|x·w| when the two parts cancel.
import { dtypeInfo, fieldOffset } from '../../ir/dtype.js';
import { type HostTensor, tensor, toF32 } from '../../ir/index.js';

/** The weights split as w = A − B: A dequantized with every block's min scale zeroed. */
export function weightParts(w: HostTensor): { a: Float32Array; b: Float32Array } {
  const wf = toF32(w);
  const info = dtypeInfo(w.dtype);
  if (!info.layout.some((f) => f.name === 'dmin')) return { a: wf, b: new Float32Array(wf.length) };
  const bytes = Uint8Array.from(w.data as Uint8Array);
  const at = fieldOffset(w.dtype, 'dmin');
  for (let o = 0; o < bytes.length; o += info.blockBytes) bytes[o + at] = bytes[o + at + 1] = 0;
  const a = toF32(tensor(w.dtype, w.shape, bytes));
  return { a, b: a.map((v, i) => v - wf[i]) };
}

/**
 * Checks every element [r, j] of x[rows, k] · w[n, k]ᵀ against the reference:
 * |got − want| ≤ act(r, j) + rel · Σ_i |x_i|·(|A_i| + |B_i|) + u·|want|, where `act` is the
 * activation rounding's share (zero for kernels that use x as it is) and `rel` the kernel's
 * relative f32 rounding. Returns a message for the first element outside it.
 */
/** The share of the bound an activation rounding adds for element [r, j] (x: [rows, k], w: [n, k]). */
export type ActShare = (xs: Float32Array, ws: Float32Array, r: number, j: number, k: number) => number;

export function checkProduct(got: HostTensor, want: HostTensor, x: HostTensor, w: HostTensor, rel: number, act?: ActShare): string | undefined {
  const [n, k] = w.shape;
  const xs = toF32(x), ws = toF32(w), { a, b } = weightParts(w);
  const g = got.data as Float32Array, v = want.data as Float32Array;
  for (let e = 0; e < v.length; e++) {
    const r = Math.floor(e / n), j = e % n;
    let mag = 0;
    for (let i = 0; i < k; i++) mag += Math.abs(xs[r * k + i]) * (Math.abs(a[j * k + i]) + Math.abs(b[j * k + i]));
    const bound = (act?.(xs, ws, r, j, k) ?? 0) + rel * mag + 2 ** -24 * Math.abs(v[e]) + 1e-30;
    const d = Math.abs(g[e] - v[e]);
    if (!(d <= bound)) return `[${r}, ${j}]: got ${g[e]}, want ${v[e]} (|Δ| ${d.toExponential(2)} > bound ${bound.toExponential(2)}, K = ${k}, w ${w.dtype})`;
  }
  return undefined;
}

/**
 * The activation rounding's share for kernels that quantize each `block`-element run of an
 * activation row to 8 bits, d_x = max|x|/127: |x_i − x̂_i| ≤ d_x/2 (×1.002: x·(127/max) rounded in
 * f32 may land one step further on a tie), so Σ_blocks d_x/2·1.002·Σ_{i∈block} |w_i|.
 */
export function activationRounding(block: number): ActShare {
  return (xs, ws, r, j, k) => {
    let sum = 0;
    for (let b0 = 0; b0 < k; b0 += block) {
      let m = 0, wsum = 0;
      for (let i = b0; i < Math.min(k, b0 + block); i++) {
        m = Math.max(m, Math.abs(xs[r * k + i]));
        wsum += Math.abs(ws[j * k + i]);
      }
      sum += (m / 127 / 2) * 1.002 * wsum;
    }
    return sum;
  };
}
