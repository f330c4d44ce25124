// matmul_lora (ir/ops/lora.ts): a projection over any weight dtype with stacked LoRA blocks — one
// or several adapters, ranks around the kernels' 4-wide steps, scales 0 and negative included,
// f32 or 16-bit factors, optional bias, GEMV and GEMM row counts, symbolic rows; scales shared by
// every row or per row (a batched step's sequences, some rows with every adapter off).
import { sym, tensor } from '../../../ir/index.js';
import type { OpCases } from '../case.js';
import { randomTensor, size } from '../draw.js';
import { isQuantized, QUANTIZED_MIN_COLUMNS, QUANTIZED_NMSE, reductionSize, WEIGHT_DTYPES } from './matmul.js';

const S = sym('S');
/** Adapters loaded (entries of scales); blocks pick theirs among them. */
const SLOTS = 3;

export const loraCases: readonly OpCases[] = [
  {
    op: 'matmul_lora',
    draw: (d) => {
      const dtype = d.pick(WEIGHT_DTYPES), k = reductionSize(d);
      const n = Math.max(d.pick([size(d, 80), 8, 9, 16, 21, 100]), isQuantized(dtype) ? QUANTIZED_MIN_COLUMNS : 1);
      const r = d.pick([1, 1, size(d, 40)]), symbolic = d.bool(), bias = d.bool(), seed = d.seed();
      const ranks = [...Array(d.pick([1, 1, 2, 3])).keys()].map(() => d.pick([1, 3, 4, 5, 8, 16]));
      const factorType = d.pick(['f32', 'f32', 'f16', 'bf16'] as const);
      const R = ranks.reduce((s, q) => s + q, 0);
      const perRow = d.bool();
      const drawScales = () => [...Array(SLOTS).keys()].map(() => d.pick([0, 1, -1, 0.5, -1.75]));
      // Per row: some rows with every adapter off, as a batched step's sequences without any.
      const scales = perRow ? [...Array(r).keys()].flatMap(() => (d.bool() ? drawScales() : Array<number>(SLOTS).fill(0))) : drawScales();
      const operands = [
        { t: randomTensor('f32', [r, k], seed, 1.5), shape: symbolic ? [S, k] : undefined },
        { t: randomTensor(dtype, [n, k], seed + 1, 0.5) },
        { t: randomTensor(factorType, [R, k], seed + 2, 0.5) },
        { t: randomTensor(factorType, [n, R], seed + 3, 0.5) },
        perRow ? { t: tensor('f32', [r, SLOTS], Float32Array.from(scales)), shape: symbolic ? [S, SLOTS] : undefined } : { t: tensor('f32', [SLOTS], Float32Array.from(scales)) },
        ...(bias ? [{ t: randomTensor('f32', [n], seed + 5) }] : []),
      ];
      const attrs = { ranks, slots: ranks.map(() => d.pick([0, 1, 2])), factors: ranks.map((q) => 2 / q) };
      return [{
        label: `matmul_lora x[${r}, ${k}] w:${dtype}[${n}, ${k}] ${factorType} ranks [${ranks}] slots [${attrs.slots}] scales${perRow ? ` per row [${r}, ${SLOTS}]` : ''} [${scales}]${bias ? ' +bias' : ''}${symbolic ? ' (S)' : ''}`,
        op: 'matmul_lora', operands, attrs,
        ...(isQuantized(dtype) ? { maxNmse: QUANTIZED_NMSE } : {}),
      }];
    },
  },
];
