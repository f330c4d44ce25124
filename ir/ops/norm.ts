// Normalizations over the last axis.
import { registerOp } from '../op.js';
import { numel } from '../tensor.js';
import { typeToString } from '../types.js';
import { expectDim, expectFloat, expectRank, f32Type, fail, floats, lastDim, outF32 } from './util.js';

registerOp({
  name: 'rms_norm',
  summary: 'x · rsqrt(mean(x²) + eps) · (offset + w); offset 1 is the Gemma (1+w) form',
  operands: ['x', 'w'],
  attrs: {
    eps: { type: 'float', default: 1e-6 },
    offset: { type: 'float', default: 0, doc: '1 for Gemma, whose weight is stored as w-1' },
  },
  infer([x, w]) {
    expectFloat(x, 'x');
    expectRank(w, 'w', [1]);
    expectDim(w.shape[0], lastDim(x), `w's length must equal x's last dim`);
    return [f32Type(x.shape)];
  },
  evaluate([x, w], a) {
    const d = w.shape[0];
    const rows = numel(x.shape) / d;
    const xs = floats(x), ws = floats(w);
    const eps = a.eps as number, offset = a.offset as number;
    const out = new Float32Array(xs.length);
    for (let r = 0; r < rows; r++) {
      let ss = 0;
      for (let i = 0; i < d; i++) ss += xs[r * d + i] * xs[r * d + i];
      const inv = 1 / Math.sqrt(ss / d + eps);
      for (let i = 0; i < d; i++) out[r * d + i] = xs[r * d + i] * inv * (offset + ws[i]);
    }
    return [outF32(x.shape, out)];
  },
});

registerOp({
  name: 'layer_norm',
  summary: '(x − mean) / sqrt(var + eps) · w + b over the last axis, biased variance (torch LayerNorm)',
  operands: ['x', 'w', 'b?'],
  attrs: { eps: { type: 'float', default: 1e-5 } },
  infer([x, w, b]) {
    expectFloat(x, 'x');
    expectRank(w, 'w', [1]);
    expectDim(w.shape[0], lastDim(x), `w's length must equal x's last dim`);
    if (b) {
      expectRank(b, 'b', [1]);
      expectDim(b.shape[0], lastDim(x), `b's length must equal x's last dim`);
    }
    return [f32Type(x.shape)];
  },
  evaluate([x, w, b], a) {
    const d = w.shape[0];
    const rows = numel(x.shape) / d;
    const xs = floats(x), ws = floats(w), bs = b ? floats(b) : undefined;
    const eps = a.eps as number;
    const out = new Float32Array(xs.length);
    for (let r = 0; r < rows; r++) {
      const row = xs.subarray(r * d, (r + 1) * d);
      let sum = 0;
      for (const v of row) sum += v;
      const mean = sum / d;
      // Two passes (mean, then squared deviations) rather than E[x²] − mean², which cancels.
      let ss = 0;
      for (const v of row) ss += (v - mean) * (v - mean);
      const inv = 1 / Math.sqrt(ss / d + eps);
      for (let i = 0; i < d; i++) out[r * d + i] = (row[i] - mean) * inv * ws[i] + (bs ? bs[i] : 0);
    }
    return [outF32(x.shape, out)];
  },
});

registerOp({
  name: 'l2_normalize',
  summary: 'x / max(‖x‖₂, eps) over the last axis (torch F.normalize, sentence-transformers)',
  operands: ['x'],
  attrs: { eps: { type: 'float', default: 1e-12 } },
  infer([x]) {
    expectFloat(x, 'x');
    if (x.shape.length < 1) fail(`x must have rank ≥ 1, got ${typeToString(x)}`);
    return [f32Type(x.shape)];
  },
  evaluate([x], a) {
    const d = x.shape[x.shape.length - 1];
    const xs = floats(x);
    const out = new Float32Array(xs.length);
    const rows = d === 0 ? 0 : xs.length / d;
    for (let r = 0; r < rows; r++) {
      let ss = 0;
      for (let i = 0; i < d; i++) ss += xs[r * d + i] * xs[r * d + i];
      const denom = Math.max(Math.sqrt(ss), a.eps as number);
      for (let i = 0; i < d; i++) out[r * d + i] = xs[r * d + i] / denom;
    }
    return [outF32(x.shape, out)];
  },
});
