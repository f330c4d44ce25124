// How tensors of each dtype sit in storage buffers, and WGSL functions that read them as f32.
// f16/bf16 are packed pairs in u32 words (so no shader-f16 is needed); block-quantized types are
// u32 words over the raw GGUF blocks (whose sizes need not be word multiples, hence the byte/word
// helpers). Each quantized dtype's decoding is one row of WGSL_QUANT below; its geometry and layout
// come from the dtype table (ir/dtype.ts).
import { type DType, dtypeInfo, fieldOffset, isQuantized, type QuantDType } from '../../ir/dtype.js';
import { IQ4_LEVELS } from '../../ir/quant/iq4.js';
import type { StorageElem } from './builder.js';
import { SUPER_BLOCK_WGSL } from './quant-super.js';

/** The array element type a tensor of `dtype` is bound as. */
export function storageElem(dtype: DType): StorageElem {
  switch (dtype) {
    case 'f32': return 'f32';
    case 'i32': return 'i32';
    default: return 'u32';
  }
}

/** Bits per element for dtypes that layout kernels move element by element. */
export function elementBits(dtype: DType): 16 | 32 {
  switch (dtype) {
    case 'f32': case 'i32': case 'u32': return 32;
    case 'f16': case 'bf16': return 16;
    default: throw new Error(`${dtype} is block-quantized; it cannot be moved element by element`);
  }
}

/** `fn <fn>(i: u32) -> f32`: flat element i of `buf` (a float, i32 or u32 tensor) as f32. */
export function loadFlat(fn: string, buf: string, dtype: DType): string {
  switch (dtype) {
    case 'f32': return `fn ${fn}(i: u32) -> f32 { return ${buf}[i]; }`;
    case 'i32': case 'u32': return `fn ${fn}(i: u32) -> f32 { return f32(${buf}[i]); }`;
    case 'f16': return `fn ${fn}(i: u32) -> f32 { return unpack2x16float(${buf}[i >> 1u])[i & 1u]; }`;
    case 'bf16':
      // bf16 is the high half of an f32: shift the low element up, mask the high one in place.
      return `fn ${fn}(i: u32) -> f32 {
  let w = ${buf}[i >> 1u];
  return bitcast<f32>(select(w << 16u, w & 0xffff0000u, (i & 1u) == 1u));
}`;
    default: throw new Error(`cannot read ${dtype} element by element; use loadMatrix`);
  }
}

/**
 * Byte-level readers over a u32 buffer of GGUF blocks: `<buf>_byte(o)`, `<buf>_scale(o)` (the f16
 * at even byte offset o, as f32) and `<buf>_word(o)` (four bytes from an even offset, little endian).
 */
export function quantByteReaders(buf: string): string {
  return `fn ${buf}_byte(o: u32) -> u32 { return (${buf}[o >> 2u] >> ((o & 3u) << 3u)) & 0xffu; }
fn ${buf}_scale(o: u32) -> f32 { return unpack2x16float(${buf}[o >> 2u] >> ((o & 2u) << 3u)).x; }
fn ${buf}_word(o: u32) -> u32 {
  let at = o >> 2u;
  if ((o & 2u) == 0u) { return ${buf}[at]; }
  return (${buf}[at] >> 16u) | (${buf}[at + 1u] << 16u);
}`;
}

/** Block index and in-block index of column `c` (a WGSL expression): shifts and masks, as every block size is a power of two. */
export function blockOf(dtype: QuantDType, c: string): { block: string; within: string; blocksPer: (cols: string) => string } {
  const { blockSize } = dtypeInfo(dtype);
  const shift = Math.log2(blockSize);
  if (!Number.isInteger(shift)) throw new Error(`internal error: ${dtype} blocks of ${blockSize} are not a power of two`);
  return {
    block: `(${c} >> ${shift}u)`,
    within: `(${c} & ${blockSize - 1}u)`,
    blocksPer: (cols) => `((${cols} + ${blockSize - 1}u) >> ${shift}u)`,
  };
}

/**
 * `fn <fn>(r: u32, c: u32) -> f32`: element (r, c) of a row-major [rows, cols] matrix of any dtype
 * (quantized rows are whole blocks, the last one padded). `cols` is a WGSL u32 expression.
 */
export function loadMatrix(fn: string, buf: string, dtype: DType, cols: string): string {
  if (isQuantized(dtype)) {
    const at = blockOf(dtype, 'c');
    return `${quantByteReaders(buf)}
${WGSL_QUANT[dtype].helpers?.(buf) ?? ''}
fn ${fn}(r: u32, c: u32) -> f32 {
  let base = (r * ${at.blocksPer(cols)} + ${at.block}) * ${dtypeInfo(dtype).blockBytes}u;
  let i = ${at.within};
${WGSL_QUANT[dtype].element(buf)}
}`;
  }
  return `${loadFlat(`${fn}_flat`, buf, dtype)}
fn ${fn}(r: u32, c: u32) -> f32 { return ${fn}_flat(r * ${cols} + c); }`;
}

/** What one quantized dtype's WGSL kernels decode; the blocks are read through quantByteReaders. */
export interface WgslQuantKernels {
  /** Module-scope functions over `buf` that `element` calls. */
  readonly helpers?: (buf: string) => string;
  /** Statements ending in `return`: element `i` of the block at byte `base` of `buf`, as f32. */
  readonly element: (buf: string) => string;
  /**
   * The GEMV's step over one block of 4 weight rows: statements that add to `acc` (vec4f, one lane
   * per row) the dot products of block `blk` of rows c0..c3 (bytes at o0..o3 of `w`) with x, read
   * as `x_chunk(m, k, K)` (four values from k, zero past K). `helpers` are the functions they call;
   * `bound(n)` writes a loop bound (constant, or read at run time on software devices).
   */
  readonly gemv: {
    readonly helpers: string;
    readonly block: (bound: (n: number) => string) => string;
    /**
     * Steps a block is split into (super-blocks: 8 of 32 elements), each its own GEMV work item
     * so that a row's few large blocks still spread over the workgroup: `block` then covers step
     * `unit` of block `blk`. One (the whole block) when absent.
     */
    readonly units?: number;
  };
}

/** `buf_scale(…)` of the f16 at `field` (the scale d unless named) of the block at `base`. */
const scaleAt = (dtype: QuantDType, buf: string, base: string, field = 'd'): string => {
  const off = fieldOffset(dtype, field);
  return `${buf}_scale(${off ? `${base} + ${off}u` : base})`;
};

const COLS = [0, 1, 2, 3];

/** Statements setting b0..b3, the byte offsets of the rows' quants, and `part`, the block's unscaled dots. */
function gemvQuants(dtype: QuantDType): string {
  const qs = fieldOffset(dtype, 'qs');
  return `${COLS.map((c) => `    let b${c} = o${c} + ${qs}u;`).join('\n')}
    var part = vec4f(0.0);`;
}

/** Every block's scale d multiplies its dot products once (the products q·x are exact either way). */
const scaleBlock = (dtype: QuantDType) => `    acc += part * vec4f(${COLS.map((c) => scaleAt(dtype, 'w', `o${c}`)).join(', ')});`;

/**
 * A 32-element type whose byte j of `qs` holds element j's nibble (low) and element j + 16's
 * (high): `fifthBit`, a u32 `qh` whose bit j tops element j's nibble up to 5 bits; the stored
 * value n becomes `levels[n]` (IQ4_NL) or n − `zero`; then x = d · value (+ `min`, a second f16).
 */
interface NibbleType {
  readonly dtype: QuantDType;
  readonly zero: number;
  readonly fifthBit: boolean;
  readonly levels?: readonly number[];
  readonly min?: string;
}

function nibbleKernels(t: NibbleType): WgslQuantKernels {
  const { dtype, zero, fifthBit, levels, min } = t;
  const { blockSize } = dtypeInfo(dtype);
  const qs = fieldOffset(dtype, 'qs'), qh = fifthBit ? fieldOffset(dtype, 'qh') : 0;
  // A function-scope var: WGSL indexes it at run time on every implementation.
  const table = levels && `var levels = array<f32, 16>(${levels.map((v) => v.toFixed(1)).join(', ')});`;
  const value = (n: string) => (table ? `levels[${n}]` : `(f32(${n}) - ${zero.toFixed(1)})`);
  const fifth = (h: string) => (fifthBit ? ` | ((${h} & vec4u(1u)) << vec4u(4u))` : '');
  const hBits = 'vec4u(h, h >> 1u, h >> 2u, h >> 3u)';
  const bytes = 'vec4u(q, q >> 8u, q >> 16u, q >> 24u)';
  const vals = table
    ? `${table}\n  return vec4f(levels[n.x], levels[n.y], levels[n.z], levels[n.w]);`
    : `return vec4f(n) - ${zero.toFixed(1)};`;
  // Four elements' values from a word of nibbles q (and their fifth bits, the low 4 of h).
  const helpers = [
    `fn ${dtype}_vals(n: vec4u) -> vec4f {\n  ${vals}\n}`,
    `fn ${dtype}_lo(q: u32, h: u32) -> vec4f { return ${dtype}_vals((${bytes} & vec4u(15u))${fifth(hBits)}); }`,
    `fn ${dtype}_hi(q: u32, h: u32) -> vec4f { return ${dtype}_vals(((${bytes} >> vec4u(4u)) & vec4u(15u))${fifth(hBits)}); }`,
  ].join('\n');
  const hWord = (c: number, first: string) => (fifthBit ? `h${c} >> (${first}4u * j)` : '0u');
  const element = (buf: string) => [
    `  let b = ${buf}_byte(base + ${qs}u + (i & 15u));`,
    '  var n = select(b & 15u, b >> 4u, i >= 16u);',
    ...(fifthBit ? [`  n |= ((${buf}_word(base + ${qh}u) >> i) & 1u) << 4u;`] : []),
    ...(table ? [`  ${table}`] : []),
    `  return ${scaleAt(dtype, buf, 'base')} * ${value('n')}${min ? ` + ${scaleAt(dtype, buf, 'base', min)}` : ''};`,
  ].join('\n');
  const dots = COLS.map((c) => `dot(${dtype}_lo(w_word(b${c} + 4u * j), ${hWord(c, '')}), lo) + dot(${dtype}_hi(w_word(b${c} + 4u * j), ${hWord(c, '16u + ')}), hi)`);
  // With a min, x = d·q + m: the block adds m times the sum of its x (per activation row).
  const block = (bound: (n: number) => string) => [
    gemvQuants(dtype),
    ...(fifthBit ? COLS.map((c) => `    let h${c} = w_word(o${c} + ${qh}u);`) : []),
    ...(min ? ['    var xs = 0.0;'] : []),
    `    for (var j = 0u; j < ${bound(blockSize / 8)}; j++) {`,
    `      let lo = x_chunk(m, blk * ${blockSize}u + 4u * j, K);`,
    `      let hi = x_chunk(m, blk * ${blockSize}u + 16u + 4u * j, K);`,
    ...(min ? ['      xs += dot(lo + hi, vec4f(1.0));'] : []),
    `      part += vec4f(${dots.join(',\n        ')});`,
    '    }',
    scaleBlock(dtype),
    ...(min ? [`    acc += xs * vec4f(${COLS.map((c) => scaleAt(dtype, 'w', `o${c}`, min)).join(', ')});`] : []),
  ].join('\n');
  return { element, gemv: { helpers, block } };
}

export const WGSL_QUANT: { readonly [D in QuantDType]: WgslQuantKernels } = {
  ...SUPER_BLOCK_WGSL,
  q8_0: {
    element: (buf) => `  let q = bitcast<i32>(${buf}_byte(base + ${fieldOffset('q8_0', 'qs')}u + i) << 24u) >> 24u;
  return ${scaleAt('q8_0', buf, 'base')} * f32(q);`,
    gemv: {
      // Sign-extend each byte: shift it to the top, then arithmetic-shift back down.
      helpers: 'fn q8(q: u32) -> vec4f { return vec4f(vec4i(bitcast<i32>(q << 24u), bitcast<i32>(q << 16u), bitcast<i32>(q << 8u), bitcast<i32>(q)) >> vec4u(24u)); }',
      block: (bound) => `${gemvQuants('q8_0')}
    for (var j = 0u; j < ${bound(dtypeInfo('q8_0').blockSize / 4)}; j++) {
      let xv = x_chunk(m, blk * ${dtypeInfo('q8_0').blockSize}u + 4u * j, K);
      part += vec4f(${COLS.map((c) => `dot(q8(w_word(b${c} + 4u * j)), xv)`).join(', ')});
    }
${scaleBlock('q8_0')}`,
    },
  },
  q4_0: {
    // Low nibbles hold elements 0..15 of the block, high nibbles 16..31; both offset by 8.
    element: (buf) => `  let b = ${buf}_byte(base + ${fieldOffset('q4_0', 'qs')}u + (i & 15u));
  let q = i32(select(b & 15u, b >> 4u, i >= 16u)) - 8;
  return ${scaleAt('q4_0', buf, 'base')} * f32(q);`,
    gemv: {
      // Byte j holds element j (low nibble) and element j + 16 (high nibble), both offset by 8.
      helpers: `fn q4_lo(q: u32) -> vec4f { return vec4f(vec4i(vec4u(q, q >> 8u, q >> 16u, q >> 24u) & vec4u(15u))) - 8.0; }
fn q4_hi(q: u32) -> vec4f { return vec4f(vec4i((vec4u(q, q >> 8u, q >> 16u, q >> 24u) >> vec4u(4u)) & vec4u(15u))) - 8.0; }`,
      block: (bound) => `${gemvQuants('q4_0')}
    for (var j = 0u; j < ${bound(dtypeInfo('q4_0').blockSize / 8)}; j++) {
      let lo = x_chunk(m, blk * ${dtypeInfo('q4_0').blockSize}u + 4u * j, K);
      let hi = x_chunk(m, blk * ${dtypeInfo('q4_0').blockSize}u + 16u + 4u * j, K);
      part += vec4f(${COLS.map((c) => `dot(q4_lo(w_word(b${c} + 4u * j)), lo) + dot(q4_hi(w_word(b${c} + 4u * j)), hi)`).join(',\n        ')});
    }
${scaleBlock('q4_0')}`,
    },
  },
  q4_1: nibbleKernels({ dtype: 'q4_1', zero: 0, fifthBit: false, min: 'm' }),
  q5_0: nibbleKernels({ dtype: 'q5_0', zero: 16, fifthBit: true }),
  q5_1: nibbleKernels({ dtype: 'q5_1', zero: 0, fifthBit: true, min: 'm' }),
  iq4_nl: nibbleKernels({ dtype: 'iq4_nl', zero: 0, fifthBit: false, levels: IQ4_LEVELS }),
};
