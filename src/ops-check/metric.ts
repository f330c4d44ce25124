// The op table's one error metric, as llama.cpp's test-backend-ops uses it: the normalized mean
// squared error  Σ(got − want)² / Σ want²  over a whole f32 result. It measures the error against
// the tensor's energy, so elements near zero are not held to a relative bound f32 cannot meet,
// and NaN anywhere (a poisoned element left unwritten) makes it NaN, which no threshold passes.
// One refinement: the energy is floored at n · ENERGY_FLOOR (an RMS of 1e-3), so a result whose
// every value is tiny (gelu of one f16 input of −8 is −7e-14) is judged by its absolute error,
// not by relative digits of values that are zero for every purpose.
// Integer and 16-bit results, layout ops and cases marked `exact` are compared bit for bit.
import { getOp, hasTrait, type HostTensor } from '../../ir/index.js';
import type { OpCase } from './case.js';

/**
 * The default threshold: an RMS error of about 3e-5 of the result's RMS, which f32 kernels meet
 * with two orders of magnitude to spare (f32 rounding gives ~1e-13). Cases whose kernels
 * legitimately lose more (8-bit activations in quantized products) set their own `maxNmse`.
 */
export const DEFAULT_NMSE = 1e-9;

/** The least energy per element the error is normalized by (see the top of this file). */
export const ENERGY_FLOOR = 1e-6;

/** Σ(got − want)² / max(Σ want², n · ENERGY_FLOOR). */
export function nmse(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let err = 0, energy = 0;
  for (let i = 0; i < want.length; i++) {
    const d = got[i] - want[i];
    err += d * d;
    energy += want[i] * want[i];
  }
  return err / Math.max(energy, want.length * ENERGY_FLOOR, Number.MIN_VALUE);
}

/** Whether a case's results are compared bit for bit. */
export function isExact(c: OpCase): boolean {
  return c.exact === true || hasTrait(getOp(c.op), 'layout');
}

/** The error of one result, or a message saying why it fails. */
export function compareResult(got: HostTensor, want: HostTensor, c: OpCase): { error: number; failure?: string } {
  if (got.dtype !== want.dtype || got.shape.join() !== want.shape.join()) {
    return { error: Infinity, failure: `got ${got.dtype}[${got.shape}], want ${want.dtype}[${want.shape}]` };
  }
  const g = got.data as ArrayLike<number>, w = want.data as ArrayLike<number>;
  if (want.dtype !== 'f32' || isExact(c)) {
    for (let i = 0; i < w.length; i++) {
      if (!Object.is(g[i], w[i])) return { error: Infinity, failure: `element ${i}: got ${g[i]}, want ${w[i]} (bit-exact comparison)` };
    }
    return { error: 0 };
  }
  const error = nmse(g, w);
  const limit = c.maxNmse ?? DEFAULT_NMSE;
  if (error <= limit) return { error };
  return { error, failure: `NMSE ${error.toExponential(2)} > ${limit.toExponential(0)} (${worst(g, w)})` };
}

/** The element that differs most, for the failure message. */
function worst(got: ArrayLike<number>, want: ArrayLike<number>): string {
  let at = 0, most = -1;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (Number.isNaN(d)) { at = i; break; }
    if (d > most) { at = i; most = d; }
  }
  return `worst element ${at}: got ${got[at]}, want ${want[at]}`;
}
