// Unary activations, binary ops with numpy broadcasting, cast.
import { type DType, sym } from '../../../ir/index.js';
import type { OpCase, OpCases } from '../case.js';
import { type Draw, randomInts, randomTensor, size } from '../draw.js';

const S = sym('S');
const FLOATS: readonly DType[] = ['f32', 'f32', 'f16', 'bf16'];

/** A rank 1–3 shape of odd sizes and 1s. */
function shape(d: Draw): number[] {
  return Array.from({ length: d.int(1, 3) }, () => size(d));
}

/**
 * A unary op over inputs in ±scale (the range where the function bends), in every float dtype,
 * its leading dim sometimes symbolic; one case per attribute set.
 */
export function unaryCases(op: string, variants: readonly Record<string, number | string>[], scale: number): OpCases {
  return {
    op,
    draw: (d) => variants.map((attrs) => {
      const s = shape(d), dtype = d.pick(FLOATS), symbolic = d.bool();
      const t = randomTensor(dtype, s, d.seed(), scale);
      return { label: `${op}${JSON.stringify(attrs)} ${dtype}[${s}]${symbolic ? ' (S)' : ''}`, op, operands: [{ t, shape: symbolic ? [S, ...s.slice(1)] : undefined }], attrs };
    }),
  };
}

/** A binary op: the other operand drops leading axes or has 1s where this one does not (either side), f16/bf16 right sides. */
export function binaryCases(op: string): OpCases {
  return {
    op,
    draw: (d) => {
      const full = shape(d);
      const drop = d.int(0, full.length - 1);
      const part = full.slice(drop).map((n) => (d.bool() ? 1 : n));
      const swap = d.bool();
      const [sa, sb] = swap ? [part, full] : [full, part];
      const seed = d.seed();
      const a = randomTensor('f32', sa, seed, 2), b = randomTensor(d.pick(FLOATS), sb, seed + 1, 2);
      // Only a full-rank operand's leading dim may be symbolic (the other may broadcast it).
      const symbolic = d.bool() && full[0] !== 1;
      const symShape = (s: readonly number[]) => (symbolic && s.length === full.length && s[0] === full[0] ? [S, ...s.slice(1)] : undefined);
      const c: OpCase = { label: `${op} f32[${sa}] ${b.dtype}[${sb}]${symbolic ? ' (S)' : ''}`, op, operands: [{ t: a, shape: symShape(sa) }, { t: b, shape: symShape(sb) }] };
      return [c];
    },
  };
}

export const castCases: OpCases = {
  op: 'cast',
  draw: (d) => {
    const s = shape(d), seed = d.seed();
    return [
      { label: `cast f32→i32 [${s}]`, op: 'cast', operands: [{ t: randomTensor('f32', s, seed, 1000) }], attrs: { dtype: 'i32' } },
      { label: `cast i32→f32 [${s}]`, op: 'cast', operands: [{ t: randomInts(s, seed, -(2 ** 30), 2 ** 30) }], attrs: { dtype: 'f32' } },
      { label: `cast f16→f32 [${s}]`, op: 'cast', operands: [{ t: randomTensor('f16', s, seed) }], attrs: { dtype: 'f32' } },
      { label: `cast i32→i32 [${s}]`, op: 'cast', operands: [{ t: randomInts(s, seed, -1000, 1000) }], attrs: { dtype: 'i32' } },
    ];
  },
};

export const elementwiseCases: readonly OpCases[] = [
  unaryCases('silu', [{}], 8),
  unaryCases('gelu', [{}, { approximate: 'tanh' }], 8),
  unaryCases('tanh', [{}], 4),
  unaryCases('sigmoid', [{}], 10),
  unaryCases('exp', [{}], 12),
  unaryCases('relu', [{}], 1),
  unaryCases('neg', [{}], 1),
  unaryCases('softcap', [{ cap: 30 }], 100),
  unaryCases('scale', [{ factor: -0.37 }], 3),
  binaryCases('add'),
  binaryCases('sub'),
  binaryCases('mul'),
  binaryCases('div'),
  castCases,
];
