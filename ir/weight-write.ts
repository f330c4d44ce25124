// Evaluates a weight source straight into a destination byte range (a runtime's memory), so that
// loading a model with merged or folded weights holds no JS copy of them: stored tensors are read
// into place, merges (concat on axis 0) write each part into its own rows, and a folded norm weight
// (scale_cols) scales the matrix in place, and a weight quantized as it loads (convert to a block
// type) is read, scaled and quantized a few rows at a time when its rows can be read as ranges, so
// no f32 copy of a whole tensor (a 262 MB embedding table at 1.1B) is made. Any other transform is
// evaluated in JS as before and copied, one weight at a time.
import { isQuantized, storageBytes } from './dtype.js';
import { convertF32, type HostTensor, tensor, toF32 } from './tensor.js';
import { evaluateWeight, type WeightExpr, type WeightType, weightType } from './weights.js';

/** How to read a checkpoint's tensors. */
export interface WeightIO {
  leafType(name: string): WeightType;
  readLeaf(name: string): HostTensor;
  /** The leaf's stored bytes into `dest` (exactly their size). */
  readLeafInto(name: string, dest: Uint8Array): void;
  /** `dest.length` of the leaf's stored bytes from byte `at` (optional: stores that read ranges). */
  readLeafRange?(name: string, at: number, dest: Uint8Array): void;
}

/** Bytes of f32 rows quantized at a time. */
const CHUNK_BYTES = 4 << 20;

/** The storage bytes of `e`'s result. */
export function weightBytes(e: WeightExpr, io: Pick<WeightIO, 'leafType'>): number {
  const t = weightType(e, (n) => io.leafType(n));
  return storageBytes(t.dtype, t.shape);
}

/**
 * Writes `e`'s result into `dest`, which must be exactly weightBytes(e) long (and 4-byte aligned).
 * `chunkBytes`: f32 bytes read and quantized at a time when streaming a conversion.
 */
export function writeWeight(e: WeightExpr, dest: Uint8Array, io: WeightIO, chunkBytes = CHUNK_BYTES): void {
  const type = (x: WeightExpr) => weightType(x, (n) => io.leafType(n));
  const t = type(e);
  const bytes = storageBytes(t.dtype, t.shape);
  if (dest.byteLength !== bytes) throw new RangeError(`writeWeight: destination holds ${dest.byteLength} bytes, the weight ${bytes}`);
  if (e.kind === 'tensor') {
    io.readLeafInto(e.name, dest);
    return;
  }
  if (e.fn === 'concat' && e.attrs.axis === 0 && e.args.every((a) => type(a).dtype === t.dtype)) {
    let at = 0;
    for (const a of e.args) {
      const n = weightBytes(a, io);
      writeWeight(a, dest.subarray(at, at + n), io, chunkBytes);
      at += n;
    }
    return;
  }
  if (e.fn === 'scale_cols' && type(e.args[0]).dtype === 'f32' && dest.byteOffset % 4 === 0) {
    writeWeight(e.args[0], dest, io, chunkBytes);
    const [, k] = t.shape;
    const w = new Float32Array(dest.buffer, dest.byteOffset, bytes / 4);
    const off = e.attrs.offset as number;
    // In f64 and rounded once per element, exactly as scale_cols.apply computes it.
    const scale = Float64Array.from(toF32(evaluateWeight(e.args[1], (n) => io.readLeaf(n))), (x) => off + x);
    for (let i = 0; i < w.length; i += k) for (let j = 0; j < k; j++) w[i + j] *= scale[j];
    return;
  }
  if (e.fn === 'convert' && isQuantized(t.dtype) && t.shape.length === 2) {
    const rows = f32Rows(e.args[0], io);
    if (rows) {
      // Quantization is per row (each row padded to whole blocks), so row chunks give the bytes
      // of the whole, exactly.
      const [n, k] = t.shape;
      const rowBytes = storageBytes(t.dtype, [1, k]);
      const step = Math.max(1, Math.floor(chunkBytes / (4 * k)));
      for (let r = 0; r < n; r += step) {
        const m = Math.min(step, n - r);
        const q = convertF32(tensor('f32', [m, k], rows(r, m)), t.dtype);
        dest.set(new Uint8Array(q.data.buffer, q.data.byteOffset, q.data.byteLength), r * rowBytes);
      }
      return;
    }
  }
  const v = evaluateWeight(e, (n) => io.readLeaf(n));
  dest.set(new Uint8Array(v.data.buffer, v.data.byteOffset, v.data.byteLength));
}

/** Rows [r, r + m) of an f32 matrix, as a fresh array. */
type RowReader = (r: number, m: number) => Float32Array;

/**
 * Reads rows of `e`'s f32 result without evaluating the whole: a stored f32 matrix read as a byte
 * range, row merges (concat on axis 0), and folded norm weights (scale_cols). Undefined for any
 * other expression, or when the store cannot read ranges.
 */
function f32Rows(e: WeightExpr, io: WeightIO): RowReader | undefined {
  const t = weightType(e, (n) => io.leafType(n));
  if (t.dtype !== 'f32' || t.shape.length !== 2) return undefined;
  const k = t.shape[1];
  if (e.kind === 'tensor') {
    const read = io.readLeafRange;
    if (!read) return undefined;
    return (r, m) => {
      const out = new Float32Array(m * k);
      read.call(io, e.name, r * k * 4, new Uint8Array(out.buffer));
      return out;
    };
  }
  if (e.fn === 'concat' && e.attrs.axis === 0) {
    const parts = e.args.map((a) => ({ rows: f32Rows(a, io), n: weightType(a, (n) => io.leafType(n)).shape[0] }));
    if (parts.some((p) => !p.rows)) return undefined;
    return (r, m) => {
      const out = new Float32Array(m * k);
      let first = 0;
      for (const p of parts) {
        const lo = Math.max(r, first), hi = Math.min(r + m, first + p.n);
        if (lo < hi) out.set(p.rows!(lo - first, hi - lo), (lo - r) * k);
        first += p.n;
      }
      return out;
    };
  }
  if (e.fn === 'scale_cols') {
    const rows = f32Rows(e.args[0], io);
    if (!rows) return undefined;
    const off = e.attrs.offset as number;
    // In f64 and rounded once per element, exactly as scale_cols.apply computes it.
    const scale = Float64Array.from(toF32(evaluateWeight(e.args[1], (n) => io.readLeaf(n))), (x) => off + x);
    return (r, m) => {
      const w = rows(r, m);
      for (let i = 0; i < w.length; i += k) for (let j = 0; j < k; j++) w[i + j] *= scale[j];
      return w;
    };
  }
  return undefined;
}
