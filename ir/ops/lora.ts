// matmul_lora: a projection with LoRA adapters applied at run time instead of merged:
// y = x · wᵀ + Σ_j scales[slot_j] · factor_j · (x · a_jᵀ) · b_jᵀ (+ bias), where the adapters'
// factors are stacked — a [R, k] holds each adapter's A rows one block after another, b [n, R] its
// B columns — and `ranks`, `slots`, `factors` say which block is which adapter. `scales` [N] holds
// one scale per loaded adapter (0: off), a small tensor the runtime can rewrite between requests,
// so switching adapters needs neither recompiling nor touching w. `scales` [rows, N] gives each
// row of x (rows = x's leading dims) its own scales: a batched step whose rows belong to sequences
// with different adapters. A block whose scale is 0 adds exactly nothing (not 0·∞), which lets the
// kernels skip it. The base weight stays any storage type (quantized too); the factors are float.
import { registerOp } from '../op.js';
import { dimEquals, dimProduct, dimToString } from '../dim.js';
import { numel } from '../tensor.js';
import { typeToString } from '../types.js';
import { expectDim, expectFloat, expectRank, f32Type, fail, floats, lastDim, outF32 } from './util.js';

registerOp({
  name: 'matmul_lora',
  summary: 'y[..., n] = Σ_k x[..., k]·w[n, k] + Σ_j scales[(row,) slot_j]·factor_j·(x·a_jᵀ)·b_jᵀ (+ bias): LoRA adapters applied at run time, scales shared or per row',
  operands: ['x', 'w', 'a', 'b', 'scales', 'bias?'],
  attrs: {
    ranks: { type: 'ints', doc: 'the rank of each stacked adapter block (rows of a, columns of b)' },
    slots: { type: 'ints', doc: 'for each block, its adapter: the index into scales (its last axis)' },
    factors: { type: 'floats', doc: 'for each block, alpha/r (or alpha/√r)' },
  },
  projection: { weight: 1, layout: 'out_in', epilogue: false, normFoldable: false },
  infer([x, w, a, b, scales, bias], attrs) {
    expectFloat(x, 'x');
    expectRank(w, 'w', [2]);
    expectRank(a, 'a', [2]);
    expectRank(b, 'b', [2]);
    expectRank(scales, 'scales', [1, 2]);
    expectFloat(a, 'a');
    expectFloat(b, 'b');
    expectFloat(scales, 'scales');
    if (x.shape.length < 1) fail(`x must have rank ≥ 1, got ${typeToString(x)}`);
    expectDim(lastDim(x), w.shape[1], `x's last dim must equal w's in-features (w is ${typeToString(w)})`);
    expectDim(a.shape[1], w.shape[1], `a's columns must equal w's in-features (a is ${typeToString(a)}, w ${typeToString(w)})`);
    expectDim(b.shape[0], w.shape[0], `b's rows must equal w's out-features (b is ${typeToString(b)}, w ${typeToString(w)})`);
    expectDim(b.shape[1], a.shape[0], `b's columns must equal a's rows, the stacked rank (a is ${typeToString(a)}, b ${typeToString(b)})`);
    const ranks = attrs.ranks as number[], slots = attrs.slots as number[], factors = attrs.factors as number[];
    if (slots.length !== ranks.length || factors.length !== ranks.length) fail(`ranks, slots and factors must have one entry per block, got ${ranks.length}, ${slots.length} and ${factors.length}`);
    if (ranks.some((r) => !Number.isInteger(r) || r < 1)) fail(`ranks must be whole numbers ≥ 1, got [${ranks.join(', ')}]`);
    expectDim(a.shape[0], ranks.reduce((s, r) => s + r, 0), `a's rows must be the sum of ranks [${ranks.join(', ')}]`);
    const rows = dimProduct(x.shape.slice(0, -1));
    if (scales.shape.length === 2 && !dimEquals(scales.shape[0], rows)) fail(`per-row scales must have one row per row of x (${dimToString(rows)}), got ${typeToString(scales)}`);
    const n = scales.shape[scales.shape.length - 1];
    if (slots.some((s) => !Number.isInteger(s) || s < 0 || (typeof n === 'number' && s >= n))) fail(`slots must index scales (length ${String(n)}), got [${slots.join(', ')}]`);
    if (bias) {
      expectRank(bias, 'bias', [1]);
      expectDim(bias.shape[0], w.shape[0], `bias length must equal w's out-features`);
    }
    return [f32Type([...x.shape.slice(0, -1), w.shape[0]])];
  },
  evaluate([x, w, a, b, scales, bias], attrs) {
    const [n, k] = w.shape;
    const R = a.shape[0];
    const rows = numel(x.shape.slice(0, -1));
    const xs = floats(x), ws = floats(w), as = floats(a), bs = floats(b), ss = floats(scales), biases = bias ? floats(bias) : undefined;
    const ranks = attrs.ranks as number[], slots = attrs.slots as number[], factors = attrs.factors as number[];
    // Shared scales: every row reads the first (only) row of them.
    const perRow = scales.shape.length === 2, N = scales.shape[scales.shape.length - 1];
    // Each rank row's multiplier for row r: its adapter's scale times its block's factor.
    const multipliers = (r: number) => {
      const m = new Float64Array(R);
      let at = 0;
      ranks.forEach((rank, j) => { for (let q = 0; q < rank; q++) m[at++] = ss[(perRow ? r * N : 0) + slots[j]] * factors[j]; });
      return m;
    };
    const out = new Float32Array(rows * n);
    const t = new Float64Array(R);
    for (let r = 0; r < rows; r++) {
      const m = multipliers(r);
      for (let q = 0; q < R; q++) {
        let acc = 0;
        if (m[q] !== 0) for (let i = 0; i < k; i++) acc += xs[r * k + i] * as[q * k + i];
        t[q] = acc * m[q];
      }
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let i = 0; i < k; i++) acc += xs[r * k + i] * ws[j * k + i];
        for (let q = 0; q < R; q++) acc += t[q] * bs[j * R + q];
        out[r * n + j] = acc + (biases ? biases[j] : 0);
      }
    }
    return [outF32([...x.shape.slice(0, -1), n], out)];
  },
});
