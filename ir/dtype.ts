// Storage types as data (llama.cpp's type_traits): one row per dtype holds every fact about it —
// block geometry, byte layout, its GGUF ggml type, the host array it lives in and, for block-
// quantized types, the reference codec (ir/quant/*). Host tensors, model readers, the memory
// planner, artifacts, the CLI and error messages read these rows; the code generators keep their
// per-dtype kernels in tables keyed by the same names (codegen/wgsl/access.ts,
// codegen/wasm/loads.ts), which the type checker holds to one row per quantized dtype here.
// Recipe for a new type: docs/ARCHITECTURE.md.
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from './half.js';
import type { BlockCodec } from './quant/codec.js';
import { QUANT_CODECS, type QuantCodec } from './quant/index.js';
import { Q2_K_ENCODE, Q3_K_ENCODE, Q4_K_ENCODE, Q5_K_ENCODE, Q6_K_ENCODE } from './quant/kquants-encode.js';
import { Q4_1_ENCODE, Q5_0_ENCODE, Q5_1_ENCODE } from './quant/legacy-encode.js';
import { Q4_0 } from './quant/q4_0.js';
import { Q8_0 } from './quant/q8_0.js';

/** Scalar types a block is built from, with their sizes in bytes. */
export const FIELD_BYTES = { f32: 4, f16: 2, bf16: 2, i32: 4, u32: 4, u16: 2, i8: 1, u8: 1 } as const;
export type FieldType = keyof typeof FIELD_BYTES;

/** One field of a block, in byte order: `count` values of `type`, and what they hold. */
export interface LayoutField {
  readonly name: string;
  readonly type: FieldType;
  readonly count: number;
  readonly holds: string;
}

/** The typed array a host tensor of the dtype keeps its data in (ir/tensor.ts). */
export type HostArray = 'f32' | 'u16' | 'i32' | 'u32' | 'u8';

export interface DTypeRow {
  readonly kind: 'float' | 'int' | 'quant';
  /** Elements per storage block (1 for plain types). */
  readonly blockSize: number;
  /** Bytes per storage block: the sum of the layout's fields. */
  readonly blockBytes: number;
  readonly layout: readonly LayoutField[];
  /** The GGUF (ggml) type that stores exactly these bytes, where there is one. */
  readonly ggml?: { readonly id: number; readonly name: string };
  readonly host: HostArray;
  /** 16-bit floats: element bits ↔ value. */
  readonly bits?: { readonly decode: (bits: number) => number; readonly encode: (x: number) => number };
  /** Block-quantized types: the reference dequantizer, and the quantizer where we write the type. */
  readonly codec?: BlockCodec;
}

/** A plain type's row: one element per block. */
function plain<K extends 'float' | 'int'>(kind: K, type: FieldType, host: HostArray) {
  return { kind, blockSize: 1, blockBytes: FIELD_BYTES[type], layout: [{ name: 'x', type, count: 1, holds: 'the element' }], host } as const;
}

/**
 * A block-quantized row. Geometry and ggml name come from the type's codec entry in ir/quant
 * (written once, checked bit-exact against llama.cpp); `decoder` is the codec the row runs, which
 * for the types we write carries the quantizer's type.
 */
function quant<C extends BlockCodec>(codec: QuantCodec, ggmlId: number, decoder: C, layout: readonly LayoutField[]) {
  return { kind: 'quant', blockSize: codec.blockSize, blockBytes: codec.blockBytes, host: 'u8', ggml: { id: ggmlId, name: codec.ggmlType }, codec: decoder, layout } as const;
}

const TABLE = {
  f32: { ...plain('float', 'f32', 'f32'), ggml: { id: 0, name: 'F32' } },
  f16: { ...plain('float', 'f16', 'u16'), ggml: { id: 1, name: 'F16' }, bits: { decode: f16ToF32, encode: f32ToF16 } },
  bf16: { ...plain('float', 'bf16', 'u16'), ggml: { id: 30, name: 'BF16' }, bits: { decode: bf16ToF32, encode: f32ToBf16 } },
  i32: { ...plain('int', 'i32', 'i32'), ggml: { id: 26, name: 'I32' } },
  u32: plain('int', 'u32', 'u32'),
  q8_0: quant(QUANT_CODECS.q8_0, 8, Q8_0, [
    { name: 'd', type: 'f16', count: 1, holds: 'the scale: x = d · q' },
    { name: 'qs', type: 'i8', count: 32, holds: 'q of elements 0..31' },
  ]),
  q4_0: quant(QUANT_CODECS.q4_0, 2, Q4_0, [
    { name: 'd', type: 'f16', count: 1, holds: 'the scale: x = d · (nibble − 8)' },
    { name: 'qs', type: 'u8', count: 16, holds: 'byte j: element j in the low nibble, element j + 16 in the high nibble' },
  ]),
  q4_1: quant(QUANT_CODECS.q4_1, 3, Q4_1_ENCODE, [
    { name: 'd', type: 'f16', count: 1, holds: 'the scale: x = d · nibble + m' },
    { name: 'm', type: 'f16', count: 1, holds: 'the block\'s minimum' },
    { name: 'qs', type: 'u8', count: 16, holds: 'byte j: element j in the low nibble, element j + 16 in the high nibble' },
  ]),
  q5_0: quant(QUANT_CODECS.q5_0, 6, Q5_0_ENCODE, [
    { name: 'd', type: 'f16', count: 1, holds: 'the scale: x = d · (q − 16), q = nibble + 16 · high bit' },
    { name: 'qh', type: 'u32', count: 1, holds: 'bit j: element j\'s fifth bit' },
    { name: 'qs', type: 'u8', count: 16, holds: 'byte j: element j in the low nibble, element j + 16 in the high nibble' },
  ]),
  q5_1: quant(QUANT_CODECS.q5_1, 7, Q5_1_ENCODE, [
    { name: 'd', type: 'f16', count: 1, holds: 'the scale: x = d · q + m, q = nibble + 16 · high bit' },
    { name: 'm', type: 'f16', count: 1, holds: 'the block\'s minimum' },
    { name: 'qh', type: 'u32', count: 1, holds: 'bit j: element j\'s fifth bit' },
    { name: 'qs', type: 'u8', count: 16, holds: 'byte j: element j in the low nibble, element j + 16 in the high nibble' },
  ]),
  iq4_nl: quant(QUANT_CODECS.iq4_nl, 20, QUANT_CODECS.iq4_nl, [
    { name: 'd', type: 'f16', count: 1, holds: 'the scale: x = d · IQ4_LEVELS[nibble] (ir/quant/iq4.ts)' },
    { name: 'qs', type: 'u8', count: 16, holds: 'byte j: element j in the low nibble, element j + 16 in the high nibble' },
  ]),
  // 256-element super-blocks (element order: ir/quant/kquants.ts).
  q4_k: quant(QUANT_CODECS.q4_k, 12, Q4_K_ENCODE, [
    { name: 'd', type: 'f16', count: 1, holds: 'the scale of the sub-block scales: x = (d · sc_j) · nibble − dmin · m_j' },
    { name: 'dmin', type: 'f16', count: 1, holds: 'the scale of the sub-block mins' },
    { name: 'scales', type: 'u8', count: 12, holds: '8 six-bit scales sc_j and mins m_j of the sub-blocks of 32, packed' },
    { name: 'qs', type: 'u8', count: 128, holds: 'bytes 32k…32k + 31: sub-block 2k in the low nibbles, 2k + 1 in the high' },
  ]),
  q5_k: quant(QUANT_CODECS.q5_k, 13, Q5_K_ENCODE, [
    { name: 'd', type: 'f16', count: 1, holds: 'the scale of the sub-block scales: x = (d · sc_j) · q − dmin · m_j, q = nibble + 16 · high bit' },
    { name: 'dmin', type: 'f16', count: 1, holds: 'the scale of the sub-block mins' },
    { name: 'scales', type: 'u8', count: 12, holds: '8 six-bit scales sc_j and mins m_j of the sub-blocks of 32, packed' },
    { name: 'qh', type: 'u8', count: 32, holds: 'byte i, bit j: the fifth bit of element i of sub-block j' },
    { name: 'qs', type: 'u8', count: 128, holds: 'bytes 32k…32k + 31: sub-block 2k in the low nibbles, 2k + 1 in the high' },
  ]),
  q3_k: quant(QUANT_CODECS.q3_k, 11, Q3_K_ENCODE, [
    { name: 'hmask', type: 'u8', count: 32, holds: 'byte i, bit j: element i of the j-th run of 32 has q ≥ 0 (else q − 4)' },
    { name: 'qs', type: 'u8', count: 64, holds: 'low 2 bits of q, four elements a byte' },
    { name: 'scales', type: 'u8', count: 12, holds: '16 six-bit scales sc_j of the sub-blocks of 16, packed: x = (d · (sc_j − 32)) · q' },
    { name: 'd', type: 'f16', count: 1, holds: 'the scale of the sub-block scales' },
  ]),
  q2_k: quant(QUANT_CODECS.q2_k, 10, Q2_K_ENCODE, [
    { name: 'scales', type: 'u8', count: 16, holds: 'sub-block j of 16: scale sc_j in the low nibble, min m_j in the high: x = (d · sc_j) · q − dmin · m_j' },
    { name: 'qs', type: 'u8', count: 64, holds: 'q, 2 bits, four elements a byte' },
    { name: 'd', type: 'f16', count: 1, holds: 'the scale of the sub-block scales' },
    { name: 'dmin', type: 'f16', count: 1, holds: 'the scale of the sub-block mins' },
  ]),
  q6_k: quant(QUANT_CODECS.q6_k, 14, Q6_K_ENCODE, [
    { name: 'ql', type: 'u8', count: 128, holds: 'low 4 bits of q, two elements a byte' },
    { name: 'qh', type: 'u8', count: 64, holds: 'high 2 bits of q, four elements a byte' },
    { name: 'scales', type: 'i8', count: 16, holds: 'signed scale sc_j of each sub-block of 16: x = (d · sc_j) · (q − 32)' },
    { name: 'd', type: 'f16', count: 1, holds: 'the scale of the sub-block scales' },
  ]),
  iq4_xs: quant(QUANT_CODECS.iq4_xs, 23, QUANT_CODECS.iq4_xs, [
    { name: 'd', type: 'f16', count: 1, holds: 'the scale of the sub-block scales: x = (d · (sc_j − 32)) · IQ4_LEVELS[nibble]' },
    { name: 'scales_h', type: 'u16', count: 1, holds: 'bits 2j, 2j + 1: the top 2 bits of sc_j' },
    { name: 'scales_l', type: 'u8', count: 4, holds: 'the low 4 bits of sc_j: sub-block 2k in byte k\'s low nibble, 2k + 1 in its high' },
    { name: 'qs', type: 'u8', count: 128, holds: 'sub-block j of 32 in bytes 16j…16j + 15, in IQ4_NL\'s order' },
  ]),
} as const satisfies Record<string, DTypeRow>;

type Table = typeof TABLE;
export type DType = keyof Table;
export const DTYPES = Object.keys(TABLE) as readonly DType[];

/** The block-quantized dtypes: each code generator keeps one row of kernels per name (type-checked). */
export type QuantDType = { [D in DType]: Table[D]['kind'] extends 'quant' ? D : never }[DType];
/** The dtypes we can write (a quantizer in their codec): the `quantize` pass's and CLI's choices. */
export type QuantizeDType = { [D in DType]: Table[D] extends { readonly codec: { readonly quantizeBlock: unknown } } ? D : never }[DType];

export interface DTypeInfo extends DTypeRow {
  readonly name: DType;
}

const INFO = Object.fromEntries(DTYPES.map((d) => [d, { name: d, ...(TABLE[d] as DTypeRow) }])) as Record<DType, DTypeInfo>;

export const QUANT_DTYPES = DTYPES.filter((d): d is QuantDType => INFO[d].kind === 'quant');
export const QUANTIZE_DTYPES = DTYPES.filter((d): d is QuantizeDType => INFO[d].codec?.quantizeBlock !== undefined);
/** The dtypes an f32 tensor converts to (the weight expression `convert`): f32, the 16-bit floats, QUANTIZE_DTYPES. */
export const CONVERT_DTYPES = DTYPES.filter((d) => d === 'f32' || INFO[d].bits !== undefined || INFO[d].codec?.quantizeBlock !== undefined);

export function isDType(s: string): s is DType {
  return Object.hasOwn(TABLE, s);
}

export function dtypeInfo(d: DType): DTypeInfo {
  return INFO[d];
}

export function isQuantized(d: DType): d is QuantDType {
  return INFO[d].kind === 'quant';
}

export function isFloat(d: DType): boolean {
  return INFO[d].kind === 'float';
}

/** Types a weight may be stored in (floats and quantized blocks), by their GGUF-style names. */
export function weightTypeNames(): string[] {
  return DTYPES.filter((d) => INFO[d].kind !== 'int').map((d) => INFO[d].ggml?.name ?? d.toUpperCase());
}

/** Byte offset of a layout field within the block (for kernels that read it in place). */
export function fieldOffset(d: DType, field: string): number {
  let at = 0;
  for (const f of INFO[d].layout) {
    if (f.name === field) return at;
    at += FIELD_BYTES[f.type] * f.count;
  }
  throw new Error(`internal error: ${d} has no field '${field}'`);
}

/** The layout as one line, e.g. `d: f16, qs: i8[32]`. */
export function layoutString(d: DType): string {
  return INFO[d].layout.map((f) => `${f.name}: ${f.type}${f.count > 1 ? `[${f.count}]` : ''}`).join(', ');
}

/**
 * Bytes needed to store a tensor of this dtype and (static) shape. Quantized tensors store each
 * row of the last dimension as whole blocks, so a row that is not a multiple of the block is padded.
 */
export function storageBytes(d: DType, shape: readonly number[]): number {
  const info = INFO[d];
  if (info.blockSize === 1) return shape.reduce((a, b) => a * b, 1) * info.blockBytes;
  const rowLen = shape.length === 0 ? 1 : shape[shape.length - 1];
  const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
  return rows * Math.ceil(rowLen / info.blockSize) * info.blockBytes;
}
