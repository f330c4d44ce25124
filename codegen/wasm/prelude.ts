// AssemblyScript helpers shared by every kernel of a module: work splitting, half-precision
// conversion, horizontal sums, and vector math (exp, tanh, erfc) accurate to a few f32 ulps, since
// the kernels are held to 1e-4 of the f64 reference. All are @inline: they cost nothing unused.
import { CTRL } from './abi.js';

export const PRELUDE = String.raw`
// ---- work splitting -------------------------------------------------------------------------
/** Start of part \`part\` of \`parts\` equal shares of [0, total). */
@inline function _t_split(total: i32, part: i32, parts: i32): i32 {
  return <i32>((<i64>total * <i64>part) / <i64>parts);
}

// ---- dynamic work sharing ----------------------------------------------------------------------
/**
 * The next chunk number of this launch from the i64 counter at ctr (a 'counter' binding): its
 * high word is the barrier generation it counts for, its low word the next chunk. Every thread
 * sees the same generation throughout a launch (it changes only at the barrier after it), so each
 * launch counts from 0 without anyone resetting the word.
 */
@inline function _t_claim(ctr: usize): i32 {
  const gen = <i64><u32>atomic.load<i32>(${CTRL.barrierGen});
  let w: i64, next: i64;
  do {
    w = atomic.load<i64>(ctr);
    next = (w >>> 32) == gen ? w & 0xffffffff : 0;
  } while (atomic.cmpxchg<i64>(ctr, w, (gen << 32) | (next + 1)) != w);
  return <i32>next;
}

/**
 * Guided self-scheduling over items [0, items): claims the next run of items from the counter at
 * ctr (its epoch as in _t_claim) and returns the run's first item, or items when none is left.
 * A run is 1/(2·nthreads) of the items left (a quarter at 2 threads; _t_guided_size), at least
 * minRun: a launch costs a few claims, each an atomic on a line every thread writes (16 equal
 * chunks per thread measured 3–4 % slower in decode), and still ends in short runs, so the
 * threads finish close together, and one the host deschedules for a while claims less.
 */
@inline function _t_claim_guided(ctr: usize, items: i32, nthreads: i32, minRun: i32): i32 {
  const gen = <i64><u32>atomic.load<i32>(${CTRL.barrierGen});
  let w: i64, first: i32;
  do {
    w = atomic.load<i64>(ctr);
    first = (w >>> 32) == gen ? <i32>(w & 0xffffffff) : 0;
    if (first >= items) return items;
  } while (atomic.cmpxchg<i64>(ctr, w, (gen << 32) | <i64>(first + _t_guided_size(first, items, nthreads, minRun))) != w);
  return first;
}
/** The length of the run _t_claim_guided hands out at first (even when minRun is even). */
@inline function _t_guided_size(first: i32, items: i32, nthreads: i32, minRun: i32): i32 {
  const share = (items - first + 2 * nthreads - 1) / (2 * nthreads);
  return max(minRun, (share + 1) & ~1);
}

// ---- errors reported by kernels (the runtime throws after the run) ---------------------------
function _t_error(code: i32, detail: i32): void {
  if (atomic.cmpxchg<i32>(${CTRL.error}, 0, code) == 0) atomic.store<i32>(${CTRL.errorDetail}, detail);
}

// ---- half precision --------------------------------------------------------------------------
// f16 → f32 by moving exponent and mantissa into place and scaling by 2^112, which rebiases the
// exponent and turns f16 subnormals (f32 subnormals after the shift) into exact normals.
// Infinities and NaNs (exponent 31) get the f32 all-ones exponent instead.
@inline function _t_h2f(h: u32): f32 {
  const em = h & 0x7fff;
  const sign = (h & 0x8000) << 16;
  if (em >= 0x7c00) return reinterpret<f32>(sign | 0x7f800000 | (em << 13));
  return reinterpret<f32>(reinterpret<u32>(reinterpret<f32>(em << 13) * 5.192296858534828e33) | sign);
}
/**
 * Four f16 values, one in the HIGH half of each u32 lane (the weight loads put them there with one
 * unpack), to f32x4: as _t_h2f, exponent and mantissa moved into place (>> 3) and scaled by 2^112,
 * the sign already in place.
 */
@inline function _t_h2f4hi(x: v128): v128 {
  const emHi = v128.and(x, i32x4.splat(0x7fff0000));
  const shifted = i32x4.shr_u(emHi, 3);
  const finite = f32x4.mul(shifted, f32x4.splat(5.192296858534828e33));
  const special = v128.or(shifted, i32x4.splat(0x7f800000));
  const sign = v128.and(x, i32x4.splat(0x80000000));
  return v128.or(v128.bitselect(special, finite, i32x4.ge_s(emHi, i32x4.splat(0x7c000000))), sign);
}
/**
 * _t_h2f4hi for finite values only (quantized weights' scales: readers refuse NaN/Inf ones), in
 * three instructions: an arithmetic shift moves exponent and mantissa into place with the sign
 * kept in bit 31 (the three copies of it below are cleared), and 2^112 rebiases as in _t_h2f.
 */
@inline function _t_h2f4hi_finite(x: v128): v128 {
  return f32x4.mul(v128.and(i32x4.shr_s(x, 3), i32x4.splat(0x8fffffff)), f32x4.splat(5.192296858534828e33));
}
/** Four f16 values, one in the low half of each u32 lane, to f32x4. */
@inline function _t_h2f4(h: v128): v128 { return _t_h2f4hi(i32x4.shl(h, 16)); }
@inline function _t_bf2f(h: u32): f32 { return reinterpret<f32>(h << 16); }

// ---- horizontal sums -------------------------------------------------------------------------
@inline function _t_hsum(v: v128): f32 {
  const s = f32x4.add(v, v128.shuffle<f32>(v, v, 2, 3, 0, 1));
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1);
}
@inline function _t_hmax(v: v128): f32 {
  const s = f32x4.max(v, v128.shuffle<f32>(v, v, 2, 3, 0, 1));
  return max(f32x4.extract_lane(s, 0), f32x4.extract_lane(s, 1));
}
/** [Σa, Σb, Σc, Σd] from four accumulators. */
@inline function _t_hsum4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = f32x4.add(v128.shuffle<f32>(a, b, 0, 4, 1, 5), v128.shuffle<f32>(a, b, 2, 6, 3, 7));
  const cd = f32x4.add(v128.shuffle<f32>(c, d, 0, 4, 1, 5), v128.shuffle<f32>(c, d, 2, 6, 3, 7));
  return f32x4.add(v128.shuffle<f32>(ab, cd, 0, 1, 4, 5), v128.shuffle<f32>(ab, cd, 2, 3, 6, 7));
}
// Lane pairs of two i32x4 sums folded together: [a0+a2, b0+b2, a1+a3, b1+b3]; two of these, passed
// to _t_ihsum4_join, give the four full sums [Σa, Σb, Σc, Σd] (the integer _t_hsum4 in two halves,
// so a kernel keeps only one partial live at a time).
@inline function _t_ihsum4_pair(a: v128, b: v128): v128 {
  return i32x4.add(v128.shuffle<i32>(a, b, 0, 4, 1, 5), v128.shuffle<i32>(a, b, 2, 6, 3, 7));
}
@inline function _t_ihsum4_join(ab: v128, cd: v128): v128 {
  return i32x4.add(v128.shuffle<i32>(ab, cd, 0, 1, 4, 5), v128.shuffle<i32>(ab, cd, 2, 3, 6, 7));
}
@inline function _t_ihsum(v: v128): i32 {
  const s = i32x4.add(v, v128.shuffle<i32>(v, v, 2, 3, 0, 1));
  return i32x4.extract_lane(s, 0) + i32x4.extract_lane(s, 1);
}

// ---- copies ------------------------------------------------------------------------------------
// memory.copy on a shared memory is a call into the engine (~0.5 µs each on V8): far more than
// moving a row of a few KiB, which layout kernels do hundreds of times a launch. Vector loop
// instead. Kernels copy between distinct tensors, or onto the same place (a result the memory
// plan aliased with its operand), never between partly overlapping ranges.
@inline function _t_copy(dst: usize, src: usize, n: usize): void {
  if (dst == src) return;
  let i: usize = 0;
  for (; i + 64 <= n; i += 64) {
    const a = v128.load(src + i), b = v128.load(src + i, 16), c = v128.load(src + i, 32), d = v128.load(src + i, 48);
    v128.store(dst + i, a); v128.store(dst + i, b, 16); v128.store(dst + i, c, 32); v128.store(dst + i, d, 48);
  }
  for (; i + 16 <= n; i += 16) v128.store(dst + i, v128.load(src + i));
  for (; i + 4 <= n; i += 4) store<u32>(dst + i, load<u32>(src + i));
  for (; i < n; i++) store<u8>(dst + i, load<u8>(src + i));
}

// ---- partial vectors -------------------------------------------------------------------------
/** The first n (1..4) f32 at p in lanes 0..n−1 and \`fill\` in the rest; reads nothing past them. */
@inline function _t_lanes(p: usize, n: i32, fill: f32): v128 {
  let v = f32x4.splat(fill);
  v = f32x4.replace_lane(v, 0, load<f32>(p));
  if (n > 1) v = f32x4.replace_lane(v, 1, load<f32>(p, 4));
  if (n > 2) v = f32x4.replace_lane(v, 2, load<f32>(p, 8));
  if (n > 3) v = f32x4.replace_lane(v, 3, load<f32>(p, 12));
  return v;
}
/** Stores lanes 0..n−1 of v at p. */
@inline function _t_store_lanes(p: usize, v: v128, n: i32): void {
  if (n >= 4) { v128.store(p, v); return; }
  store<f32>(p, f32x4.extract_lane(v, 0));
  if (n > 1) store<f32>(p, f32x4.extract_lane(v, 1), 4);
  if (n > 2) store<f32>(p, f32x4.extract_lane(v, 2), 8);
}

// ---- exp -------------------------------------------------------------------------------------
// e^x = 2^n · e^r with n = round(x / ln 2) and r = x − n·ln 2 (ln 2 split in two so n·hi is exact),
// |r| ≤ ln2/2; e^r by its Taylor series to r^7 (truncation below 6e-9 relative). Inputs are
// clamped so that 2^n stays a normal f32; below −87.3 the result is exactly 0, as e^x rounds to
// (or under) the smallest normal there, and masked scores (−3.4e38) must weigh exactly nothing.
// n comes from adding 1.5·2^23, which rounds x/ln 2 to an integer (ties to even) and leaves it in
// the low mantissa bits, so 2^n's exponent field is those bits plus 127 minus the constant's own:
// no rounding or float→int conversion instructions (V8 expands the saturating one into ~8), and
// the Horner steps are multiply-adds (one rounding each when fused), halving the chain's latency.
@inline function _t_exp4(x: v128): v128 {
  const c = f32x4.min(f32x4.max(x, f32x4.splat(-87.33654)), f32x4.splat(88.0));
  const t = _t_madd(c, f32x4.splat(1.4426950408889634), f32x4.splat(12582912.0));
  const n = f32x4.sub(t, f32x4.splat(12582912.0));
  let r = _t_madd(n, f32x4.splat(-0.693359375), c);
  r = _t_madd(n, f32x4.splat(2.12194440e-4), r);
  let p = _t_madd(f32x4.splat(1.9841270e-4), r, f32x4.splat(1.3888889e-3));
  p = _t_madd(p, r, f32x4.splat(8.3333333e-3));
  p = _t_madd(p, r, f32x4.splat(4.1666667e-2));
  p = _t_madd(p, r, f32x4.splat(1.6666667e-1));
  p = _t_madd(p, r, f32x4.splat(0.5));
  p = _t_madd(f32x4.mul(p, r), r, f32x4.add(r, f32x4.splat(1.0)));
  // bits(t) = 0x4B400000 + n: the exponent field of 2^n is n + 127.
  const scale = i32x4.shl(i32x4.add(t, i32x4.splat(127 - 0x4b400000)), 23);
  const y = f32x4.mul(p, scale);
  // NaN compares false everywhere: keep it (ge fails, but the select below passes x's NaN through).
  const y0 = v128.and(y, f32x4.ge(x, f32x4.splat(-87.33654)));
  return v128.bitselect(x, y0, f32x4.ne(x, x));
}
@inline function _t_exp(x: f32): f32 { return f32x4.extract_lane(_t_exp4(f32x4.splat(x)), 0); }

// ---- tanh, sigmoid -----------------------------------------------------------------------------
// tanh: its odd Taylor series to x^15 below |x| = 0.5 (error < 5e-8 relative), else
// 1 − 2/(e^{2|x|} + 1), which loses nothing to cancellation there; the sign is put back last.
@inline function _t_tanh4(x: v128): v128 {
  const a = f32x4.abs(x);
  const x2 = f32x4.mul(x, x);
  let p = f32x4.splat(-1.4558344e-3);
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(3.5921280e-3));
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(-8.8632355e-3));
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(2.1869488e-2));
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(-5.3968254e-2));
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(1.3333333e-1));
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(-3.3333333e-1));
  const small = f32x4.add(x, f32x4.mul(f32x4.mul(p, x2), x));
  const e = _t_exp4(f32x4.add(a, a));
  const big = f32x4.sub(f32x4.splat(1.0), f32x4.div(f32x4.splat(2.0), f32x4.add(e, f32x4.splat(1.0))));
  const signed = v128.or(big, v128.and(x, i32x4.splat(0x80000000)));
  return v128.bitselect(small, signed, f32x4.lt(a, f32x4.splat(0.5)));
}
@inline function _t_tanh(x: f32): f32 { return f32x4.extract_lane(_t_tanh4(f32x4.splat(x)), 0); }
@inline function _t_sigmoid4(x: v128): v128 {
  return f32x4.div(f32x4.splat(1.0), f32x4.add(f32x4.splat(1.0), _t_exp4(f32x4.neg(x))));
}

// ---- erfc, for the exact GELU ------------------------------------------------------------------
// The Chebyshev-fitted erfc of Numerical Recipes (§6.2, "erfcc"): relative error below 1.2e-7 for
// every z ≥ 0, so x·Φ(x) keeps its relative accuracy far into the negative tail where Φ is tiny.
@inline function _t_erfc4(z: v128): v128 {
  const t = f32x4.div(f32x4.splat(1.0), f32x4.add(f32x4.splat(1.0), f32x4.mul(f32x4.splat(0.5), z)));
  let p = f32x4.splat(0.17087277);
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(-0.82215223));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(1.48851587));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(-1.13520398));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(0.27886807));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(-0.18628806));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(0.09678418));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(0.37409196));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(1.00002368));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(-1.26551223));
  return f32x4.mul(t, _t_exp4(f32x4.sub(p, f32x4.mul(z, z))));
}
/** x·Φ(x) = x·(1 − ½erfc(x/√2)) for x ≥ 0, x·½erfc(−x/√2) below. */
@inline function _t_gelu_erf4(x: v128): v128 {
  const half = f32x4.mul(f32x4.splat(0.5), _t_erfc4(f32x4.mul(f32x4.abs(x), f32x4.splat(0.7071067811865476))));
  const phi = v128.bitselect(f32x4.sub(f32x4.splat(1.0), half), half, f32x4.ge(x, f32x4.splat(0.0)));
  return f32x4.mul(x, phi);
}
/** ½x(1 + tanh u) = x·sigmoid(2u), u = √(2/π)(x + 0.044715x³): no cancellation for x ≪ 0. */
@inline function _t_gelu_tanh4(x: v128): v128 {
  const u = f32x4.mul(f32x4.splat(0.7978845608028654), f32x4.add(x, f32x4.mul(f32x4.splat(0.044715), f32x4.mul(x, f32x4.mul(x, x)))));
  return f32x4.mul(x, _t_sigmoid4(f32x4.add(u, u)));
}
`;
