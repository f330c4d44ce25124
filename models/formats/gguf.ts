// GGUF (versions 2 and 3), read by hand so every error can say exactly where the file is wrong.
// Layout: "GGUF", u32 version, u64 tensor count, u64 key/value count, the key/values, the tensor
// infos (name, u32 n_dims, u64 ne[n_dims], u32 ggml type, u64 offset), padding to
// `general.alignment` (default 32), then the tensor data (offsets count from there).
import { type HostTensor, tensorFromBytes } from '../../ir/tensor.js';
import { Cursor } from './cursor.js';
import { type GgmlType, ggmlType } from './ggml-types.js';
import { GGUF_VALUE_TYPES, type GgufEntryType, GgufMetadata, type GgufValueType } from './gguf-metadata.js';
import { type ByteSource, toSource } from './source.js';
import { checkDestination, checkRange, FormatError, type MetaValue, type TensorInfo, type TensorStore } from './store.js';

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
const DEFAULT_ALIGNMENT = 32;
const MAX_DIMS = 4; // GGML_MAX_DIMS
const MAX_ARRAY_DEPTH = 16;

/** One tensor as the GGUF file describes it. */
export interface GgufTensorInfo {
  readonly name: string;
  readonly typeId: number;
  /** The ggml type name ("F16", "Q8_0", "IQ4_NL", …) or "type <id>" for ids ggml does not define. */
  readonly typeName: string;
  /** ne0 first (innermost), as in the file. */
  readonly dims: readonly number[];
  /** Row-major shape: dims reversed. */
  readonly shape: readonly number[];
  /** Absolute byte offset of the data in the file. */
  readonly offset: number;
  /** Data size in bytes; undefined when the type id is unknown. */
  readonly byteLength?: number;
}

export class GgufStore implements TensorStore {
  readonly format = 'gguf';
  readonly path: string;
  readonly version: number;
  readonly alignment: number;
  /** Absolute offset of the tensor data section. */
  readonly dataOffset: number;
  readonly metadata: GgufMetadata;
  private readonly tensors = new Map<string, GgufTensorInfo>();
  private readonly source: ByteSource;

  constructor(pathOrSource: string | ByteSource) {
    this.source = toSource(pathOrSource);
    this.path = this.source.name;
    const cur = new Cursor(this.source);
    const header = readHeader(cur);
    this.version = header.version;
    this.metadata = readMetadata(cur, header.kvCount);
    this.alignment = readAlignment(cur, this.metadata);
    const infos = readTensorInfos(cur, header.tensorCount);
    this.dataOffset = Math.ceil(cur.pos / this.alignment) * this.alignment;
    for (const raw of infos) {
      const info = placeTensor(cur, raw, this.dataOffset, this.alignment);
      if (this.tensors.has(info.name)) cur.fail(`tensor "${info.name}" is listed twice`, raw.at);
      this.tensors.set(info.name, info);
    }
    checkTiling(cur, [...this.tensors.values()], this.dataOffset, this.alignment);
  }

  names(): string[] {
    return [...this.tensors.keys()];
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  /** The file's own description of a tensor (type id, dims in GGUF order, offset). */
  tensorInfo(name: string): GgufTensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new FormatError(this.path, `no tensor named "${name}"`);
    return t;
  }

  info(name: string): TensorInfo {
    const t = this.tensorInfo(name);
    return { dtype: ggmlType(t.typeId)?.ours ?? t.typeName, shape: [...t.shape] };
  }

  /** The tensor's bytes exactly as stored, whatever its type (for types only a kernel decodes). */
  readRaw(name: string): Uint8Array {
    const t = this.tensorInfo(name);
    if (t.byteLength === undefined) throw new FormatError(this.path, `tensor "${name}" has unknown ggml ${t.typeName}`, t.offset);
    return this.source.read(t.offset, t.byteLength, `tensor "${name}"`);
  }

  readInto(name: string, dest: Uint8Array): void {
    const t = this.tensorInfo(name);
    if (!ggmlType(t.typeId)?.ours || t.byteLength === undefined) {
      throw new FormatError(this.path, `tensor "${name}" has ggml type ${t.typeName}, which Tessera does not read`, t.offset);
    }
    checkDestination(this.path, name, dest, t.byteLength);
    this.source.readInto(t.offset, dest, `tensor "${name}"`);
  }

  readRangeInto(name: string, at: number, dest: Uint8Array): void {
    const t = this.tensorInfo(name);
    if (!ggmlType(t.typeId)?.ours || t.byteLength === undefined) {
      throw new FormatError(this.path, `tensor "${name}" has ggml type ${t.typeName}, which Tessera does not read`, t.offset);
    }
    checkRange(this.path, name, at, dest, t.byteLength);
    this.source.readInto(t.offset + at, dest, `tensor "${name}"`);
  }

  read(name: string): HostTensor {
    const t = this.tensorInfo(name);
    const ours = ggmlType(t.typeId)?.ours;
    if (!ours) {
      throw new FormatError(this.path, `tensor "${name}" has ggml type ${t.typeName}, which Tessera does not read`, t.offset);
    }
    // GGUF stores every type Tessera reads in Tessera's own layout (the dtype table's rows).
    return tensorFromBytes(ours, t.shape, this.readRaw(name));
  }
}

export function openGguf(pathOrSource: string | ByteSource): GgufStore {
  return new GgufStore(pathOrSource);
}

function readHeader(cur: Cursor): { version: number; tensorCount: number; kvCount: number } {
  const magic = cur.u32('magic');
  if (magic !== GGUF_MAGIC) cur.fail(`not a GGUF file (magic 0x${magic.toString(16).padStart(8, '0')})`, 0);
  const version = cur.u32('version');
  if (version === 1) cur.fail('GGUF version 1 is not supported (only 2 and 3)', 4);
  if (version !== 2 && version !== 3) {
    const swapped = (version & 0xffffff) === 0; // 2 or 3 written big-endian
    cur.fail(swapped ? 'big-endian GGUF is not supported' : `unknown GGUF version ${version}`, 4);
  }
  // The smallest possible tensor info is 8 (name length) + 4 + 4 + 8 bytes; a key/value 8 + 4 + 1.
  const tensorCount = cur.count('tensor count', 24);
  const kvCount = cur.count('metadata count', 13);
  return { version, tensorCount, kvCount };
}

function readMetadata(cur: Cursor, kvCount: number): GgufMetadata {
  const meta = new GgufMetadata(cur.src.name);
  for (let i = 0; i < kvCount; i++) {
    const at = cur.pos;
    const key = cur.string(`metadata key #${i}`);
    if (meta.has(key)) cur.fail(`metadata key "${key}" appears twice`, at);
    const type = valueType(cur, `metadata "${key}"`);
    const { value, declared } = readValue(cur, type, `metadata "${key}"`, 0);
    meta.set(key, declared, value);
  }
  return meta;
}

function valueType(cur: Cursor, what: string): GgufValueType {
  const at = cur.pos;
  const id = cur.u32(`${what} type`);
  const t = GGUF_VALUE_TYPES[id];
  if (t === undefined) cur.fail(`${what} has unknown value type ${id}`, at);
  return t;
}

/** Bytes per element of fixed-size types (used for bounds checks and typed arrays). */
const FIXED_SIZE: Partial<Record<GgufValueType, number>> = { u8: 1, i8: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, bool: 1, u64: 8, i64: 8, f64: 8 };

function readValue(cur: Cursor, type: GgufValueType, what: string, depth: number): { value: MetaValue; declared: GgufEntryType } {
  switch (type) {
    case 'u8': return { value: cur.u8(what), declared: type };
    case 'i8': return { value: cur.i8(what), declared: type };
    case 'u16': return { value: cur.u16(what), declared: type };
    case 'i16': return { value: cur.i16(what), declared: type };
    case 'u32': return { value: cur.u32(what), declared: type };
    case 'i32': return { value: cur.i32(what), declared: type };
    case 'f32': return { value: cur.f32(what), declared: type };
    case 'f64': return { value: cur.f64(what), declared: type };
    case 'u64': return { value: cur.u64(what), declared: type };
    case 'i64': return { value: cur.i64(what), declared: type };
    case 'bool': return { value: readBool(cur, what), declared: type };
    case 'string': return { value: cur.string(what), declared: type };
    case 'array': return readArray(cur, what, depth);
  }
}

function readBool(cur: Cursor, what: string): boolean {
  const at = cur.pos;
  const b = cur.u8(what);
  if (b > 1) cur.fail(`${what}: bool byte is ${b}, not 0 or 1`, at);
  return b === 1;
}

function readArray(cur: Cursor, what: string, depth: number): { value: MetaValue; declared: GgufEntryType } {
  if (depth >= MAX_ARRAY_DEPTH) cur.fail(`${what}: arrays nested deeper than ${MAX_ARRAY_DEPTH}`);
  const itemType = valueType(cur, `${what} element`);
  // Strings need at least their 8-byte length, arrays their 4-byte type and 8-byte count.
  const minBytes = FIXED_SIZE[itemType] ?? (itemType === 'string' ? 8 : 12);
  const n = cur.count(`${what} element count`, minBytes);
  const fixed = FIXED_SIZE[itemType];
  if (fixed !== undefined && itemType !== 'bool') {
    return { value: typedArray(itemType, cur.bytes(n * fixed, what), n), declared: { array: itemType } };
  }
  const items: MetaValue[] = [];
  let declared: GgufEntryType = { array: itemType };
  for (let i = 0; i < n; i++) {
    const item = readValue(cur, itemType, `${what}[${i}]`, depth + 1);
    items.push(item.value);
    if (i === 0) declared = { array: item.declared };
  }
  return { value: items, declared };
}

function typedArray(t: GgufValueType, b: Uint8Array, n: number): MetaValue {
  const buf = b.buffer;
  switch (t) {
    case 'u8': return b;
    case 'i8': return new Int8Array(buf, 0, n);
    case 'u16': return new Uint16Array(buf, 0, n);
    case 'i16': return new Int16Array(buf, 0, n);
    case 'u32': return new Uint32Array(buf, 0, n);
    case 'i32': return new Int32Array(buf, 0, n);
    case 'f32': return new Float32Array(buf, 0, n);
    case 'u64': return new BigUint64Array(buf, 0, n);
    case 'i64': return new BigInt64Array(buf, 0, n);
    case 'f64': return new Float64Array(buf, 0, n);
    default: throw new Error(`not a fixed-size GGUF type: ${t}`);
  }
}

function readAlignment(cur: Cursor, meta: GgufMetadata): number {
  if (!meta.has('general.alignment')) return DEFAULT_ALIGNMENT;
  const a = meta.get('general.alignment');
  if (meta.typeOf('general.alignment') !== 'u32' || typeof a !== 'number' || a === 0 || (a & (a - 1)) !== 0) {
    cur.fail(`general.alignment must be a u32 power of two, got ${String(a)}`, 0);
  }
  return a as number;
}

interface RawTensorInfo {
  readonly name: string;
  readonly dims: number[];
  readonly typeId: number;
  readonly relOffset: number;
  /** Where its entry starts in the file, for error positions. */
  readonly at: number;
}

function readTensorInfos(cur: Cursor, count: number): RawTensorInfo[] {
  const infos: RawTensorInfo[] = [];
  for (let i = 0; i < count; i++) {
    const at = cur.pos;
    const name = cur.string(`tensor info #${i} name`);
    const what = `tensor "${name}"`;
    const nDims = cur.u32(`${what} n_dims`);
    if (nDims > MAX_DIMS) cur.fail(`${what} has ${nDims} dimensions (at most ${MAX_DIMS})`, at);
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) {
      const dimAt = cur.pos;
      const ne = cur.u64(`${what} ne${d}`);
      if (ne > BigInt(Number.MAX_SAFE_INTEGER)) cur.fail(`${what} ne${d} = ${ne} is too large`, dimAt);
      dims.push(Number(ne));
    }
    const typeId = cur.u32(`${what} type`);
    const offAt = cur.pos;
    const rel = cur.u64(`${what} offset`);
    if (rel > BigInt(cur.src.size)) cur.fail(`${what} data offset ${rel} is past the end of the file (${cur.src.size} bytes)`, offAt);
    infos.push({ name, dims, typeId, relOffset: Number(rel), at });
  }
  return infos;
}

function placeTensor(cur: Cursor, raw: RawTensorInfo, dataOffset: number, alignment: number): GgufTensorInfo {
  const what = `tensor "${raw.name}"`;
  const type = ggmlType(raw.typeId);
  const base = {
    name: raw.name,
    typeId: raw.typeId,
    typeName: type?.name ?? `type ${raw.typeId}`,
    dims: raw.dims,
    shape: [...raw.dims].reverse(),
    offset: dataOffset + raw.relOffset,
  };
  if (raw.relOffset % alignment !== 0) cur.fail(`${what} data offset ${raw.relOffset} is not a multiple of the alignment ${alignment}`, raw.at);
  if (!type) return base;
  const byteLength = tensorBytes(cur, raw, type);
  if (base.offset + byteLength > cur.src.size) {
    cur.fail(`${what} data (${byteLength} bytes at ${base.offset}) runs past the end of the file (${cur.src.size} bytes)`, raw.at);
  }
  return { ...base, byteLength };
}

/**
 * As llama.cpp requires, each tensor's data starts where the previous one's ends, padded to the
 * alignment, and nothing but padding follows the last: a swapped type or a shifted offset then
 * fails here instead of reading neighbouring bytes as weights. A tensor of a type we do not know
 * has no known size, so the check stops there.
 */
function checkTiling(cur: Cursor, tensors: readonly GgufTensorInfo[], dataOffset: number, alignment: number): void {
  const pad = (n: number) => Math.ceil(n / alignment) * alignment;
  let expected = dataOffset;
  for (const t of tensors) {
    if (t.offset !== expected) {
      cur.fail(`tensor "${t.name}" data starts at byte ${t.offset}, but the tensors before it end at ${expected} (each tensor follows the previous one, padded to ${alignment} bytes); is a type or an offset wrong?`, t.offset);
    }
    if (t.byteLength === undefined) return;
    expected = pad(t.offset + t.byteLength);
  }
  if (cur.src.size > expected) cur.fail(`${cur.src.size - expected} bytes after the last tensor belong to no tensor; is a tensor's type or shape wrong?`, expected);
}

function tensorBytes(cur: Cursor, raw: RawTensorInfo, type: GgmlType): number {
  const ne0 = raw.dims.length ? raw.dims[0] : 1;
  if (ne0 % type.blockSize !== 0) {
    cur.fail(`tensor "${raw.name}" row length ${ne0} is not a multiple of the ${type.name} block size ${type.blockSize}`, raw.at);
  }
  let bytes = (ne0 / type.blockSize) * type.blockBytes;
  for (const d of raw.dims.slice(1)) bytes *= d;
  if (!Number.isSafeInteger(bytes)) cur.fail(`tensor "${raw.name}" is too large`, raw.at);
  return bytes;
}
