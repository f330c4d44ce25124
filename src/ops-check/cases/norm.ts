// Row reductions: rms_norm (plain and Gemma's 1 + w), layer_norm (with and without bias, rows
// offset far from zero so a one-pass variance would cancel), l2_normalize, softmax on any axis.
import { type DType, sym } from '../../../ir/index.js';
import { F32_ACTIVATIONS_ON_WASM, type OpCases } from '../case.js';
import { type Draw, randomTensor, size } from '../draw.js';

const S = sym('S');
const FLOATS: readonly DType[] = ['f32', 'f32', 'f16', 'bf16'];

/** Rows of odd, 1 and long lengths, the row count sometimes symbolic. */
function rows(d: Draw): { s: number; n: number; symbolic: boolean } {
  return { s: size(d, 9), n: d.pick([size(d, 80), 1, 64, 333, 1030]), symbolic: d.bool() };
}

export const normCases: readonly OpCases[] = [
  {
    op: 'rms_norm',
    draw: (d) => {
      const { s, n, symbolic } = rows(d), dtype = d.pick(FLOATS), seed = d.seed();
      // eps and offset become WGSL constants: a few pairs keep the number of shaders down.
      const [offset, eps] = d.pick([[0, 1e-6], [1, 1e-6], [0, 0.5]]);
      return [{
        label: `rms_norm ${dtype}[${s}, ${n}] offset ${offset} eps ${eps}`, op: 'rms_norm', attrs: { eps, offset },
        ...(dtype === 'f32' ? {} : { skip: { wasm: F32_ACTIVATIONS_ON_WASM } }),
        operands: [{ t: randomTensor(dtype, [s, n], seed, 3), shape: symbolic ? [S, n] : undefined }, { t: randomTensor(dtype, [n], seed + 1) }],
      }];
    },
  },
  {
    op: 'layer_norm',
    draw: (d) => {
      const { s, n, symbolic } = rows(d), bias = d.bool(), seed = d.seed();
      const x = randomTensor('f32', [2, s, n], seed, 3);
      (x.data as Float32Array).forEach((v, i, a) => { a[i] = v + 40; });
      return [{
        label: `layer_norm [2, ${s}, ${n}]${bias ? ' +bias' : ''}`, op: 'layer_norm', attrs: { eps: bias ? 1e-5 : 1e-12 },
        // One element per row: x − mean is pure rounding, divided by √eps.
        ...(n === 1 ? { maxNmse: 1e-6 } : {}),
        operands: [
          { t: x, shape: symbolic ? [2, S, n] : undefined },
          { t: randomTensor(d.pick(FLOATS), [n], seed + 1) },
          ...(bias ? [{ t: randomTensor('f32', [n], seed + 2) }] : []),
        ],
      }];
    },
  },
  {
    op: 'l2_normalize',
    draw: (d) => {
      // eps 0.5 puts some rows below it (their norm is clamped to eps).
      const { s, n, symbolic } = rows(d), eps = d.pick([1e-12, 0.5]);
      return [{ label: `l2_normalize [${s}, ${n}] eps ${eps}`, op: 'l2_normalize', attrs: { eps }, operands: [{ t: randomTensor('f32', [s, n], d.seed(), 0.3), shape: symbolic ? [S, n] : undefined }] }];
    },
  },
  {
    op: 'softmax',
    draw: (d) => {
      const { s, n, symbolic } = rows(d), axis = d.pick([-1, -1, 0, 1, 2]);
      const shape = [s, 3, n];
      return [{ label: `softmax [${shape}] axis ${axis}`, op: 'softmax', attrs: { axis }, operands: [{ t: randomTensor('f32', shape, d.seed(), 8), shape: symbolic ? [S, 3, n] : undefined }] }];
    },
  },
];
