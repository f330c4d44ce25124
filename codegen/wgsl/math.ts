// WGSL math the built-ins do not give accurately enough. WGSL (via Vulkan) promises little for
// transcendentals: sin/cos only on [−π, π] to an absolute 2^-11, tanh by its exp formula (poor
// near 0, overflowing for large |x| on some drivers), no erf at all. These versions stay within a
// few f32 ulps of the reference, using only +, ×, exp and comparisons.
import { erf } from '../../ir/ops/erf.js';
import { f32Lit } from './builder.js';

/**
 * Chebyshev coefficients of f on [a, b], c0 already halved, cut after the last one above `tol`
 * (interpolation at Chebyshev nodes: near-minimax, and evaluated stably by Clenshaw's recurrence).
 */
function chebyshev(f: (x: number) => number, a: number, b: number, tol: number, nodes = 64): number[] {
  const ys: number[] = [];
  for (let k = 0; k < nodes; k++) ys.push(f(((b - a) / 2) * Math.cos((Math.PI * (k + 0.5)) / nodes) + (a + b) / 2));
  const c: number[] = [];
  for (let j = 0; j < nodes; j++) {
    let s = 0;
    for (let k = 0; k < nodes; k++) s += ys[k] * Math.cos((Math.PI * j * (k + 0.5)) / nodes);
    c.push((2 / nodes) * s);
  }
  c[0] /= 2;
  let last = c.length - 1;
  while (last > 0 && Math.abs(c[last]) < tol) last--;
  return c.slice(0, last + 1);
}

/** WGSL Clenshaw evaluation of Σ c_j T_j(t) as an expression-returning function. */
function clenshawFn(name: string, c: readonly number[]): string {
  const consts = `const ${name}_C = array<f32, ${c.length}>(${c.map(f32Lit).join(', ')});`;
  return `${consts}
fn ${name}(t: f32) -> f32 {
  var b1 = 0.0;
  var b2 = 0.0;
  for (var j = ${c.length - 1}; j >= 1; j--) {
    let b0 = ${name}_C[j] + 2.0 * t * b1 - b2;
    b2 = b1;
    b1 = b0;
  }
  return ${name}_C[0] + t * b1 - b2;
}`;
}

// erf on |x| < 1 as x·g(x²), g(u) = erf(√u)/√u (smooth in u, keeps full relative accuracy near 0);
// on 1 ≤ |x| < 4 directly; beyond 4, 1 − erf < 2e-8 is below half an ulp of 1. The coefficients
// come from the reference erf (ir/ops/erf.ts, f64, ~1e-15), truncated at 1e-10 absolute.
const ERF_SMALL = chebyshev((u) => (u === 0 ? 2 / Math.sqrt(Math.PI) : erf(Math.sqrt(u)) / Math.sqrt(u)), 0, 1, 1e-10);
const ERF_LARGE = chebyshev(erf, 1, 4, 1e-10);

/** `fn erf_f32(x: f32) -> f32`, absolute error a few 1e-8. */
export const ERF_WGSL = `${clenshawFn('erf_small', ERF_SMALL)}
${clenshawFn('erf_large', ERF_LARGE)}
fn erf_f32(x: f32) -> f32 {
  let a = abs(x);
  var r = 1.0;
  if (a < 1.0) {
    r = a * erf_small(2.0 * a * a - 1.0);
  } else if (a < 4.0) {
    r = erf_large((2.0 * a - 5.0) / 3.0);
  }
  return select(r, -r, x < 0.0);
}`;

/**
 * `fn tanh_f32(x: f32) -> f32`: an odd Taylor polynomial through x¹³ below 0.4 (truncation < 1e-9
 * relative), 1 − 2/(e^{2|x|} + 1) above, with |x| clamped to 10 where tanh is 1 in f32, so
 * exp never overflows.
 */
export const TANH_WGSL = `fn tanh_f32(x: f32) -> f32 {
  let a = min(abs(x), 10.0);
  var r: f32;
  if (a < 0.4) {
    let z = a * a;
    r = a * (1.0 + z * (${f32Lit(-1 / 3)} + z * (${f32Lit(2 / 15)} + z * (${f32Lit(-17 / 315)} + z * (${f32Lit(62 / 2835)}
      + z * (${f32Lit(-1382 / 155925)} + z * ${f32Lit(21844 / 6081075)}))))));
  } else {
    r = 1.0 - 2.0 / (exp(2.0 * a) + 1.0);
  }
  return select(r, -r, x < 0.0);
}`;

/** `fn sigmoid_f32(x: f32) -> f32`; the clamp keeps exp finite (σ(−88) ≈ 6e-39 is 0 for our purposes). */
export const SIGMOID_WGSL = `fn sigmoid_f32(x: f32) -> f32 { return 1.0 / (1.0 + exp(-clamp(x, -88.0, 88.0))); }`;

// Cody–Waite reduction by π/2 in three parts: the first two have 8 significant bits, so k·P1 and
// k·P2 are exact for |k| < 2^16 (|x| < ~1e5), and P1+P2+P3 carries ~40 bits of π/2.
function splitHead(x: number, bits: number): number {
  const e = Math.floor(Math.log2(Math.abs(x)));
  const q = 2 ** (e - bits + 1);
  return Math.trunc(x / q) * q;
}
const P1 = splitHead(Math.PI / 2, 8);
const P2 = splitHead(Math.PI / 2 - P1, 8);
const P3 = Math.fround(Math.PI / 2 - P1 - P2);

/**
 * `fn sincos_f32(x: f32) -> vec2f` = (cos x, sin x) within ~2e-7 absolute for |x| < 1e5: reduce
 * to r ∈ [−π/4, π/4] and a quadrant, then Taylor polynomials (sin through r⁹, cos through r¹²:
 * truncation below 2e-9). Rotary embeddings need this: angles reach thousands of radians.
 */
export const SINCOS_WGSL = `fn sincos_f32(x: f32) -> vec2f {
  let k = round(x * ${f32Lit(2 / Math.PI)});
  let r = ((x - k * ${f32Lit(P1)}) - k * ${f32Lit(P2)}) - k * ${f32Lit(P3)};
  let z = r * r;
  let s = r + r * z * (${f32Lit(-1 / 6)} + z * (${f32Lit(1 / 120)} + z * (${f32Lit(-1 / 5040)} + z * ${f32Lit(1 / 362880)})));
  let c = 1.0 + z * (-0.5 + z * (${f32Lit(1 / 24)} + z * (${f32Lit(-1 / 720)} + z * (${f32Lit(1 / 40320)} + z * ${f32Lit(-1 / 3628800)}))));
  switch (u32(i32(k) & 3)) {
    case 0u: { return vec2f(c, s); }
    case 1u: { return vec2f(-s, c); }
    case 2u: { return vec2f(-c, -s); }
    default: { return vec2f(s, -c); }
  }
}`;
