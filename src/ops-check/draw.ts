// The one seeded generator of the op table. `Draw` is how a case picks its shapes and attributes:
// under vitest fast-check implements it (test/ops-table.test.ts), from the CLI `seededDraw` does.
// Tensor contents always come from `rng(seed)` with a seed the case drew, so a case is fixed by
// its draws alone.
import { convertF32, type DType, type HostTensor, tensor, toF32 } from '../../ir/index.js';
import { dtypeInfo, FIELD_BYTES, storageBytes } from '../../ir/dtype.js';
import { f16ToF32, f32ToF16 } from '../../ir/half.js';

/** The choices a case generator makes. */
export interface Draw {
  /** An integer in [min, max]. */
  int(min: number, max: number): number;
  bool(): boolean;
  pick<T>(xs: readonly T[]): T;
  /** A seed for tensor contents. */
  seed(): number;
}

/** A small deterministic PRNG (xorshift32 over a scrambled seed): uniform in [0, 1). */
export function rng(seed: number): () => number {
  // murmur3's finalizer, so that nearby seeds give unrelated streams.
  let s = seed >>> 0;
  s = Math.imul(s ^ (s >>> 16), 0x85ebca6b) >>> 0;
  s = Math.imul(s ^ (s >>> 13), 0xc2b2ae35) >>> 0;
  s = (s ^ (s >>> 16)) >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s / 4294967296;
  };
}

/** A `Draw` over `rng(seed)`: what the CLI uses. Small values and edges come up often, as fast-check's do. */
export function seededDraw(seed: number): Draw {
  const r = rng(seed);
  const int = (min: number, max: number) => {
    // One draw in four takes an end of the range: length-1 axes and the largest sizes show up.
    const u = r();
    if (u < 0.125) return min;
    if (u < 0.25) return max;
    return min + Math.floor(r() * (max - min + 1));
  };
  return {
    int,
    bool: () => r() < 0.5,
    pick: (xs) => xs[Math.floor(r() * xs.length)],
    seed: () => Math.floor(r() * 2 ** 31),
  };
}

/** An axis length: often 1, often small and odd, sometimes up to `max`. */
export function size(d: Draw, max = 70): number {
  switch (d.int(0, 3)) {
    case 0: return 1;
    case 1: return d.int(2, 9);
    default: return d.int(2, max);
  }
}

const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Uniform values in ±scale, never exactly zero (a zero hides sign and scale bugs), converted to `dtype`. */
export function randomTensor(dtype: DType, shape: readonly number[], seed: number, scale = 1): HostTensor {
  const r = rng(seed);
  const data = new Float32Array(count(shape));
  for (let i = 0; i < data.length; i++) {
    const u = r() * 2 - 1;
    data[i] = (u === 0 ? 0.5 : u) * scale;
  }
  const t = tensor('f32', shape, data);
  if (dtype === 'f32') return t;
  return dtypeInfo(dtype).kind === 'quant' && !dtypeInfo(dtype).codec?.quantizeBlock ? randomBlocks(dtype, shape, seed, scale) : convertF32(t, dtype);
}

/**
 * Random blocks of a type we only read (no quantizer): every byte random, every f16 field of the
 * layout (scales, mins) finite, then all of them rescaled by one factor so that the largest element
 * is about `scale`: a type whose sub-block scales multiply (K-quants: up to 63 · 63) then gives
 * values of the same size as the other types', which epilogues such as exp can take.
 */
function randomBlocks(dtype: DType, shape: readonly number[], seed: number, scale: number): HostTensor {
  const r = rng(seed);
  const { blockBytes, layout } = dtypeInfo(dtype);
  const bytes = Uint8Array.from({ length: storageBytes(dtype, shape) }, () => Math.floor(r() * 256));
  const halves: number[] = []; // byte offsets of every f16 field
  for (let at = 0; at < bytes.length; at += blockBytes) {
    let o = at;
    for (const f of layout) {
      for (let i = 0; f.type === 'f16' && i < f.count; i++) halves.push(o + 2 * i);
      o += FIELD_BYTES[f.type] * f.count;
    }
  }
  const setHalf = (o: number, x: number) => {
    const bits = f32ToF16(x);
    bytes[o] = bits & 0xff;
    bytes[o + 1] = bits >>> 8;
  };
  for (const o of halves) setHalf(o, r() * 2 - 1);
  // x is linear in the f16 fields (d·q, d·sc·q − dmin·m), so one factor scales every element.
  // (Decoded from a copy: host tensors keep their decoding, and these bytes change below.)
  const amax = toF32(tensor(dtype, shape, bytes.slice())).reduce((m, x) => Math.max(m, Math.abs(x)), 0);
  const factor = amax > 0 ? scale / amax : 1;
  for (const o of halves) setHalf(o, f16ToF32(bytes[o] | (bytes[o + 1] << 8)) * factor);
  return tensor(dtype, shape, bytes);
}

/** Integers in [lo, hi). */
export function randomInts(shape: readonly number[], seed: number, lo: number, hi: number): HostTensor {
  const r = rng(seed);
  return tensor('i32', shape, Int32Array.from({ length: count(shape) }, () => lo + Math.floor(r() * (hi - lo))));
}

/** Small integers as f32 (ties for argmax, 0/1 masks). */
export function randomIntsF32(shape: readonly number[], seed: number, lo: number, hi: number): HostTensor {
  return tensor('f32', shape, Float32Array.from(randomInts(shape, seed, lo, hi).data as Int32Array));
}
