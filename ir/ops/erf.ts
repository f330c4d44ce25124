// erf for the exact GELU. JavaScript has no Math.erf, and the usual short approximations
// (Abramowitz–Stegun 7.1.26: 1.5e-7) are not accurate enough for an oracle, so we sum the
// everywhere-convergent series
//
//   erf(x) = 2/√π · e^(−x²) · Σ_{n≥0} 2ⁿ x^(2n+1) / (1·3·5·…·(2n+1))
//
// (Abramowitz–Stegun 7.1.6). Every term has the sign of x, so there is no cancellation: the
// relative error is a few ulps of f64 (well under 1e-13) for |x| < 6. Beyond 6, 1 − |erf(x)| =
// erfc(6) ≈ 2e-17 is below half an ulp of 1, so ±1 is the correctly rounded value.

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  if (a >= 6) return Math.sign(x);
  const x2 = a * a;
  let term = a;
  let sum = a;
  // Terms grow while 2x² > 2n+1, then shrink geometrically; at |x| = 6 about 150 terms suffice.
  for (let n = 1; n < 400; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return Math.sign(x) * Math.min(1, TWO_OVER_SQRT_PI * Math.exp(-x2) * sum);
}
