// Random access to the bytes of a model file, with every read bounds-checked. Readers take a
// ByteSource rather than a path so tests can hand them mutated bytes without touching disk.
import { nodeBuiltin } from '../../runtime/platform/node-builtin.js';
import { FormatError } from './store.js';

/** node:fs, where there is one (a browser has no paths: it gives a MemorySource instead). */
const fs = () => nodeBuiltin<typeof import('node:fs')>('node:fs', 'reading a file by path');

export interface ByteSource {
  /** Names the source in error messages (the file path). */
  readonly name: string;
  readonly size: number;
  /**
   * `length` bytes from `offset` in a fresh buffer (so typed views on it are aligned).
   * Throws FormatError naming `what` when the range runs past the end.
   */
  read(offset: number, length: number, what: string): Uint8Array;
  /** The same bytes (dest.length of them) written into `dest`, e.g. straight into a runtime's memory. */
  readInto(offset: number, dest: Uint8Array, what: string): void;
}

function checkRange(src: ByteSource, offset: number, length: number, what: string): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new FormatError(src.name, `${what}: invalid range (offset ${offset}, ${length} bytes)`, offset);
  }
  if (offset + length > src.size) {
    throw new FormatError(src.name, `${what}: needs bytes ${offset}..${offset + length} but the file has ${src.size}`, offset);
  }
}

/** A file on disk, opened per read: stores hold no descriptors, so nothing needs closing. */
export class FileSource implements ByteSource {
  readonly size: number;
  constructor(readonly name: string) {
    const fd = fs().openSync(name, 'r');
    try {
      this.size = fs().fstatSync(fd).size;
    } finally {
      fs().closeSync(fd);
    }
  }

  read(offset: number, length: number, what: string): Uint8Array {
    const out = new Uint8Array(length);
    this.readInto(offset, out, what);
    return out;
  }

  readInto(offset: number, dest: Uint8Array, what: string): void {
    const length = dest.length;
    checkRange(this, offset, length, what);
    const fd = fs().openSync(this.name, 'r');
    try {
      let done = 0;
      while (done < length) {
        const n = fs().readSync(fd, dest, done, length - done, offset + done);
        if (n === 0) throw new FormatError(this.name, `${what}: file shrank while reading`, offset + done);
        done += n;
      }
    } finally {
      fs().closeSync(fd);
    }
  }
}

/** Bytes already in memory. */
export class MemorySource implements ByteSource {
  constructor(readonly name: string, private readonly bytes: Uint8Array) {}

  get size(): number {
    return this.bytes.length;
  }

  read(offset: number, length: number, what: string): Uint8Array {
    checkRange(this, offset, length, what);
    return this.bytes.slice(offset, offset + length);
  }

  readInto(offset: number, dest: Uint8Array, what: string): void {
    checkRange(this, offset, dest.length, what);
    dest.set(this.bytes.subarray(offset, offset + dest.length));
  }
}

export function toSource(pathOrSource: string | ByteSource): ByteSource {
  return typeof pathOrSource === 'string' ? new FileSource(pathOrSource) : pathOrSource;
}
