// GGUF key/value metadata: the values as JS values (a ReadonlyMap), the GGUF type of each, and
// typed accessors that throw a FormatError naming the key when a value has the wrong type.
import { FormatError, type MetaArray, type MetaValue } from './store.js';

/** GGUF value types by id. */
export const GGUF_VALUE_TYPES = ['u8', 'i8', 'u16', 'i16', 'u32', 'i32', 'f32', 'bool', 'string', 'array', 'u64', 'i64', 'f64'] as const;
export type GgufValueType = (typeof GGUF_VALUE_TYPES)[number];

/** The declared type of one entry; arrays carry their element type (nested arrays nest). */
export type GgufEntryType = GgufValueType | { array: GgufEntryType };

export class GgufMetadata implements ReadonlyMap<string, MetaValue> {
  private readonly map = new Map<string, MetaValue>();
  private readonly types = new Map<string, GgufEntryType>();

  constructor(readonly file: string) {}

  /** Used by the reader while parsing. */
  set(key: string, type: GgufEntryType, value: MetaValue): void {
    this.types.set(key, type);
    this.map.set(key, value);
  }

  typeOf(key: string): GgufEntryType | undefined {
    return this.types.get(key);
  }

  /** A numeric scalar (64-bit values must fit a double exactly). */
  getNumber(key: string): number | undefined {
    const v = this.map.get(key);
    if (v === undefined) return undefined;
    if (typeof v === 'number') return v;
    if (typeof v === 'bigint' && v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
    return this.wrong(key, 'a number');
  }

  getString(key: string): string | undefined {
    const v = this.map.get(key);
    if (v === undefined || typeof v === 'string') return v;
    return this.wrong(key, 'a string');
  }

  getBool(key: string): boolean | undefined {
    const v = this.map.get(key);
    if (v === undefined || typeof v === 'boolean') return v;
    return this.wrong(key, 'a bool');
  }

  getStrings(key: string): readonly string[] | undefined {
    const v = this.map.get(key);
    if (v === undefined) return undefined;
    if (Array.isArray(v) && v.every((s) => typeof s === 'string')) return v as string[];
    return this.wrong(key, 'an array of strings');
  }

  /** A numeric array of any element type as doubles. */
  getNumbers(key: string): ArrayLike<number> | undefined {
    const v = this.map.get(key);
    if (v === undefined) return undefined;
    if (v instanceof BigInt64Array || v instanceof BigUint64Array) return Float64Array.from(v, Number);
    if (ArrayBuffer.isView(v)) return v as Exclude<MetaArray, BigInt64Array | BigUint64Array | readonly MetaValue[]>;
    return this.wrong(key, 'an array of numbers');
  }

  private wrong(key: string, expected: string): never {
    throw new FormatError(this.file, `metadata "${key}" is ${describe(this.types.get(key))}, expected ${expected}`);
  }

  // ReadonlyMap
  get size(): number { return this.map.size; }
  get(key: string): MetaValue | undefined { return this.map.get(key); }
  has(key: string): boolean { return this.map.has(key); }
  keys(): MapIterator<string> { return this.map.keys(); }
  values(): MapIterator<MetaValue> { return this.map.values(); }
  entries(): MapIterator<[string, MetaValue]> { return this.map.entries(); }
  [Symbol.iterator](): MapIterator<[string, MetaValue]> { return this.map.entries(); }
  forEach(fn: (value: MetaValue, key: string, map: ReadonlyMap<string, MetaValue>) => void): void {
    this.map.forEach((v, k) => fn(v, k, this));
  }
}

export function describe(t: GgufEntryType | undefined): string {
  if (t === undefined) return 'missing';
  return typeof t === 'string' ? t : `array of ${describe(t.array)}`;
}
