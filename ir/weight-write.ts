// Evaluates a weight source straight into a destination byte range (a runtime's memory), so that
// loading a model with merged or folded weights holds no JS copy of them: stored tensors are read
// into place, merges (concat on axis 0) write each part into its own rows, and a folded norm weight
// (scale_cols) scales the matrix in place. Any other transform is evaluated in JS as before and
// copied, one weight at a time.
import { storageBytes } from './dtype.js';
import { type HostTensor, toF32 } from './tensor.js';
import { evaluateWeight, type WeightExpr, type WeightType, weightType } from './weights.js';

/** How to read a checkpoint's tensors. */
export interface WeightIO {
  leafType(name: string): WeightType;
  readLeaf(name: string): HostTensor;
  /** The leaf's stored bytes into `dest` (exactly their size). */
  readLeafInto(name: string, dest: Uint8Array): void;
}

/** The storage bytes of `e`'s result. */
export function weightBytes(e: WeightExpr, io: Pick<WeightIO, 'leafType'>): number {
  const t = weightType(e, (n) => io.leafType(n));
  return storageBytes(t.dtype, t.shape);
}

/** Writes `e`'s result into `dest`, which must be exactly weightBytes(e) long (and 4-byte aligned). */
export function writeWeight(e: WeightExpr, dest: Uint8Array, io: WeightIO): void {
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
      writeWeight(a, dest.subarray(at, at + n), io);
      at += n;
    }
    return;
  }
  if (e.fn === 'scale_cols' && type(e.args[0]).dtype === 'f32' && dest.byteOffset % 4 === 0) {
    writeWeight(e.args[0], dest, io);
    const [, k] = t.shape;
    const w = new Float32Array(dest.buffer, dest.byteOffset, bytes / 4);
    const off = e.attrs.offset as number;
    // In f64 and rounded once per element, exactly as scale_cols.apply computes it.
    const scale = Float64Array.from(toF32(evaluateWeight(e.args[1], (n) => io.readLeaf(n))), (x) => off + x);
    for (let i = 0; i < w.length; i += k) for (let j = 0; j < k; j++) w[i + j] *= scale[j];
    return;
  }
  const v = evaluateWeight(e, (n) => io.readLeaf(n));
  dest.set(new Uint8Array(v.data.buffer, v.data.byteOffset, v.data.byteLength));
}
