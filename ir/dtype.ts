// Element types. Block-quantized types store rows of the last dimension as GGUF blocks.

export const DTYPES = ['f32', 'f16', 'bf16', 'i32', 'u32', 'q8_0', 'q4_0'] as const;
export type DType = (typeof DTYPES)[number];

export interface DTypeInfo {
  readonly name: DType;
  readonly kind: 'float' | 'int' | 'quant';
  /** Elements per storage block (1 for plain types). */
  readonly blockSize: number;
  /** Bytes per storage block. */
  readonly blockBytes: number;
}

const INFO: Record<DType, DTypeInfo> = {
  f32: { name: 'f32', kind: 'float', blockSize: 1, blockBytes: 4 },
  f16: { name: 'f16', kind: 'float', blockSize: 1, blockBytes: 2 },
  bf16: { name: 'bf16', kind: 'float', blockSize: 1, blockBytes: 2 },
  i32: { name: 'i32', kind: 'int', blockSize: 1, blockBytes: 4 },
  u32: { name: 'u32', kind: 'int', blockSize: 1, blockBytes: 4 },
  // GGUF Q8_0: f16 scale, then 32 signed bytes.
  q8_0: { name: 'q8_0', kind: 'quant', blockSize: 32, blockBytes: 34 },
  // GGUF Q4_0: f16 scale, then 16 bytes holding 32 nibbles (low nibbles are elements 0..15).
  q4_0: { name: 'q4_0', kind: 'quant', blockSize: 32, blockBytes: 18 },
};

export function isDType(s: string): s is DType {
  return (DTYPES as readonly string[]).includes(s);
}

export function dtypeInfo(d: DType): DTypeInfo {
  return INFO[d];
}

export function isQuantized(d: DType): boolean {
  return INFO[d].kind === 'quant';
}

export function isFloat(d: DType): boolean {
  return INFO[d].kind === 'float';
}

/**
 * Bytes needed to store a tensor of this dtype and (static) shape. Quantized tensors store each
 * row of the last dimension as whole blocks, so a row that is not a multiple of 32 is padded.
 */
export function storageBytes(d: DType, shape: readonly number[]): number {
  const info = INFO[d];
  if (info.blockSize === 1) return shape.reduce((a, b) => a * b, 1) * info.blockBytes;
  const rowLen = shape.length === 0 ? 1 : shape[shape.length - 1];
  const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
  return rows * Math.ceil(rowLen / info.blockSize) * info.blockBytes;
}
