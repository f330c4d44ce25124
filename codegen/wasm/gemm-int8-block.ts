// The micro-kernel of the integer GEMM (gemm-int8.ts) for the 32-element block types (one step per
// block: Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL): four consecutive weight rows × `rows` activation
// rows. Per block, the four weight rows are loaded and unpacked to bytes ONCE (Q4_0/Q4_1's nibbles
// split here, not inside every dot as _t_dot_q4 does for the GEMV; their sums folded in i16), then each activation row in
// turn meets all four: its 32 bytes (and, for signed weights, |x| and its sign masks) are live for
// one row only, so registers hold 4 rows of weights, one row's activations and `rows` accumulators.
// The per-block arithmetic is the GEMV's 4-column kernel (matmul-quant.ts) operation for operation:
// the same exact integer sums, folded across lanes in the same order, converted and scaled by the
// same d_w·d_x with the same multiply-add, so every output equals the tile loop's bit for bit.
import { fieldOffset, type QuantDType } from '../../ir/dtype.js';
import { ACT_NEGSUM, actBlockBytes, actRecordBytes, WASM_QUANT } from './loads.js';

/**
 * Four consecutive weight rows' f16 `field`s (rows `first`…`first` + 3, `rowBytes` apart, from the
 * block at `wq`) as an f32x4: each loaded straight into the high half of its 32-bit lane, then
 * converted by _t_h2f4hi_finite (readers refuse NaN/Inf scales, ir/quant/quant-codec.ts).
 */
export function scales4(dtype: QuantDType, rowBytes: number, first: number, field = 'd'): string {
  let v = 'i32x4.splat(0)';
  for (let c = 0; c < 4; c++) v = `v128.load16_lane(wq, ${v}, ${2 * c + 1}, ${(first + c) * rowBytes + fieldOffset(dtype, field)})`;
  return `_t_h2f4hi_finite(${v})`;
}

/** Types whose 16 bytes of nibbles (element j low, j + 16 high) the GEMV hands to _t_dot_q4 whole: split once here. */
const NIBBLES: Partial<Record<QuantDType, number>> = { q4_0: fieldOffset('q4_0', 'qs'), q4_1: fieldOffset('q4_1', 'qs') };

/** Lines unpacking weight row c of the block at `wq` + `off` into bytes wl{c} (elements 0–15), wh{c} (16–31). */
function unpackRow(dtype: QuantDType, c: number, off: number): string[] {
  const qs = NIBBLES[dtype];
  if (qs === undefined) return WASM_QUANT[dtype].weights(c, 'wq', off, 0);
  return [
    `const qs${c} = v128.load(wq, ${off + qs});`,
    `const wl${c} = v128.and(qs${c}, i8x16.splat(0x0f)), wh${c} = v128.and(i16x8.shr_u(qs${c}, 4), i8x16.splat(0x0f));`,
  ];
}

/**
 * An i32x4 of activation row r's four block dots [Σ0, Σ1, Σ2, Σ3] with weight rows 0–3, after
 * lines that define its parts. Nibbles (≤ 15) against |x| ≤ 127 leave i16 headroom: a dot8 lane is
 * at most 2·127·15 = 3810, a row's two halves 7620, so four of those lanes still fit in i16
 * (30480) and the four rows' i16 sums are folded across lanes before one widening pmaddwd (the
 * same integers as widening each row first, in fewer instructions). Other types widen each row's
 * sums first (the GEMV's dot), then fold in i32.
 */
function dotRows(dtype: QuantDType, r: number, xv: (r: number, i: number) => string): { lines: string[]; sum: string } {
  const C = [0, 1, 2, 3];
  if (NIBBLES[dtype] === undefined) {
    return {
      lines: C.flatMap((c) => WASM_QUANT[dtype].dot(r, c, xv, 0)),
      sum: `_t_ihsum4_join(_t_ihsum4_pair(s${r}0, s${r}1), _t_ihsum4_pair(s${r}2, s${r}3))`,
    };
  }
  const pair = (a: string, b: string) => `i16x8.add(v128.shuffle<i32>(${a}, ${b}, 0, 4, 1, 5), v128.shuffle<i32>(${a}, ${b}, 2, 6, 3, 7))`;
  const join = (a: string, b: string) => `i16x8.add(v128.shuffle<i32>(${a}, ${b}, 0, 1, 4, 5), v128.shuffle<i32>(${a}, ${b}, 2, 3, 6, 7))`;
  return {
    lines: [
      ...C.map((c) => `const h${r}${c} = i16x8.add(_t_dot8(${xv(r, 0)}, wl${c}), _t_dot8(${xv(r, 1)}, wh${c}));`),
      `const p${r}01 = ${pair(`h${r}0`, `h${r}1`)}, p${r}23 = ${pair(`h${r}2`, `h${r}3`)};`,
    ],
    sum: `i32x4.dot_i16x8_s(${join(`p${r}01`, `p${r}23`)}, i16x8.splat(1))`,
  };
}

/**
 * Lines of `rows` activation rows (pointers xr{r}, sr{r}) × four weight rows (wr0, then `rowBytes`
 * apart) over `nb` blocks, leaving o{r}: an f32x4 of the four outputs of activation row r.
 */
export function blockMicroKernel(dtype: QuantDType, nb: number, blockBytes: number, rows: number): string[] {
  const kernels = WASM_QUANT[dtype];
  if (kernels.units !== 1) throw new Error(`internal error: ${dtype} is walked in ${kernels.units} steps per block, not one`);
  const { zero, min } = kernels;
  const rowBytes = nb * blockBytes;
  const R = [...Array(rows).keys()], C = [0, 1, 2, 3];
  const xv = (r: number, i: number) => `v128.load(xq${r}, ${i * 16})`;
  const lines: string[] = [];
  for (const r of R) lines.push(`let a${r} = f32x4.splat(0.0);`);
  if (zero) for (const r of R) lines.push(`let corr${r} = f32x4.splat(0.0);`);
  if (min) for (const r of R) lines.push(`let mins${r} = f32x4.splat(0.0);`);
  lines.push('let wo: usize = 0, xo: usize = 0, so: usize = 0;', `for (let b = 0; b < ${nb}; b++) {`, 'const wq = wr0 + wo;',
    `const dw = ${scales4(dtype, rowBytes, 0)};`);
  if (min) lines.push(`const mw = ${scales4(dtype, rowBytes, 0, min)};`);
  for (const c of C) lines.push(...unpackRow(dtype, c, c * rowBytes));
  for (const r of R) {
    lines.push('{', `const xq${r} = xr${r} + xo, sq${r} = sr${r} + so;`, `const d${r} = f32x4.mul(dw, v128.load32_splat(sq${r}));`,
      ...(kernels.prepareX?.(r, xv, 0) ?? []));
    const dots = dotRows(dtype, r, xv);
    lines.push(...dots.lines);
    let sum = dots.sum;
    if (kernels.negativeSum) sum = `i32x4.add(${sum}, v128.load32_splat(sq${r}, ${ACT_NEGSUM}))`;
    lines.push(`a${r} = _t_madd(f32x4.convert_i32x4_s(${sum}), d${r}, a${r});`);
    if (zero) lines.push(`corr${r} = _t_madd(d${r}, f32x4.splat(load<f32>(sq${r}, 4)), corr${r});`);
    if (min) lines.push(`mins${r} = _t_madd(f32x4.mul(mw, f32x4.splat(load<f32>(sq${r}))), f32x4.splat(load<f32>(sq${r}, 4)), mins${r});`);
    lines.push('}');
  }
  lines.push(`wo += ${blockBytes}; xo += ${actBlockBytes(dtype)}; so += ${actRecordBytes(dtype)};`, '}');
  for (const r of R) {
    lines.push(`let o${r} = a${r};`);
    if (zero) lines.push(`o${r} = f32x4.sub(o${r}, f32x4.mul(corr${r}, f32x4.splat(${zero.toFixed(1)})));`);
    if (min) lines.push(`o${r} = f32x4.add(o${r}, mins${r});`);
  }
  return lines;
}
