// The integer dot products of the quantized matmul kernels (matmul-quant.ts, the WASM_QUANT rows of
// loads.ts and quant-super.ts), as module helpers whose body depends on the engine's features while
// the kernels that call them stay the same source. Both bodies compute the same integers exactly.
//
// _t_dot8(a, u) is the one primitive: an i16x8 whose lane i is a[2i]·u[2i] + a[2i+1]·u[2i+1], a
// signed bytes and u bytes in 0..127. Kernels arrange their operands so that the unsigned one never
// has its top bit set — nibbles, 6-bit quants, |x| of activations quantized to ±127 — because
// relaxed SIMD leaves i16x8.relaxed_dot_i8x16_i7x16_s implementation-defined there (x86's pmaddubsw
// reads it unsigned, Arm's sdot signed). A lane is then at most 2·128·127 = 32512 in magnitude: no
// saturation on any engine. With relaxed SIMD it is one instruction (pmaddubsw); without, the even
// and odd bytes are widened in place and multiplied as i16 (exact: each product ≤ 16256).
//
// i32x4.relaxed_dot_i8x16_i7x16_add_s would fold the widening add, but V8 11.3 (Node 20) returns
// twice the dot product and drops the addend (measured), so lanes are widened with
// i32x4.extadd_pairwise_i16x8_s, or with i32x4.dot_i16x8_s where a scale multiplies them anyway.
import type { WasmFeature } from './features.js';

/** A table lookup by indices all below 16: relaxed SIMD's swizzle is one pshufb, the exact one adds a saturating add. */
function lut16Body(features: readonly WasmFeature[]): string {
  return features.includes('relaxed-simd') ? 'return i8x16.relaxed_swizzle(table, i);' : 'return i8x16.swizzle(table, i);';
}

function dot8Body(features: readonly WasmFeature[]): string {
  if (features.includes('relaxed-simd')) return 'return i16x8.relaxed_dot_i8x16_i7x16_s(a, u);';
  return `const m = i16x8.splat(0xff);
  return i16x8.add(
    i16x8.mul(i16x8.shr_s(i16x8.shl(a, 8), 8), v128.and(u, m)),
    i16x8.mul(i16x8.shr_s(a, 8), i16x8.shr_u(u, 8)));`;
}

/** The module's integer-dot helpers for an engine with `features`. */
export function quantDotHelpers(features: readonly WasmFeature[]): string {
  return String.raw`
/** i16x8: lane i = a[2i]·u[2i] + a[2i+1]·u[2i+1], a signed bytes, every byte of u in 0..127. */
@inline function _t_dot8(a: v128, u: v128): v128 {
  ${dot8Body(features)}
}
/** Byte j: byte i[j] of table, for indices 0..15 (nibbles): the same bytes on every engine. */
@inline function _t_lut16(table: v128, i: v128): v128 {
  ${lut16Body(features)}
}
/**
 * An i32x4 whose lanes sum to Σ x_i·n_i over 32 elements: x signed bytes (0–15 in xlo, 16–31 in
 * xhi), n the nibbles of the 16 bytes qs (low nibbles elements 0–15, high 16–31). Pair sums are at
 * most 2·128·15, so the two halves add in i16 before one widening.
 */
@inline function _t_dot_q4(xlo: v128, xhi: v128, qs: v128): v128 {
  const m = i8x16.splat(0x0f);
  return i32x4.extadd_pairwise_i16x8_s(i16x8.add(_t_dot8(xlo, v128.and(qs, m)), _t_dot8(xhi, v128.and(i16x8.shr_u(qs, 4), m))));
}
/**
 * An i32x4 whose lanes sum to Σ w_i·x_i − Σ_{x_i<0} |x_i| over 32 elements: w signed bytes (wlo,
 * whi; −128 allowed), x activations given as |x| (alo, ahi, each ≤ 127) and their sign masks (slo,
 * shi: 0xff where x < 0). For x < 0 the weight's bits are flipped, ~w = −w − 1, which no w
 * overflows, so |x|·~w = x·w − |x|: the caller adds Σ_{x<0}|x| back (the activation record's).
 */
@inline function _t_dot_q8(wlo: v128, whi: v128, alo: v128, ahi: v128, slo: v128, shi: v128): v128 {
  const ones = i16x8.splat(1);
  return i32x4.add(
    i32x4.dot_i16x8_s(_t_dot8(v128.xor(wlo, slo), alo), ones),
    i32x4.dot_i16x8_s(_t_dot8(v128.xor(whi, shi), ahi), ones));
}
`;
}
