// Reductions: softmax along an axis, argmax over the last axis, and masked mean pooling.
import { registerOp } from '../op.js';
import { tensor } from '../tensor.js';
import { typeToString } from '../types.js';
import { expectDim, expectDType, expectFloat, expectRank, f32Type, fail, floats, normAxis, outF32 } from './util.js';

registerOp({
  name: 'softmax',
  summary: 'exp(x − max) / Σ exp(x − max) along axis (default the last), in f64',
  operands: ['x'],
  attrs: { axis: { type: 'int', default: -1 } },
  infer([x], a) {
    expectFloat(x, 'x');
    normAxis(a.axis as number, x.shape.length);
    return [f32Type(x.shape)];
  },
  evaluate([x], a) {
    const axis = normAxis(a.axis as number, x.shape.length);
    const len = x.shape[axis];
    // The tensor is [outer, len, inner]; each (outer, inner) pair is one softmax row.
    const inner = x.shape.slice(axis + 1).reduce((p, d) => p * d, 1);
    const outer = x.shape.slice(0, axis).reduce((p, d) => p * d, 1);
    const xs = floats(x);
    const out = new Float32Array(xs.length);
    const e = new Float64Array(len);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        const at = (k: number) => (o * len + k) * inner + i;
        let max = -Infinity;
        for (let k = 0; k < len; k++) max = Math.max(max, xs[at(k)]);
        let sum = 0;
        for (let k = 0; k < len; k++) sum += (e[k] = Math.exp(xs[at(k)] - max));
        for (let k = 0; k < len; k++) out[at(k)] = e[k] / sum;
      }
    }
    return [outF32(x.shape, out)];
  },
});

registerOp({
  name: 'argmax',
  summary: 'index of the largest element along the last axis (the first one on ties), i32',
  operands: ['x'],
  attrs: {},
  infer([x]) {
    expectFloat(x, 'x');
    if (x.shape.length < 1) fail(`x must have rank ≥ 1, got ${typeToString(x)}`);
    return [{ dtype: 'i32', shape: x.shape.slice(0, -1) }];
  },
  evaluate([x]) {
    const d = x.shape[x.shape.length - 1];
    if (d === 0) throw new Error('argmax over an empty axis');
    const xs = floats(x);
    const rows = xs.length / d;
    const out = new Int32Array(rows);
    for (let r = 0; r < rows; r++) {
      let best = 0;
      // Strict > keeps the first maximum.
      for (let i = 1; i < d; i++) if (xs[r * d + i] > xs[r * d + best]) best = i;
      out[r] = best;
    }
    return [tensor('i32', x.shape.slice(0, -1), out)];
  },
});

registerOp({
  name: 'mean_pool',
  summary: 'Σ_s h[b, s, :]·mask[b, s] / max(Σ_s mask[b, s], 1e-9) (sentence-transformers mean pooling)',
  operands: ['h', 'mask'],
  attrs: {},
  infer([h, mask]) {
    expectFloat(h, 'h');
    expectRank(h, 'h', [3]);
    expectRank(mask, 'mask', [2]);
    expectDType(mask, 'mask', ['i32', 'f32']);
    expectDim(mask.shape[0], h.shape[0], `mask's batch dim must equal h's`);
    expectDim(mask.shape[1], h.shape[1], `mask's sequence dim must equal h's`);
    return [f32Type([h.shape[0], h.shape[2]])];
  },
  evaluate([h, mask]) {
    const [b, s, d] = h.shape;
    const hs = floats(h), ms = floats(mask);
    const out = new Float32Array(b * d);
    const acc = new Float64Array(d);
    for (let i = 0; i < b; i++) {
      acc.fill(0);
      let count = 0;
      for (let t = 0; t < s; t++) {
        const m = ms[i * s + t];
        count += m;
        for (let k = 0; k < d; k++) acc[k] += hs[(i * s + t) * d + k] * m;
      }
      // The clamp only matters for an all-padding row, which then pools to zeros.
      const denom = Math.max(count, 1e-9);
      for (let k = 0; k < d; k++) out[i * d + k] = acc[k] / denom;
    }
    return [outF32([b, d], out)];
  },
});
