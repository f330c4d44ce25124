// safetensors: u64 little-endian header length N, N bytes of JSON
// ({name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {str: str}}), then the data;
// offsets count from the end of the header. Sharded checkpoints add model.safetensors.index.json
// ({weight_map: {name: shard file}}).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type DType } from '../../ir/dtype.js';
import { type HostTensor, type TensorData, numel, tensor } from '../../ir/tensor.js';
import { type ByteSource, toSource } from './source.js';
import { checkDestination, checkRange, FormatError, type MetaValue, type TensorInfo, type TensorStore } from './store.js';

/** Every dtype of the safetensors spec, with its element size and our dtype when we read it. */
const DTYPES: Record<string, { bytes: number; ours?: DType }> = {
  F32: { bytes: 4, ours: 'f32' },
  F16: { bytes: 2, ours: 'f16' },
  BF16: { bytes: 2, ours: 'bf16' },
  I32: { bytes: 4, ours: 'i32' },
  U32: { bytes: 4, ours: 'u32' },
  F64: { bytes: 8 }, I64: { bytes: 8 }, U64: { bytes: 8 },
  I16: { bytes: 2 }, U16: { bytes: 2 },
  I8: { bytes: 1 }, U8: { bytes: 1 }, BOOL: { bytes: 1 },
  F8_E4M3: { bytes: 1 }, F8_E5M2: { bytes: 1 },
};

/** The reference implementation refuses headers above 100 MB; so do we (it also bounds memory). */
const MAX_HEADER_BYTES = 100_000_000;

interface Entry {
  readonly fileType: string;
  readonly shape: number[];
  /** Absolute byte range in the file. */
  readonly begin: number;
  readonly end: number;
}

export class SafetensorsStore implements TensorStore {
  readonly format = 'safetensors';
  readonly path: string;
  readonly metadata: ReadonlyMap<string, MetaValue>;
  private readonly entries: ReadonlyMap<string, Entry>;
  private readonly source: ByteSource;

  constructor(pathOrSource: string | ByteSource) {
    const src = toSource(pathOrSource);
    this.path = src.name;
    this.source = src;
    const { entries, metadata } = parseHeader(src);
    this.entries = entries;
    this.metadata = metadata;
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  info(name: string): TensorInfo {
    const e = this.entry(name);
    return { dtype: DTYPES[e.fileType].ours ?? e.fileType, shape: [...e.shape] };
  }

  read(name: string): HostTensor {
    const e = this.entry(name);
    const ours = DTYPES[e.fileType].ours;
    if (!ours) throw new FormatError(this.path, `tensor "${name}" has dtype ${e.fileType}, which Tessera does not read`, e.begin);
    const bytes = this.source.read(e.begin, e.end - e.begin, `tensor "${name}"`);
    return tensor(ours, e.shape, view(ours, bytes));
  }

  readInto(name: string, dest: Uint8Array): void {
    const e = this.entry(name);
    if (!DTYPES[e.fileType].ours) throw new FormatError(this.path, `tensor "${name}" has dtype ${e.fileType}, which Tessera does not read`, e.begin);
    checkDestination(this.path, name, dest, e.end - e.begin);
    this.source.readInto(e.begin, dest, `tensor "${name}"`);
  }

  readRangeInto(name: string, at: number, dest: Uint8Array): void {
    const e = this.entry(name);
    if (!DTYPES[e.fileType].ours) throw new FormatError(this.path, `tensor "${name}" has dtype ${e.fileType}, which Tessera does not read`, e.begin);
    checkRange(this.path, name, at, dest, e.end - e.begin);
    this.source.readInto(e.begin + at, dest, `tensor "${name}"`);
  }

  private entry(name: string): Entry {
    const e = this.entries.get(name);
    if (!e) throw new FormatError(this.path, `no tensor named "${name}"`);
    return e;
  }
}

/** Reinterprets freshly read little-endian bytes as the typed array HostTensor uses. */
function view(dtype: DType, b: Uint8Array): TensorData {
  switch (dtype) {
    case 'f32': return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
    case 'i32': return new Int32Array(b.buffer, b.byteOffset, b.byteLength / 4);
    case 'u32': return new Uint32Array(b.buffer, b.byteOffset, b.byteLength / 4);
    case 'f16': case 'bf16': return new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2);
    default: return b;
  }
}

function parseHeader(src: ByteSource): { entries: Map<string, Entry>; metadata: Map<string, MetaValue> } {
  const fail = (detail: string, offset?: number): never => {
    throw new FormatError(src.name, detail, offset);
  };
  const lenBytes = src.read(0, 8, 'header length');
  const headerLen = Number(new DataView(lenBytes.buffer).getBigUint64(0, true));
  if (headerLen > MAX_HEADER_BYTES) fail(`header length ${headerLen} exceeds the ${MAX_HEADER_BYTES}-byte limit`, 0);
  if (8 + headerLen > src.size) fail(`header length ${headerLen} runs past the end of the file (${src.size} bytes)`, 0);
  const dataStart = 8 + headerLen;
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(src.read(8, headerLen, 'JSON header')));
  } catch (e) {
    fail(`header is not valid UTF-8 JSON: ${(e as Error).message}`, 8);
  }
  if (!isObject(json)) return fail('header JSON is not an object', 8);

  const entries = new Map<string, Entry>();
  const metadata = new Map<string, MetaValue>();
  for (const [name, value] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (!isObject(value)) fail('"__metadata__" is not an object', 8);
      for (const [k, v] of Object.entries(value as object)) {
        if (typeof v !== 'string') fail(`"__metadata__.${k}" is not a string`, 8);
        metadata.set(k, v as string);
      }
      continue;
    }
    entries.set(name, parseEntry(name, value, dataStart, src.size, fail));
  }
  checkTiling(entries, dataStart, src.size, fail);
  return { entries, metadata };
}

function parseEntry(name: string, v: unknown, dataStart: number, fileSize: number, fail: (d: string, o?: number) => never): Entry {
  const where = `tensor "${name}"`;
  if (!isObject(v)) fail(`${where}: entry is not an object`, 8);
  const { dtype, shape, data_offsets: offsets } = v as Record<string, unknown>;
  if (typeof dtype !== 'string' || !(dtype in DTYPES)) fail(`${where}: unknown dtype ${JSON.stringify(dtype)}`, 8);
  if (!Array.isArray(shape) || !shape.every(isCount)) fail(`${where}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`, 8);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    fail(`${where}: data_offsets ${JSON.stringify(offsets)} is not [begin, end]`, 8);
  }
  const [begin, end] = (offsets as number[]).map((o) => o + dataStart);
  if (end < begin) fail(`${where}: data_offsets end before begin`, begin);
  if (end > fileSize) fail(`${where}: data ends at byte ${end} but the file has ${fileSize}`, begin);
  const expected = numel(shape as number[]) * DTYPES[dtype as string].bytes;
  if (end - begin !== expected) {
    fail(`${where}: ${end - begin} bytes of data but ${dtype}[${(shape as number[]).join(', ')}] needs ${expected}`, begin);
  }
  return { fileType: dtype as string, shape: shape as number[], begin, end };
}

/**
 * As the format requires, the tensors tile the data section: no overlap, no gap, no bytes left
 * over. A shifted header length or a wrong offset then fails here instead of misreading every tensor.
 */
function checkTiling(entries: Map<string, Entry>, dataStart: number, fileSize: number, fail: (d: string, o?: number) => never): void {
  const sorted = [...entries].filter(([, e]) => e.end > e.begin).sort((a, b) => a[1].begin - b[1].begin);
  let at = dataStart;
  let prevName: string | undefined;
  for (const [name, e] of sorted) {
    if (e.begin < at) fail(`tensor "${name}" overlaps tensor "${prevName}"`, e.begin);
    if (e.begin > at) fail(`${e.begin - at} bytes before tensor "${name}" belong to no tensor (data offsets ${at - dataStart}..${e.begin - dataStart}); the header's offsets do not tile the data`, at);
    at = e.end;
    prevName = name;
  }
  if (at !== fileSize) fail(`${fileSize - at} bytes after the last tensor belong to no tensor (the data section is ${fileSize - dataStart} bytes, the tensors cover ${at - dataStart}); is the header length or an offset wrong?`, at);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) >= 0;
}

/** Several shards presented as one store; `metadata` is the index file's "metadata". */
export class ShardedStore implements TensorStore {
  readonly format = 'safetensors';
  readonly metadata: ReadonlyMap<string, MetaValue>;
  private readonly owner = new Map<string, TensorStore>();

  constructor(readonly path: string, shards: readonly TensorStore[], metadata: ReadonlyMap<string, MetaValue> = new Map()) {
    this.metadata = metadata;
    for (const shard of shards) {
      for (const name of shard.names()) {
        const other = this.owner.get(name);
        if (other) throw new FormatError(path, `tensor "${name}" appears in both ${other.path} and ${shard.path}`);
        this.owner.set(name, shard);
      }
    }
  }

  names(): string[] {
    return [...this.owner.keys()];
  }

  has(name: string): boolean {
    return this.owner.has(name);
  }

  info(name: string): TensorInfo {
    return this.shard(name).info(name);
  }

  read(name: string): HostTensor {
    return this.shard(name).read(name);
  }

  readInto(name: string, dest: Uint8Array): void {
    this.shard(name).readInto(name, dest);
  }

  readRangeInto(name: string, at: number, dest: Uint8Array): void {
    const s = this.shard(name);
    if (!s.readRangeInto) throw new Error(`internal error: shard of "${name}" reads no ranges`);
    s.readRangeInto(name, at, dest);
  }

  private shard(name: string): TensorStore {
    const s = this.owner.get(name);
    if (!s) throw new FormatError(this.path, `no tensor named "${name}"`);
    return s;
  }
}

export const SAFETENSORS_INDEX = 'model.safetensors.index.json';

/**
 * Opens a .safetensors file, a `*.safetensors.index.json`, or a directory holding either
 * `model.safetensors.index.json` or `model.safetensors`.
 */
export function openSafetensors(path: string): TensorStore {
  if (statSync(path).isDirectory()) {
    const index = join(path, SAFETENSORS_INDEX);
    if (existsSync(index)) return openShardIndex(index);
    const single = join(path, 'model.safetensors');
    if (existsSync(single)) return new SafetensorsStore(single);
    throw new FormatError(path, `directory has neither ${SAFETENSORS_INDEX} nor model.safetensors`);
  }
  return path.endsWith('.index.json') ? openShardIndex(path) : new SafetensorsStore(path);
}

function openShardIndex(indexPath: string): TensorStore {
  let index: unknown;
  try {
    index = JSON.parse(readFileSync(indexPath, 'utf8'));
  } catch (e) {
    throw new FormatError(indexPath, `not valid JSON: ${(e as Error).message}`);
  }
  const weightMap = isObject(index) ? index.weight_map : undefined;
  if (!isObject(weightMap)) throw new FormatError(indexPath, '"weight_map" is missing or not an object');
  const files = new Map<string, string[]>();
  for (const [name, file] of Object.entries(weightMap)) {
    if (typeof file !== 'string') throw new FormatError(indexPath, `weight_map["${name}"] is not a file name`);
    files.set(file, [...(files.get(file) ?? []), name]);
  }
  const dir = dirname(indexPath);
  const shards = [...files].map(([file, names]) => {
    const shard = new SafetensorsStore(join(dir, file));
    const missing = names.find((n) => !shard.has(n));
    if (missing) throw new FormatError(indexPath, `weight_map puts "${missing}" in ${file}, which does not hold it`);
    return shard;
  });
  const metadata = new Map<string, MetaValue>();
  const meta = (index as Record<string, unknown>).metadata;
  if (isObject(meta)) {
    for (const [k, v] of Object.entries(meta)) {
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') metadata.set(k, v);
    }
  }
  return new ShardedStore(indexPath, shards, metadata);
}
