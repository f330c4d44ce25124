// matmul: y = x · wᵀ (+ bias), weights stored [out, in] as in nn.Linear; any storage type.
import { registerOp } from '../op.js';
import { numel } from '../tensor.js';
import { typeToString } from '../types.js';
import { expectDim, expectFloat, expectRank, f32Type, fail, floats, lastDim, outF32 } from './util.js';

registerOp({
  name: 'matmul',
  summary: 'y[..., n] = Σ_k x[..., k] · w[n, k] (+ bias[n]); w may be any float or block-quantized dtype',
  operands: ['x', 'w', 'bias?'],
  attrs: {},
  projection: { weight: 1, layout: 'out_in', epilogue: true, normFoldable: true },
  infer([x, w, bias]) {
    expectFloat(x, 'x');
    expectRank(w, 'w', [2]);
    if (x.shape.length < 1) fail(`x must have rank ≥ 1, got ${typeToString(x)}`);
    expectDim(lastDim(x), w.shape[1], `x's last dim must equal w's in-features (w is ${typeToString(w)})`);
    if (bias) {
      expectRank(bias, 'bias', [1]);
      expectDim(bias.shape[0], w.shape[0], `bias length must equal w's out-features`);
    }
    return [f32Type([...x.shape.slice(0, -1), w.shape[0]])];
  },
  evaluate([x, w, bias]) {
    const [n, k] = w.shape;
    const rows = numel(x.shape.slice(0, -1)); // not numel / k: k may be 0
    const xs = floats(x), ws = floats(w), bs = bias ? floats(bias) : undefined;
    const out = new Float32Array(rows * n);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let i = 0; i < k; i++) acc += xs[r * k + i] * ws[j * k + i];
        out[r * n + j] = acc + (bs ? bs[j] : 0);
      }
    }
    return [outF32([...x.shape.slice(0, -1), n], out)];
  },
});
