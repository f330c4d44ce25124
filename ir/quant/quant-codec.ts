// A block codec (codec.ts) with the facts a reader needs to use it on its own: the ggml type it
// decodes, the block geometry, and where its f16 scales sit. Every dequantizeBlock here decodes
// exactly as llama.cpp's reference dequantizer (gguf-py `gguf.quants.dequantize`): f16 scales
// widened to f32, then each product and sum rounded to f32 in the reference's order, so results
// match bit for bit. NaN/Inf scales are not decoded specially: readers refuse them first
// (`findNonFiniteScale`).
import { type BlockCodec } from './codec.js';
import { isFiniteHalf } from './f16.js';

/** One f16 scale field of a block: its name in ggml's struct and its byte offset in the block. */
export interface ScaleField {
  readonly name: string;
  readonly at: number;
}

export interface QuantCodec extends BlockCodec {
  /** ggml's name for the type ("Q4_K"), as GGUF type tables spell it. */
  readonly ggmlType: string;
  /** Elements per block. */
  readonly blockSize: number;
  /** Bytes per block. */
  readonly blockBytes: number;
  /** The block's f16 scales (for the K-quants the super-block scale and min). */
  readonly scales: readonly ScaleField[];
}

/** Decodes `blocks` consecutive blocks starting at bytes[offset] (one row, or a whole tensor). */
export function dequantizeBlocks(codec: QuantCodec, bytes: Uint8Array, offset: number, blocks: number, out: Float32Array, outOffset: number): void {
  const { blockBytes, blockSize } = codec;
  for (let b = 0; b < blocks; b++) codec.dequantizeBlock(bytes, offset + b * blockBytes, out, outOffset + b * blockSize);
}

/** A NaN or infinite f16 scale: its absolute offset in the bytes given, its block and field. */
export interface ScaleFault {
  readonly offset: number;
  readonly block: number;
  readonly field: string;
  readonly value: number;
}

/**
 * The first NaN/Inf scale among `blocks` blocks starting at bytes[offset], or undefined when all
 * are finite. Readers call this before decoding, so their error can name tensor, type and offset.
 */
export function findNonFiniteScale(codec: QuantCodec, bytes: Uint8Array, offset: number, blocks: number): ScaleFault | undefined {
  for (let b = 0; b < blocks; b++) {
    const base = offset + b * codec.blockBytes;
    for (const field of codec.scales) {
      const at = base + field.at;
      const bits = bytes[at] | (bytes[at + 1] << 8);
      if (!isFiniteHalf(bits)) {
        const value = bits & 0x3ff ? NaN : bits & 0x8000 ? -Infinity : Infinity;
        return { offset: at, block: b, field: field.name, value };
      }
    }
  }
  return undefined;
}
