// AssemblyScript expressions that read tensors as f32. Plain (unblocked) tensors of any element
// type, one element or four at a time: activations are f32; weights (norm scales, biases, tables)
// may be stored as f16 or bf16, and ops read them as f32. Block-quantized weights: one row per
// dtype in WASM_QUANT (its integer dot with 8-bit activations, its decoding for a gather); block
// geometry and layout come from the dtype table (ir/dtype.ts).
import { type DType, dtypeInfo, fieldOffset, type QuantDType } from '../../ir/dtype.js';
import { IQ4_LEVELS } from '../../ir/quant/iq4.js';
import { SUPER_BLOCK_QUANT } from './quant-super.js';

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

/**
 * How one quantized dtype's weights meet 8-bit activation blocks in the integer matmul
 * (matmul-quant.ts: one f16 scale `d` per block, activations quantized per block of the same size,
 * as llama.cpp does: Q8_0-like blocks of 32 for the legacy types, Q8_K-like blocks of 256 for the
 * K-quants and IQ4_XS) and how its blocks decode in an embedding gather (embedding.ts). A block's
 * stored integers are x = d · (q − zero) + min: `zero` and `min` are corrected once per block, so
 * the dot itself only unpacks q (nibbles, a fifth bit from a mask, a level table) into integers.
 * A super-block (256 elements) is walked in `units` steps; its sub-blocks' small integer scales
 * multiply each step's integer dot (still exact in i32), and its sub-block mins (x = d·sc·q −
 * dmin·m) meet per-sub-block sums of the activation block (`subMins`).
 */
export interface WasmQuantKernels {
  /** Activation blocks as this type's dot takes them: i16 (widened once, for pmaddwd) or i8. */
  readonly act: 'i16' | 'i8';
  /** Stored quants are q + zero: the dot kernel removes zero · Σq_x once per block. */
  readonly zero: number;
  /**
   * The block's f16 offset field, where x = d · q + min (Q4_1, Q5_1): the dot kernel adds
   * min_w · d_x · Σq_x once per block, and a gather adds it to every element.
   */
  readonly min?: string;
  /** Steps the dot takes over one block (1: the whole block at once); `weights` and `dot` get the step. */
  readonly units: number;
  /**
   * Lines run once per step and activation row r before the weight rows, deriving from its
   * activations `xv(r, i)` the locals `dot` reads (q8_0: |x| and the sign masks), so that every
   * weight row shares them.
   */
  readonly prepareX?: (r: number, xv: (r: number, i: number) => string, u: number) => string[];
  /**
   * The dot leaves Σ w·x − Σ_{x<0} |x| (the sign trick of _t_dot_q8, quant-dot.ts): the kernel adds
   * the activation record's Σ_{x<0} |q_x| to each block's integer sum.
   */
  readonly negativeSum?: boolean;
  /** Lines run once per block and weight row c (at `blk` + `off`) before its steps: unpacked sub-block scales. */
  readonly block?: (c: number, blk: string, off: number) => string[];
  /** Lines loading weight row c's step `u` of the block at `blk` + `off` (a constant) into the locals `dot` reads. */
  readonly weights: (c: number, blk: string, off: number, u: number) => string[];
  /**
   * The steps as a run-time loop (`u` an i32 expression) instead of unrolled: V8 issues a loop
   * body's loads before its arithmetic, so a whole unrolled super-block keeps every loaded vector
   * live and spills; one step per trip keeps a step's. Same locals as `weights` and `dot`.
   */
  readonly rolled?: {
    readonly weights: (c: number, blk: string, off: number, u: string) => string[];
    readonly dot: (r: number, c: number, xv: (r: number, i: number) => string, u: string) => string[];
  };
  /**
   * Lines defining s{r}{c}: an i32x4 whose lanes sum to activation row r's step `u` times weight
   * row c's (stored quants times sub-block scales, zero not yet removed); `xv(r, i)` is the i-th
   * v128 of row r's activations for the step.
   */
  readonly dot: (r: number, c: number, xv: (r: number, i: number) => string, u: number) => string[];
  /**
   * Sub-block mins, x = d·sc·q − dmin·m_j: `field` is dmin's f16; the activation record holds the
   * sums of every `span` quantized activations (i16); `dot` defines m{r}{c}, an i32x4 whose lanes
   * sum to Σ_j m_j · Σx_j for weight row c (after `block`), `sums(r, i)` the i-th v128 of row r's sums.
   */
  readonly subMins?: {
    readonly field: string;
    readonly span: 16 | 32;
    readonly dot: (r: number, c: number, sums: (r: number, i: number) => string) => string[];
  };
    /**
   * Lines decoding the block at `blk` for a gather: q0, q1, … (i8x16, 16 quants each, zero
   * removed), the f32 scale d0, d1, … of each, and with `offset` the f32 m0, m1, … added after
   * the product (negated where the type subtracts), so x = d{v}·q{v} + m{v} rounds as the reference.
   */
  readonly gatherVectors: (blk: string) => string[];
  readonly offset: boolean;
}

/**
 * Gather lines for a type with one scale per block (and the f16 `min` where there is one): d{v}
 * (and m{v}) for each of its `vectors` 16-element vectors.
 */
function blockScales(dtype: QuantDType, vectors: number, blk: string, min?: string): string[] {
  const half = (field: string) => {
    const at = fieldOffset(dtype, field);
    return `_t_h2f(<u32>load<u16>(${blk}${at ? `, ${at}` : ''}))`;
  };
  const rest = (name: string) => [...Array(vectors).keys()].slice(1).map((v) => `, ${name}${v} = ${name}0`).join('');
  return [
    `const d0 = ${half('d')}${rest('d')};`,
    ...(min ? [`const m0 = ${half(min)}${rest('m')};`] : []),
  ];
}

const Q8 = fieldOffset('q8_0', 'qs'), Q4 = fieldOffset('q4_0', 'qs');

/**
 * Lines defining s{r}{c} for weights already unpacked to bytes in 0..127, wl{c} (elements 0–15) and
 * wh{c} (16–31): byte products with the signed activations, _t_dot8 (quant-dot.ts), exact.
 */
function dotUnsigned(r: number, c: number, xv: (r: number, i: number) => string): string[] {
  return [`const s${r}${c} = i32x4.extadd_pairwise_i16x8_s(i16x8.add(_t_dot8(${xv(r, 0)}, wl${c}), _t_dot8(${xv(r, 1)}, wh${c})));`];
}

/** |x| and the sign masks of activation row r's 32 bytes, for _t_dot_q8 (prepareX). */
function signSplit(r: number, xv: (r: number, i: number) => string): string[] {
  return [
    `const xa${r}_0 = i8x16.abs(${xv(r, 0)}), xa${r}_1 = i8x16.abs(${xv(r, 1)});`,
    // x < 0 as a compare (x86 has no byte shift: i8x16.shr_s costs five instructions).
    `const xs${r}_0 = i8x16.lt_s(${xv(r, 0)}, i8x16.splat(0)), xs${r}_1 = i8x16.lt_s(${xv(r, 1)}, i8x16.splat(0));`,
  ];
}

/** Lines defining s{r}{c} for signed weight bytes wl{c}, wh{c} (any value): the sign trick of _t_dot_q8. */
function dotSigned(r: number, c: number): string[] {
  return [`const s${r}${c} = _t_dot_q8(wl${c}, wh${c}, xa${r}_0, xa${r}_1, xs${r}_0, xs${r}_1);`];
}

/** An i8x16 with 0x10 in byte j where bit `first` + j of the u32 expression `qh` is set (a fifth bit). */
function highBits(qh: string, first: 0 | 16): string {
  const byte = first / 8;
  const pick = [...Array(16).keys()].map((j) => byte + (j >> 3)).join(', ');
  const bits = 'i8x16(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128)';
  return `v128.and(i8x16.eq(v128.and(i8x16.swizzle(i32x4.splat(${qh}), i8x16(${pick})), ${bits}), ${bits}), i8x16.splat(0x10))`;
}

/**
 * The kernels of a 32-element type whose byte j holds element j (low nibble) and j + 16 (high),
 * with a fifth bit per element in the u32 field `qh` where there is one: stored quants 0..31 as
 * signed bytes (wl/wh for the dot, q0/q1 with `zero` removed for a gather).
 */
function fiveBit(dtype: QuantDType, zero: number, min?: string): WasmQuantKernels {
  const QS = fieldOffset(dtype, 'qs'), QH = fieldOffset(dtype, 'qh');
  const unpack = (blk: string, off: number, lo: string, hi: string, qs: string) => [
    `const ${qs} = v128.load(${blk}, ${off + QS}), qh_${qs} = load<u32>(${blk}, ${off + QH});`,
    `const ${lo} = v128.or(v128.and(${qs}, i8x16.splat(0x0f)), ${highBits(`qh_${qs}`, 0)});`,
    `const ${hi} = v128.or(i8x16.shr_u(${qs}, 4), ${highBits(`qh_${qs}`, 16)});`,
  ];
  return {
    act: 'i8', zero, ...(min ? { min } : {}), units: 1,
    weights: (c, blk, off) => unpack(blk, off, `wl${c}`, `wh${c}`, `qs${c}`),
    dot: dotUnsigned,
    gatherVectors: (blk) => [
      ...unpack(blk, 0, 'u0', 'u1', 'qs'),
      `const q0 = i8x16.sub(u0, i8x16.splat(${zero})), q1 = i8x16.sub(u1, i8x16.splat(${zero}));`,
      ...blockScales(dtype, 2, blk, min),
    ],
    offset: min !== undefined,
  };
}

/** IQ4_NL's 16 levels as an i8x16: a swizzle by the nibbles looks them up. */
const LEVELS = `i8x16(${IQ4_LEVELS.join(', ')})`;
const IQ4 = fieldOffset('iq4_nl', 'qs'), Q41 = fieldOffset('q4_1', 'qs');

export const WASM_QUANT: { readonly [D in QuantDType]: WasmQuantKernels } = {
  ...SUPER_BLOCK_QUANT,
  q8_0: {
    act: 'i8',
    zero: 0,
    units: 1,
    // |x| and x's sign masks, once per activation block for every weight row.
    prepareX: signSplit,
    negativeSum: true,
    weights: (c, blk, off) => [`const wl${c} = v128.load(${blk}, ${off + Q8}), wh${c} = v128.load(${blk}, ${off + Q8 + 16});`],
    // Bytes times |x| (≤ 127 as quantized) with the weights' bits flipped where x < 0 (quant-dot.ts).
    dot: dotSigned,
    gatherVectors: (blk) => [`const q0 = v128.load(${blk}, ${Q8}), q1 = v128.load(${blk}, ${Q8 + 16});`, ...blockScales('q8_0', 2, blk)],
    offset: false,
  },
  q4_0: {
    act: 'i8',
    zero: 8,
    units: 1,
    // The 16 bytes of nibbles go to _t_dot_q4 (quant-dot.ts) as they are.
    weights: (c, blk, off) => [`const qs${c} = v128.load(${blk}, ${off + Q4});`],
    dot: (r, c, xv) => [`const s${r}${c} = _t_dot_q4(${xv(r, 0)}, ${xv(r, 1)}, qs${c});`],
    gatherVectors: (blk) => [
      `const qs = v128.load(${blk}, ${Q4});`,
      'const q0 = i8x16.sub(v128.and(qs, i8x16.splat(0x0f)), i8x16.splat(8));',
      'const q1 = i8x16.sub(i8x16.shr_u(qs, 4), i8x16.splat(8));',
      ...blockScales('q4_0', 2, blk),
    ],
    offset: false,
  },
  q4_1: {
    // q4_0's nibbles (no offset) and a min per block.
    act: 'i8',
    zero: 0,
    min: 'm',
    units: 1,
    weights: (c, blk, off) => [`const qs${c} = v128.load(${blk}, ${off + Q41});`],
    dot: (r, c, xv) => [`const s${r}${c} = _t_dot_q4(${xv(r, 0)}, ${xv(r, 1)}, qs${c});`],
    gatherVectors: (blk) => [
      `const qs = v128.load(${blk}, ${Q41});`,
      'const q0 = v128.and(qs, i8x16.splat(0x0f)), q1 = i8x16.shr_u(qs, 4);',
      ...blockScales('q4_1', 2, blk, 'm'),
    ],
    offset: true,
  },
  q5_0: fiveBit('q5_0', 16),
  q5_1: fiveBit('q5_1', 0, 'm'),
  iq4_nl: {
    // Each nibble indexes the 16 levels (−127…113): one swizzle per 16 elements, signed bytes.
    act: 'i8',
    zero: 0,
    units: 1,
    prepareX: signSplit,
    negativeSum: true,
    weights: (c, blk, off) => [
      `const qs${c} = v128.load(${blk}, ${off + IQ4});`,
      `const wl${c} = i8x16.swizzle(${LEVELS}, v128.and(qs${c}, i8x16.splat(0x0f))), wh${c} = i8x16.swizzle(${LEVELS}, i8x16.shr_u(qs${c}, 4));`,
    ],
    dot: dotSigned,
    gatherVectors: (blk) => [
      `const qs = v128.load(${blk}, ${IQ4});`,
      `const q0 = i8x16.swizzle(${LEVELS}, v128.and(qs, i8x16.splat(0x0f))), q1 = i8x16.swizzle(${LEVELS}, i8x16.shr_u(qs, 4));`,
      ...blockScales('iq4_nl', 2, blk),
    ],
    offset: false,
  },
};

/** Bytes of one quantized activation block for weights of `dtype` (its elements as `act` integers). */
export function actBlockBytes(dtype: QuantDType): number {
  return dtypeInfo(dtype).blockSize * (WASM_QUANT[dtype].act === 'i16' ? 2 : 1);
}

/**
 * An activation block's record, kept after all rows' blocks: its scale d_x (f32), Σq_x (i32 as
 * f32; exact), Σ_{q<0} |q_x| (i32, for the sign trick of `negativeSum` types), then for types with
 * sub-block mins the i16 sums of every `span` quants (|Σ| ≤ 32 · 127) from ACT_SUBSUMS.
 */
export const ACT_NEGSUM = 8, ACT_SUBSUMS = 12;

/** Bytes of one activation block's record (ACT_NEGSUM, ACT_SUBSUMS). */
export function actRecordBytes(dtype: QuantDType): number {
  const mins = WASM_QUANT[dtype].subMins;
  return ACT_SUBSUMS + (mins ? 2 * (dtypeInfo(dtype).blockSize / mins.span) : 0);
}
