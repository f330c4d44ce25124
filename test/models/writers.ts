// Minimal safetensors and GGUF writers, so tests can build files with known contents.

/** Little-endian byte builder. */
export class Bytes {
  private chunks: number[] = [];

  get length(): number {
    return this.chunks.length;
  }

  u8(v: number): this { this.chunks.push(v & 0xff); return this; }
  u32(v: number): this { return this.raw(le(4, (dv) => dv.setUint32(0, v, true))); }
  i32(v: number): this { return this.raw(le(4, (dv) => dv.setInt32(0, v, true))); }
  u64(v: number | bigint): this { return this.raw(le(8, (dv) => dv.setBigUint64(0, BigInt(v), true))); }
  f32(v: number): this { return this.raw(le(4, (dv) => dv.setFloat32(0, v, true))); }
  raw(b: ArrayLike<number>): this { for (let i = 0; i < b.length; i++) this.chunks.push(b[i]); return this; }
  str(s: string): this { const b = new TextEncoder().encode(s); return this.u64(b.length).raw(b); }
  pad(align: number): this { while (this.chunks.length % align) this.chunks.push(0); return this; }
  build(): Uint8Array { return Uint8Array.from(this.chunks); }
}

function le(n: number, write: (dv: DataView) => void): Uint8Array {
  const b = new Uint8Array(n);
  write(new DataView(b.buffer));
  return b;
}

export function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

export interface StTensor {
  name: string;
  dtype: string;
  shape: number[];
  data: ArrayBufferView;
}

export function safetensorsBytes(tensors: StTensor[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = metadata ? { __metadata__: metadata } : {};
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8) json += ' ';
  const out = new Bytes().u64(json.length).raw(new TextEncoder().encode(json));
  for (const t of tensors) out.raw(bytesOf(t.data));
  return out.build();
}

/** A GGUF metadata value: [GGUF type id, value]; arrays: [9, [elementType, values]]. */
export type GgufKv = [key: string, type: number, value: unknown];

export interface GgufTensorSpec {
  name: string;
  /** ne0 first. */
  dims: number[];
  typeId: number;
  data: Uint8Array;
}

export function ggufBytes(opts: { version?: number; kv?: GgufKv[]; tensors?: GgufTensorSpec[]; alignment?: number }): Uint8Array {
  const { version = 3, kv = [], tensors = [], alignment = 32 } = opts;
  const b = new Bytes().u32(0x46554747).u32(version).u64(tensors.length).u64(kv.length);
  for (const [key, type, value] of kv) {
    b.str(key).u32(type);
    writeValue(b, type, value);
  }
  let offset = 0;
  const offsets: number[] = [];
  for (const t of tensors) {
    b.str(t.name).u32(t.dims.length);
    for (const d of t.dims) b.u64(d);
    b.u32(t.typeId).u64(offset);
    offsets.push(offset);
    offset += Math.ceil(t.data.length / alignment) * alignment;
  }
  b.pad(alignment);
  for (const t of tensors) b.raw(t.data).pad(alignment);
  return b.build();
}

function writeValue(b: Bytes, type: number, v: unknown): void {
  switch (type) {
    case 0: b.u8(v as number); break;
    case 1: b.u8((v as number) & 0xff); break;
    case 2: b.raw(le(2, (dv) => dv.setUint16(0, v as number, true))); break;
    case 3: b.raw(le(2, (dv) => dv.setInt16(0, v as number, true))); break;
    case 4: b.u32(v as number); break;
    case 5: b.i32(v as number); break;
    case 6: b.f32(v as number); break;
    case 7: b.u8(v ? 1 : 0); break;
    case 8: b.str(v as string); break;
    case 9: {
      const [elemType, items] = v as [number, unknown[]];
      b.u32(elemType).u64(items.length);
      for (const item of items) writeValue(b, elemType, item);
      break;
    }
    case 10: b.u64(v as bigint); break;
    case 11: b.raw(le(8, (dv) => dv.setBigInt64(0, BigInt(v as bigint), true))); break;
    case 12: b.raw(le(8, (dv) => dv.setFloat64(0, v as number, true))); break;
    default: throw new Error(`unknown GGUF type ${type}`);
  }
}
