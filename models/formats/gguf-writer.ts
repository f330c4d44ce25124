// Writes a GGUF v3 file holding metadata only (no tensors): how a compiled artifact keeps a
// GGUF model's tokenizer without copying the weights. Types are kept exactly as the source had them.
import { GGUF_VALUE_TYPES, type GgufEntryType, type GgufMetadata, type GgufValueType } from './gguf-metadata.js';
import type { MetaValue } from './store.js';

class ByteWriter {
  private chunks: Uint8Array[] = [];
  private size = 0;
  push(b: Uint8Array): void {
    this.chunks.push(b);
    this.size += b.length;
  }
  scalar(type: GgufValueType, v: MetaValue): void {
    const b = new DataView(new ArrayBuffer(8));
    switch (type) {
      case 'u8': b.setUint8(0, Number(v)); return this.push(new Uint8Array(b.buffer, 0, 1));
      case 'i8': b.setInt8(0, Number(v)); return this.push(new Uint8Array(b.buffer, 0, 1));
      case 'bool': b.setUint8(0, v ? 1 : 0); return this.push(new Uint8Array(b.buffer, 0, 1));
      case 'u16': b.setUint16(0, Number(v), true); return this.push(new Uint8Array(b.buffer, 0, 2));
      case 'i16': b.setInt16(0, Number(v), true); return this.push(new Uint8Array(b.buffer, 0, 2));
      case 'u32': b.setUint32(0, Number(v), true); return this.push(new Uint8Array(b.buffer, 0, 4));
      case 'i32': b.setInt32(0, Number(v), true); return this.push(new Uint8Array(b.buffer, 0, 4));
      case 'f32': b.setFloat32(0, Number(v), true); return this.push(new Uint8Array(b.buffer, 0, 4));
      case 'u64': b.setBigUint64(0, BigInt(v as number | bigint), true); return this.push(new Uint8Array(b.buffer));
      case 'i64': b.setBigInt64(0, BigInt(v as number | bigint), true); return this.push(new Uint8Array(b.buffer));
      case 'f64': b.setFloat64(0, Number(v), true); return this.push(new Uint8Array(b.buffer));
      case 'string': {
        const s = new TextEncoder().encode(String(v));
        this.scalar('u64', BigInt(s.length));
        return this.push(s);
      }
      case 'array': throw new Error('nested array type needs its element type');
    }
  }
  value(type: GgufEntryType, v: MetaValue): void {
    if (typeof type === 'string') return this.scalar(type, v);
    const items = Array.from(v as ArrayLike<MetaValue>);
    this.typeId(type.array);
    this.scalar('u64', BigInt(items.length));
    for (const item of items) this.value(type.array, item);
  }
  typeId(type: GgufEntryType): void {
    this.scalar('u32', GGUF_VALUE_TYPES.indexOf(typeof type === 'string' ? type : 'array'));
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const c of this.chunks) { out.set(c, at); at += c.length; }
    return out;
  }
}

/** A metadata-only GGUF with the keys that `keep` accepts (e.g. the tokenizer's). */
export function ggufMetadataBytes(meta: GgufMetadata, keep: (key: string) => boolean): Uint8Array {
  const keys = [...meta.keys()].filter(keep);
  const w = new ByteWriter();
  w.push(new TextEncoder().encode('GGUF'));
  w.scalar('u32', 3);
  w.scalar('u64', 0n);
  w.scalar('u64', BigInt(keys.length));
  for (const key of keys) {
    const type = meta.typeOf(key);
    if (type === undefined) throw new Error(`GGUF metadata key ${key} has no type`);
    w.scalar('string', key);
    w.typeId(type);
    w.value(type, meta.get(key)!);
  }
  return w.bytes();
}
