// matmul over every weight dtype: GEMV and GEMM sizes, K around the kernels' vector steps and
// the 32-element quantization blocks, optional bias, batched and symbolic rows.
import { DTYPES, type DType, dtypeInfo, isQuantized, sym } from '../../../ir/index.js';
import type { OpCases } from '../case.js';
import { type Draw, randomTensor, size } from '../draw.js';

const S = sym('S');
/** Every dtype a weight may be stored in (the dtype table's floats and block-quantized types). */
export const WEIGHT_DTYPES: readonly DType[] = DTYPES.filter((t) => dtypeInfo(t).kind !== 'int');

/**
 * The threshold for products with quantized weights, llama.cpp's for its quantized products. The
 * CPU kernels round each 32-block of activations to 8 bits (|Δx| ≤ max|x|/254): about 2e-5 on a
 * plain product, up to 2e-4 where an epilogue subtracts two products (acc0 − acc1). The tighter
 * per-element bound of that rounding is checked in test/codegen/wasm/{matmul,fused}.test.ts.
 */
export const QUANTIZED_NMSE = 5e-4;

/**
 * The fewest output columns a quantized product is drawn with. The NMSE of a handful of values is
 * their relative error, and 8-bit activations leave one small dot product (one that cancels) with
 * any relative error at all; over 16 columns the metric measures the rounding, not the draw.
 */
export const QUANTIZED_MIN_COLUMNS = 16;

export { isQuantized };

/** A reduction length: odd, 1, around 8-element steps and 32-element blocks. */
export function reductionSize(d: Draw): number {
  return d.pick([size(d, 80), 1, 4, 31, 32, 33, 44, 47, 64, 96, 100]);
}

export const matmulCases: readonly OpCases[] = [
  {
    op: 'matmul',
    draw: (d) => {
      const dtype = d.pick(WEIGHT_DTYPES), k = reductionSize(d);
      const n = Math.max(d.pick([size(d, 80), 8, 9, 16, 21, 100]), isQuantized(dtype) ? QUANTIZED_MIN_COLUMNS : 1);
      const r = d.pick([1, 1, size(d, 40)]), lead = d.bool() && r % 2 === 0, symbolic = d.bool(), bias = d.bool(), seed = d.seed();
      const xShape = lead ? [2, r / 2, k] : [r, k];
      const operands = [
        { t: randomTensor('f32', xShape, seed, 1.5), shape: symbolic ? [...xShape.slice(0, -2), S, k] : undefined },
        { t: randomTensor(dtype, [n, k], seed + 1, 0.5) },
        ...(bias ? [{ t: randomTensor('f32', [n], seed + 2) }] : []),
      ];
      return [{
        label: `matmul x[${xShape}] w:${dtype}[${n}, ${k}]${bias ? ' +bias' : ''}${symbolic ? ' (S)' : ''}`, op: 'matmul', operands,
        ...(isQuantized(dtype) ? { maxNmse: QUANTIZED_NMSE } : {}),
      }];
    },
  },
];
