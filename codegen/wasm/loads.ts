// AssemblyScript expressions that read plain (unblocked) tensors of any element type as f32, one
// element or four at a time. Activations are f32; weights (norm scales, biases, tables) may be
// stored as f16 or bf16, and ops read them as f32.
import type { DType } from '../../ir/dtype.js';

export type PlainFloat = 'f32' | 'f16' | 'bf16';

export function isPlainFloat(d: DType): d is PlainFloat {
  return d === 'f32' || d === 'f16' || d === 'bf16';
}

/** Bytes per element of a plain (unblocked) dtype. */
export function elemBytes(d: DType): number {
  switch (d) {
    case 'f32': case 'i32': case 'u32': return 4;
    case 'f16': case 'bf16': return 2;
    default: throw new Error(`${d} has no per-element size (block-quantized)`);
  }
}

function expectFloat(d: DType): PlainFloat {
  if (!isPlainFloat(d)) throw new Error(`expected a float tensor, got ${d}`);
  return d;
}

/** Element `index` (an i32 expression) of the tensor at `base`, as f32. */
export function loadF32(d: DType, base: string, index: string): string {
  switch (expectFloat(d)) {
    case 'f32': return `load<f32>(${base} + ((<usize>(${index})) << 2))`;
    case 'f16': return `_t_h2f(<u32>load<u16>(${base} + ((<usize>(${index})) << 1)))`;
    case 'bf16': return `_t_bf2f(<u32>load<u16>(${base} + ((<usize>(${index})) << 1)))`;
  }
}

/**
 * The four 16-bit values in the low 8 bytes of `v`, each moved into the high half of a 32-bit lane
 * (the low half zero) by one unpack with a zero vector (punpcklwd), instead of a widening and a
 * shift: for bf16 that is already the f32; f16 is converted from there (_t_h2f4hi).
 */
function toHighHalves(v: string): string {
  return `v128.shuffle<i16>(i32x4.splat(0), ${v}, 0, 8, 1, 9, 2, 10, 3, 11)`;
}

/**
 * The eight 16-bit floats of the vector `v` (a local: it is named twice) as two f32x4, values 0–3
 * and 4–7, one unpack each: a GEMV over 16-bit weights then loads 16 bytes per step, not 8.
 */
export function halvesF32x4(d: 'f16' | 'bf16', v: string): [string, string] {
  const lo = `v128.shuffle<i16>(i32x4.splat(0), ${v}, 0, 8, 1, 9, 2, 10, 3, 11)`;
  const hi = `v128.shuffle<i16>(i32x4.splat(0), ${v}, 4, 12, 5, 13, 6, 14, 7, 15)`;
  return d === 'bf16' ? [lo, hi] : [`_t_h2f4hi(${lo})`, `_t_h2f4hi(${hi})`];
}

/** Elements index..index+3 of the tensor at `base`, as an f32x4. */
export function loadF32x4(d: DType, base: string, index: string): string {
  switch (expectFloat(d)) {
    case 'f32': return `v128.load(${base} + ((<usize>(${index})) << 2))`;
    case 'f16': return `_t_h2f4hi(${toHighHalves(`v128.load64_zero(${base} + ((<usize>(${index})) << 1))`)})`;
    case 'bf16': return toHighHalves(`v128.load64_zero(${base} + ((<usize>(${index})) << 1))`);
  }
}

/**
 * Four elements of the tensor at `ptr` + `byteOffset` (a constant), as an f32x4. The offset goes in
 * the load instruction itself: V8 then needs no address arithmetic per load, which is what a
 * memory-bound GEMV's inner loop spends its spare issue slots on (~15 % of a decode classifier).
 */
export function loadF32x4At(d: DType, ptr: string, byteOffset: number): string {
  switch (expectFloat(d)) {
    case 'f32': return `v128.load(${ptr}, ${byteOffset})`;
    case 'f16': return `_t_h2f4hi(${toHighHalves(`v128.load64_zero(${ptr}, ${byteOffset})`)})`;
    case 'bf16': return toHighHalves(`v128.load64_zero(${ptr}, ${byteOffset})`);
  }
}
