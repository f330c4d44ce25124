// Normalizations over the last axis.
import { registerOp } from '../op.js';
import { numel } from '../tensor.js';
import { expectDim, expectFloat, expectRank, f32Type, floats, lastDim, outF32 } from './util.js';

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
