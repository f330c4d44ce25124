// Sequential little-endian reads from a ByteSource, pulling the file in chunks. Every read is
// bounds-checked, and counts read from the file can be checked against the bytes that remain
// before anything is allocated for them.
import { type ByteSource } from './source.js';
import { FormatError } from './store.js';

const CHUNK = 1 << 20;
const utf8 = new TextDecoder('utf-8');

export class Cursor {
  private buf: Uint8Array = new Uint8Array(0);
  private view = new DataView(this.buf.buffer);
  private bufStart = 0;

  constructor(readonly src: ByteSource, public pos = 0) {}

  get remaining(): number {
    return this.src.size - this.pos;
  }

  fail(detail: string, at = this.pos): never {
    throw new FormatError(this.src.name, detail, at);
  }

  /** Makes the buffer cover [pos, pos + n); returns the buffer-relative offset of pos. */
  private ensure(n: number, what: string): number {
    if (n > this.remaining) this.fail(`${what}: needs ${n} bytes but only ${this.remaining} remain in the file`);
    const rel = this.pos - this.bufStart;
    if (rel >= 0 && rel + n <= this.buf.length) return rel;
    const len = Math.min(Math.max(n, CHUNK), this.remaining);
    this.buf = this.src.read(this.pos, len, what);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    this.bufStart = this.pos;
    return 0;
  }

  private take(n: number, what: string): number {
    const rel = this.ensure(n, what);
    this.pos += n;
    return rel;
  }

  // The offset must be taken before `this.view` is read: taking may replace the view.
  u8(what: string): number { const o = this.take(1, what); return this.view.getUint8(o); }
  i8(what: string): number { const o = this.take(1, what); return this.view.getInt8(o); }
  u16(what: string): number { const o = this.take(2, what); return this.view.getUint16(o, true); }
  i16(what: string): number { const o = this.take(2, what); return this.view.getInt16(o, true); }
  u32(what: string): number { const o = this.take(4, what); return this.view.getUint32(o, true); }
  i32(what: string): number { const o = this.take(4, what); return this.view.getInt32(o, true); }
  u64(what: string): bigint { const o = this.take(8, what); return this.view.getBigUint64(o, true); }
  i64(what: string): bigint { const o = this.take(8, what); return this.view.getBigInt64(o, true); }
  f32(what: string): number { const o = this.take(4, what); return this.view.getFloat32(o, true); }
  f64(what: string): number { const o = this.take(8, what); return this.view.getFloat64(o, true); }

  /** A copy of the next n bytes (its own buffer, so typed views on it are aligned). */
  bytes(n: number, what: string): Uint8Array {
    const rel = this.take(n, what);
    return this.buf.slice(rel, rel + n);
  }

  /** A u64 count of items of at least `minItemBytes` each, refused when the file cannot hold them. */
  count(what: string, minItemBytes: number): number {
    const at = this.pos;
    const n = this.u64(what);
    if (n * BigInt(Math.max(minItemBytes, 1)) > BigInt(this.remaining)) {
      this.fail(`${what} is ${n}, more than the ${this.remaining} remaining bytes can hold`, at);
    }
    return Number(n);
  }

  /** A GGUF string: u64 byte length, then UTF-8 bytes (invalid sequences become U+FFFD). */
  string(what: string): string {
    const n = this.count(`${what} length`, 1);
    const rel = this.take(n, what);
    return utf8.decode(this.buf.subarray(rel, rel + n));
  }
}
