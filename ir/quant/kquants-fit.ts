// Fitting one K-quant super-block: the integer scales and quants that the K-quant decoders
// (kquants.ts) turn back into values, chosen to minimise the block's squared error. Two shapes:
//   offset  x ≈ (d·ls)·q − dmin·lm, q ∈ [0, qmax], ls, lm ≥ 0     Q2_K, Q4_K, Q5_K
//   signed  x ≈ (d·ls)·q,           q ∈ [qlo, qhi], ls signed      Q3_K, Q6_K
// with d, dmin f16 per super-block and ls, lm small integers per sub-block. The fit runs in three
// steps: each sub-block's real scale (and min) by a search over grid spans, each refined by least
// squares; d, dmin from the largest of those, then per sub-block the integer scales around its
// real ones that give the least error once its quants are rounded again; then d, dmin refitted by
// least squares over the whole block while that lowers the error. Errors are measured unweighted
// (the root-mean-square error is what a user compares). `cover*` is a plainer fit whose worst
// element error is provable (every value inside its sub-block's grid); encoders fall back to it
// when the searched fit would break the type's stated bound.
import { f16ToF32, f32ToF16 } from '../half.js';

/** Geometry of an offset K-quant. */
export interface OffsetGrid {
  /** Elements per sub-block. */
  readonly sub: number;
  readonly qmax: number;
  /** Largest sub-block scale ls and min lm. */
  readonly scaleMax: number;
  readonly minMax: number;
}

/** Geometry of a signed K-quant. */
export interface SignedGrid {
  readonly sub: number;
  readonly qlo: number;
  readonly qhi: number;
  readonly scaleLo: number;
  readonly scaleHi: number;
}

/** A fitted super-block: d, dmin as f16-exact values, one ls/lm per sub-block, one q per element. */
export interface KFit {
  d: number;
  dmin: number;
  readonly ls: Int32Array;
  readonly lm: Int32Array;
  readonly q: Int32Array;
}

export function newFit(elements: number, sub: number): KFit {
  return { d: 0, dmin: 0, ls: new Int32Array(elements / sub), lm: new Int32Array(elements / sub), q: new Int32Array(elements) };
}

/** The f16 nearest v, as a value. */
const half = (v: number): number => f16ToF32(f32ToF16(v));

/** The least f16 ≥ v ≥ 0 (finite), as a value. */
function halfUp(v: number): number {
  const h = f32ToF16(v);
  return f16ToF32(h) >= v ? f16ToF32(h) : f16ToF32(h + 1);
}

const clamp = (v: number, lo: number, hi: number): number => (v < lo ? lo : v > hi ? hi : v);

// Grid spans tried per sub-block: the range over qmax + δ steps (δ < 0 clips the extremes a little).
const SPANS = [-0.75, -0.5, -0.25, 0, 0.25, 0.5, 1];
const REFITS = 3;

// Scratch for one super-block (fits run one at a time): real sub-block scales and mins, trial
// quants, and a second fit to try changes in.
const MAX_ELEMENTS = 256;
const MAX_SUBS = 16;
const realS = new Float64Array(MAX_SUBS);
const realM = new Float64Array(MAX_SUBS);
const scratch = new Int32Array(MAX_ELEMENTS);
const trials = new Map<number, KFit>();
/** The second fit for sub-blocks of `sub` elements. */
function trialFit(sub: number): KFit {
  let t = trials.get(sub);
  if (!t) trials.set(sub, (t = newFit(MAX_ELEMENTS, sub)));
  return t;
}

// ---- offset ----

/** Squared error of x[o … o+n) on the grid s·q − m (q rounded, clamped), with q written to `q`. */
function offsetError(x: Float32Array, o: number, n: number, s: number, m: number, qmax: number, q: Int32Array): number {
  let sse = 0;
  const inv = s > 0 ? 1 / s : 0;
  for (let i = o; i < o + n; i++) {
    const l = inv ? clamp(Math.round((x[i] + m) * inv), 0, qmax) : 0;
    q[i] = l;
    const e = x[i] - (s * l - m);
    sse += e * e;
  }
  return sse;
}

/** Least-squares (s, m ≥ 0) for fixed quants q[o … o+n), or undefined when q is constant. */
function offsetLeastSquares(x: Float32Array, o: number, n: number, q: Int32Array): [number, number] | undefined {
  let sq = 0, sqq = 0, sx = 0, sxq = 0;
  for (let i = o; i < o + n; i++) {
    sq += q[i]; sqq += q[i] * q[i]; sx += x[i]; sxq += x[i] * q[i];
  }
  const det = n * sqq - sq * sq;
  if (!(det > 0)) return undefined;
  const s = (n * sxq - sq * sx) / det;
  const b = (sx - s * sq) / n; // the offset −m; a positive one is not representable
  if (b > 0) return sqq > 0 && sxq > 0 ? [sxq / sqq, 0] : undefined;
  return s > 0 ? [s, -b] : undefined;
}

/** Sub-block j's real (s, m): the best of the spans tried, each refitted by least squares. */
function offsetSubBlock(x: Float32Array, o: number, n: number, qmax: number, q: Int32Array): [number, number] {
  let lo = 0, hi = -Infinity;
  for (let i = o; i < o + n; i++) {
    if (x[i] < lo) lo = x[i];
    if (x[i] > hi) hi = x[i];
  }
  if (!(hi > lo)) return [0, -lo];
  let best: [number, number] = [(hi - lo) / qmax, -lo];
  let bestErr = Infinity;
  for (const delta of SPANS) {
    let sm: [number, number] | undefined = [(hi - lo) / (qmax + delta), -lo];
    for (let k = 0; sm && k < 2; k++) {
      const err = offsetError(x, o, n, sm[0], sm[1], qmax, q);
      if (err < bestErr) { bestErr = err; best = sm; }
      sm = offsetLeastSquares(x, o, n, q);
    }
  }
  return best;
}

/**
 * For sub-block j under (d, dmin): the integer ls, lm near the real (s, m) (floor and ceiling of
 * each, and again near the least-squares values for the quants they give) with the least error.
 */
function offsetIntegers(x: Float32Array, j: number, g: OffsetGrid, d: number, dmin: number, s: number, m: number, fit: KFit, scratch: Int32Array): number {
  const o = j * g.sub;
  let bestErr = Infinity;
  let targets: [number, number] | undefined = [s, m];
  for (let round = 0; targets && round < 2; round++) {
    const ls0 = d > 0 ? targets[0] / d : 0;
    const lm0 = dmin > 0 ? targets[1] / dmin : 0;
    for (const ls of [Math.floor(ls0), Math.ceil(ls0)]) {
      for (const lm of [Math.floor(lm0), Math.ceil(lm0)]) {
        const a = clamp(ls, 0, g.scaleMax), b = clamp(lm, 0, g.minMax);
        const err = offsetError(x, o, g.sub, d * a, dmin * b, g.qmax, scratch);
        if (err < bestErr) {
          bestErr = err;
          fit.ls[j] = a;
          fit.lm[j] = b;
          for (let i = o; i < o + g.sub; i++) fit.q[i] = scratch[i];
        }
      }
    }
    targets = offsetLeastSquares(x, o, g.sub, fit.q);
  }
  return bestErr;
}

/** Least-squares (d, dmin) for the fit's integers, rounded to f16; undefined when degenerate. */
function offsetSuperScales(x: Float32Array, g: OffsetGrid, fit: KFit): [number, number] | undefined {
  let saa = 0, sab = 0, sbb = 0, sxa = 0, sxb = 0;
  for (let i = 0; i < fit.q.length; i++) {
    const j = (i / g.sub) | 0;
    const a = fit.ls[j] * fit.q[i], b = fit.lm[j];
    saa += a * a; sab += a * b; sbb += b * b; sxa += x[i] * a; sxb += x[i] * b;
  }
  const det = saa * sbb - sab * sab;
  if (sbb > 0 && det > 0) {
    // Minimise Σ (x − d·a + dmin·b)²: d·Saa − dmin·Sab = Sxa, −d·Sab + dmin·Sbb = −Sxb.
    const d = (sxa * sbb - sab * sxb) / det;
    const dmin = (d * sab - sxb) / sbb;
    if (d > 0 && dmin >= 0) return [half(d), half(dmin)];
  }
  return saa > 0 && sxa > 0 ? [half(sxa / saa), fit.dmin] : undefined;
}

/** Fits x[0 … 256) (zero padded) as an offset K-quant; returns the squared error. */
export function fitOffset(x: Float32Array, g: OffsetGrid, fit: KFit): number {
  const blocks = fit.ls.length;
  const s = realS, m = realM;
  let maxS = 0, maxM = 0;
  for (let j = 0; j < blocks; j++) {
    [s[j], m[j]] = offsetSubBlock(x, j * g.sub, g.sub, g.qmax, scratch);
    maxS = Math.max(maxS, s[j]);
    maxM = Math.max(maxM, m[j]);
  }
  const integers = (d: number, dmin: number, into: KFit): number => {
    into.d = d;
    into.dmin = dmin;
    let err = 0;
    for (let j = 0; j < blocks; j++) err += offsetIntegers(x, j, g, d, dmin, s[j], m[j], into, scratch);
    return err;
  };
  let err = integers(half(maxS / g.scaleMax), half(maxM / g.minMax), fit);
  const trial = trialFit(g.sub);
  for (let k = 0; k < REFITS; k++) {
    const next = offsetSuperScales(x, g, fit);
    if (!next || (next[0] === fit.d && next[1] === fit.dmin)) break;
    const e = integers(next[0], next[1], trial);
    if (!(e < err)) break;
    err = e;
    copyFit(trial, fit);
  }
  return err;
}

/** Every value inside its sub-block's grid: error ≤ half a step (see `offsetCoverBound`). */
export function coverOffset(x: Float32Array, g: OffsetGrid, fit: KFit): void {
  const blocks = fit.ls.length;
  const lo = new Float64Array(blocks), hi = new Float64Array(blocks);
  let maxM = 0;
  for (let j = 0; j < blocks; j++) {
    lo[j] = 0;
    hi[j] = -Infinity;
    for (let i = j * g.sub; i < (j + 1) * g.sub; i++) {
      lo[j] = Math.min(lo[j], x[i]);
      hi[j] = Math.max(hi[j], x[i]);
    }
    maxM = Math.max(maxM, -lo[j]);
  }
  fit.dmin = halfUp(maxM / g.minMax);
  const step = new Float64Array(blocks);
  let maxStep = 0;
  for (let j = 0; j < blocks; j++) {
    fit.lm[j] = fit.dmin > 0 ? Math.ceil(-lo[j] / fit.dmin) : 0; // the grid starts at or below the least value
    step[j] = Math.max(0, (hi[j] + fit.dmin * fit.lm[j]) / g.qmax);
    maxStep = Math.max(maxStep, step[j]);
  }
  fit.d = halfUp(maxStep / g.scaleMax);
  for (let j = 0; j < blocks; j++) {
    fit.ls[j] = fit.d > 0 ? Math.ceil(step[j] / fit.d) : 0;
    offsetError(x, j * g.sub, g.sub, fit.d * fit.ls[j], fit.dmin * fit.lm[j], g.qmax, fit.q);
  }
}

/**
 * The worst |x − x̂| of `coverOffset`, times 1.5 as room for the searched fit: a step is at most
 * (span + dmin)/qmax rounded up by one scale step of d (spans ≤ 2·amax, dmin ≤ amax/minMax), plus
 * the subnormal spacing of f16 and the f32 rounding of the decoder.
 */
export function offsetBound(g: OffsetGrid, amax: number): number {
  const dmin = amax / g.minMax * (1 + 2 ** -10) + 2 ** -24;
  const step = (2 * amax + dmin) / g.qmax;
  return 1.5 * (step * (1 + 1 / g.scaleMax) * (1 + 2 ** -10) + 2 ** -24) / 2 + amax * 2 ** -21;
}

// ---- signed ----

/** Squared error of x[o … o+n) on the grid s·q (q rounded, clamped), with q written to `q`. */
function signedError(x: Float32Array, o: number, n: number, s: number, g: SignedGrid, q: Int32Array): number {
  let sse = 0;
  const inv = s !== 0 ? 1 / s : 0;
  for (let i = o; i < o + n; i++) {
    const l = inv ? clamp(Math.round(x[i] * inv), g.qlo, g.qhi) : 0;
    q[i] = l;
    const e = x[i] - s * l;
    sse += e * e;
  }
  return sse;
}

function signedLeastSquares(x: Float32Array, o: number, n: number, q: Int32Array): number | undefined {
  let sqq = 0, sxq = 0;
  for (let i = o; i < o + n; i++) { sqq += q[i] * q[i]; sxq += x[i] * q[i]; }
  return sqq > 0 ? sxq / sqq : undefined;
}

/** Sub-block j's real scale: the element of largest magnitude mapped near qlo or near qhi, refitted. */
function signedSubBlock(x: Float32Array, o: number, n: number, g: SignedGrid, q: Int32Array): number {
  let big = 0;
  for (let i = o; i < o + n; i++) if (Math.abs(x[i]) > Math.abs(big)) big = x[i];
  if (big === 0) return 0;
  let best = big / g.qhi;
  let bestErr = Infinity;
  for (const end of [g.qlo, g.qhi]) {
    for (const delta of SPANS) {
      let s: number | undefined = big / (end - Math.sign(end) * delta);
      for (let k = 0; s !== undefined && k < 2; k++) {
        const err = signedError(x, o, n, s, g, q);
        if (err < bestErr) { bestErr = err; best = s; }
        s = signedLeastSquares(x, o, n, q);
      }
    }
  }
  return best;
}

function signedIntegers(x: Float32Array, j: number, g: SignedGrid, d: number, s: number, fit: KFit, scratch: Int32Array): number {
  const o = j * g.sub;
  let bestErr = Infinity;
  let target: number | undefined = s;
  for (let round = 0; target !== undefined && round < 2; round++) {
    const l0 = d !== 0 ? target / d : 0;
    for (const l of [Math.floor(l0), Math.ceil(l0)]) {
      const ls = clamp(l, g.scaleLo, g.scaleHi);
      const err = signedError(x, o, g.sub, d * ls, g, scratch);
      if (err < bestErr) {
        bestErr = err;
        fit.ls[j] = ls;
        for (let i = o; i < o + g.sub; i++) fit.q[i] = scratch[i];
      }
    }
    target = signedLeastSquares(x, o, g.sub, fit.q);
  }
  return bestErr;
}

/** Fits x[0 … 256) (zero padded) as a signed K-quant; returns the squared error. */
export function fitSigned(x: Float32Array, g: SignedGrid, fit: KFit): number {
  const blocks = fit.ls.length;
  const s = realS;
  let big = 0;
  for (let j = 0; j < blocks; j++) {
    s[j] = signedSubBlock(x, j * g.sub, g.sub, g, scratch);
    if (Math.abs(s[j]) > Math.abs(big)) big = s[j];
  }
  const integers = (d: number, into: KFit): number => {
    into.d = d;
    into.dmin = 0;
    let err = 0;
    for (let j = 0; j < blocks; j++) err += signedIntegers(x, j, g, d, s[j], into, scratch);
    return err;
  };
  // The largest scale at either end of the integer range (the negative end has one more step).
  let err = integers(half(big / g.scaleLo), fit);
  const trial = trialFit(g.sub);
  const e0 = integers(half(big / g.scaleHi), trial);
  if (e0 < err) { err = e0; copyFit(trial, fit); }
  for (let k = 0; k < REFITS; k++) {
    let saa = 0, sxa = 0;
    for (let i = 0; i < x.length; i++) {
      const a = fit.ls[(i / g.sub) | 0] * fit.q[i];
      saa += a * a;
      sxa += x[i] * a;
    }
    if (!(saa > 0)) break;
    const d = half(sxa / saa);
    if (d === fit.d) break;
    const e = integers(d, trial);
    if (!(e < err)) break;
    err = e;
    copyFit(trial, fit);
  }
  return err;
}

/** Every value inside ±qhi steps of its sub-block: error ≤ half a step (see `signedBound`). */
export function coverSigned(x: Float32Array, g: SignedGrid, fit: KFit): void {
  const blocks = fit.ls.length;
  const step = new Float64Array(blocks);
  let maxStep = 0;
  for (let j = 0; j < blocks; j++) {
    let a = 0;
    for (let i = j * g.sub; i < (j + 1) * g.sub; i++) a = Math.max(a, Math.abs(x[i]));
    step[j] = a / g.qhi;
    maxStep = Math.max(maxStep, step[j]);
  }
  fit.d = halfUp(maxStep / g.scaleHi);
  fit.dmin = 0;
  for (let j = 0; j < blocks; j++) {
    fit.ls[j] = fit.d > 0 ? Math.ceil(step[j] / fit.d) : 0;
    signedError(x, j * g.sub, g.sub, fit.d * fit.ls[j], g, fit.q);
  }
}

/**
 * `coverSigned` leaves at most half a step amax/qhi (rounded up by one step of d, and f16's
 * subnormal spacing); the bound doubles that as room for the searched fit, which may map the
 * largest value to qlo and leave the opposite end a step short.
 */
export function signedBound(g: SignedGrid, amax: number): number {
  return (amax / g.qhi) * (1 + 1 / g.scaleHi) * (1 + 2 ** -10) + 2 ** -23 + amax * 2 ** -21;
}

function copyFit(from: KFit, to: KFit): void {
  to.d = from.d;
  to.dmin = from.dmin;
  to.ls.set(from.ls);
  to.lm.set(from.lm);
  to.q.set(from.q);
}
