// The interface every model-file reader implements, and the one error type they throw.
import { type DType, isDType } from '../../ir/dtype.js';
import { ModelFormatError } from '../../ir/errors.js';
import type { HostTensor } from '../../ir/tensor.js';

/** A metadata value as the file states it (GGUF arrays of numbers become typed arrays). */
export type MetaValue = string | number | bigint | boolean | MetaArray;
export type MetaArray =
  | readonly MetaValue[]
  | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array
  | Float32Array | Float64Array | BigInt64Array | BigUint64Array;

export interface TensorInfo {
  /** Our dtype, or the file's own type name when we cannot read that type (e.g. "IQ4_NL", "F64"). */
  readonly dtype: DType | string;
  /** Row-major shape (outermost first). */
  readonly shape: readonly number[];
}

/**
 * Named tensors in one model file (or one sharded set). Opening reads only headers; `read`
 * fetches one tensor's bytes on demand.
 */
export interface TensorStore {
  /** "safetensors", "gguf", "llama2c". */
  readonly format: string;
  readonly path: string;
  names(): string[];
  has(name: string): boolean;
  /** Throws FormatError for an unknown name. */
  info(name: string): TensorInfo;
  /** Throws FormatError for an unknown name or a type we cannot read. */
  read(name: string): HostTensor;
  /**
   * The bytes `read` would return, written into `dest` (whose length must be the tensor's stored
   * size): a runtime loads weights into its own memory without an intermediate copy.
   */
  readInto(name: string, dest: Uint8Array): void;
  /** `dest.length` of the tensor's stored bytes from byte `at`: weights quantized as they load, a few rows at a time. */
  readRangeInto?(name: string, at: number, dest: Uint8Array): void;
  /** Key/value metadata stored in the file, when the format has any. */
  readonly metadata?: ReadonlyMap<string, MetaValue>;
}

/** A malformed or unsupported model file. The message names the file and what is wrong where. */
export class FormatError extends ModelFormatError {
  override readonly name = 'FormatError';
  constructor(
    readonly file: string,
    readonly detail: string,
    /** Byte offset in the file where the problem is, when known. */
    readonly offset?: number,
  ) {
    super(`${file}: ${detail}${offset === undefined ? '' : ` (at byte ${offset})`}`);
  }
}

/** Throws unless `dest` has exactly the `bytes` a tensor occupies. */
export function checkDestination(file: string, name: string, dest: Uint8Array, bytes: number): void {
  if (dest.length !== bytes) throw new FormatError(file, `tensor "${name}" is ${bytes} bytes, not the ${dest.length} asked for`);
}

/** Throws unless bytes [at, at + dest.length) lie within a tensor of `bytes` bytes. */
export function checkRange(file: string, name: string, at: number, dest: Uint8Array, bytes: number): void {
  if (!Number.isSafeInteger(at) || at < 0 || at + dest.length > bytes) throw new FormatError(file, `tensor "${name}" is ${bytes} bytes; bytes ${at}…${at + dest.length} are outside it`);
}

/** True when `store.info(name).dtype` is one of ours, i.e. `read` can return it. */
export function isReadable(info: TensorInfo): info is TensorInfo & { dtype: DType } {
  return isDType(info.dtype);
}
