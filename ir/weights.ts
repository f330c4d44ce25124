// Parameter sources: where a graph parameter's data comes from. A leaf names a checkpoint tensor;
// a call transforms other sources (transpose a GPT-2 Conv1D weight, slice a fused qkv_proj, concat
// Q/K/V for qkv-merge, fold a norm weight into a matmul, quantize). Passes rewrite these at compile
// time, and loaders and artifacts evaluate them, so the printed IR says exactly how every weight is made.
import { type AttrSchema, type Attrs, type AttrValue, normalizeAttrs } from './attrs.js';
import { CONVERT_DTYPES, isDType, isQuantized, storageBytes, type DType } from './dtype.js';
import { convertF32, type HostTensor, numel, tensor, tensorFromBytes, toF32 } from './tensor.js';

export type WeightExpr =
  | { readonly kind: 'tensor'; readonly name: string }
  | { readonly kind: 'call'; readonly fn: string; readonly args: readonly WeightExpr[]; readonly attrs: Attrs };

export function weightTensor(name: string): WeightExpr {
  return { kind: 'tensor', name };
}

export function weightCall(fn: string, args: readonly WeightExpr[], attrs: Record<string, AttrValue> = {}): WeightExpr {
  const t = WEIGHT_FNS[fn];
  if (!t) throw new Error(`unknown weight transform '${fn}' (known: ${Object.keys(WEIGHT_FNS).join(', ')})`);
  const { attrs: normalized, errors } = normalizeAttrs(t.attrs, attrs);
  if (errors.length) throw new Error(`weight transform ${fn}: ${errors.join('; ')}`);
  return { kind: 'call', fn, args, attrs: normalized };
}

/** The checkpoint tensors a source reads. */
export function weightLeaves(e: WeightExpr, into: string[] = []): string[] {
  if (e.kind === 'tensor') into.push(e.name);
  else for (const a of e.args) weightLeaves(a, into);
  return into;
}

export interface WeightType {
  readonly dtype: DType;
  readonly shape: readonly number[];
}

interface WeightFn {
  readonly attrs: AttrSchema;
  readonly arity: number | 'many';
  readonly summary: string;
  /** Result type from argument types (throws with a message on a mismatch). */
  type(args: readonly WeightType[], attrs: Attrs): WeightType;
  apply(args: readonly HostTensor[], attrs: Attrs): HostTensor;
}

/** Bytes of one index of axis 0 (a whole row for 2-D tensors; quantized rows are whole blocks). */
function rowBytes(t: WeightType): number {
  return t.shape.length <= 1 ? storageBytes(t.dtype, [1]) : storageBytes(t.dtype, t.shape.slice(1));
}

function bytesOf(t: HostTensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/** A tensor of `dtype` and `shape` over raw bytes (copied: the bytes are often a view of another tensor). */
function fromBytes(dtype: DType, shape: readonly number[], bytes: Uint8Array): HostTensor {
  return tensorFromBytes(dtype, shape, bytes.slice());
}

/** Row-wise ops along axis 0 keep the storage type (and quantized blocks) untouched. */
function keepsStorage(t: WeightType, axis: number): boolean {
  return axis === 0 && (t.shape.length >= 2 || !isQuantized(t.dtype));
}

function f32Tensor(shape: readonly number[], data: Float32Array): HostTensor {
  return tensor('f32', shape, data);
}

function need2d(fn: string, t: WeightType): [number, number] {
  if (t.shape.length !== 2) throw new Error(`${fn} needs a 2-D tensor, got [${t.shape.join(', ')}]`);
  return [t.shape[0], t.shape[1]];
}

/** Splits a shape at `axis` into (outer, size, inner) for slicing and concatenation. */
function around(shape: readonly number[], axis: number): [number, number, number] {
  const outer = numel(shape.slice(0, axis));
  const inner = numel(shape.slice(axis + 1));
  return [outer, shape[axis], inner];
}

function checkAxis(fn: string, shape: readonly number[], axis: number): void {
  if (axis < 0 || axis >= shape.length) throw new Error(`${fn}: axis ${axis} is out of range for [${shape.join(', ')}]`);
}

export const WEIGHT_FNS: Readonly<Record<string, WeightFn>> = {
  transpose: {
    summary: 'swap the two axes of a matrix (GPT-2 Conv1D [in, out] → [out, in])',
    attrs: {},
    arity: 1,
    type([t]) {
      const [r, c] = need2d('transpose', t);
      return { dtype: 'f32', shape: [c, r] };
    },
    apply([t]) {
      const [r, c] = need2d('transpose', t);
      const src = toF32(t);
      const out = new Float32Array(r * c);
      for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = src[i * c + j];
      return f32Tensor([c, r], out);
    },
  },
  slice: {
    summary: 'rows or columns [start, end) along an axis (a fused qkv_proj → q, k, v)',
    attrs: { axis: { type: 'int' }, start: { type: 'int' }, end: { type: 'int' } },
    arity: 1,
    type([t], a) {
      const axis = a.axis as number, start = a.start as number, end = a.end as number;
      checkAxis('slice', t.shape, axis);
      if (!(0 <= start && start < end && end <= t.shape[axis])) throw new Error(`slice: [${start}, ${end}) is out of range for axis ${axis} of [${t.shape.join(', ')}]`);
      const shape = [...t.shape];
      shape[axis] = end - start;
      return { dtype: keepsStorage(t, axis) ? t.dtype : 'f32', shape };
    },
    apply([t], a) {
      const axis = a.axis as number, start = a.start as number, end = a.end as number;
      const result = WEIGHT_FNS.slice.type([t], a);
      if (result.dtype === t.dtype && axis === 0) {
        const rb = rowBytes(t);
        return fromBytes(t.dtype, result.shape, bytesOf(t).subarray(start * rb, end * rb));
      }
      const [outer, size, inner] = around(t.shape, axis);
      const src = toF32(t);
      const n = end - start;
      const out = new Float32Array(outer * n * inner);
      for (let o = 0; o < outer; o++) out.set(src.subarray((o * size + start) * inner, (o * size + end) * inner), o * n * inner);
      const shape = [...t.shape];
      shape[axis] = n;
      return f32Tensor(shape, out);
    },
  },
  concat: {
    summary: 'join tensors along an axis (qkv-merge)',
    attrs: { axis: { type: 'int' } },
    arity: 'many',
    type(ts, a) {
      const axis = a.axis as number;
      const first = ts[0];
      for (const t of ts) {
        checkAxis('concat', t.shape, axis);
        if (t.shape.length !== first.shape.length || t.shape.some((d, i) => i !== axis && d !== first.shape[i])) {
          throw new Error(`concat: shapes [${first.shape.join(', ')}] and [${t.shape.join(', ')}] differ off axis ${axis}`);
        }
      }
      const shape = [...first.shape];
      shape[axis] = ts.reduce((n, t) => n + t.shape[axis], 0);
      const same = ts.every((t) => t.dtype === first.dtype && keepsStorage(t, axis));
      return { dtype: same ? first.dtype : 'f32', shape };
    },
    apply(ts, a) {
      const axis = a.axis as number;
      const first = ts[0];
      const result = WEIGHT_FNS.concat.type(ts, a);
      // Raw bytes join only when every part already has the result's storage type.
      if (axis === 0 && ts.every((t) => t.dtype === result.dtype)) {
        const parts = ts.map(bytesOf);
        const joined = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
        let at = 0;
        for (const p of parts) { joined.set(p, at); at += p.length; }
        return fromBytes(result.dtype, result.shape, joined);
      }
      const total = ts.reduce((s, t) => s + t.shape[axis], 0);
      const [outer, , inner] = around(first.shape, axis);
      const out = new Float32Array(outer * total * inner);
      let offset = 0;
      for (const t of ts) {
        const src = toF32(t);
        const n = t.shape[axis];
        for (let o = 0; o < outer; o++) out.set(src.subarray(o * n * inner, (o + 1) * n * inner), (o * total + offset) * inner);
        offset += n;
      }
      const shape = [...first.shape];
      shape[axis] = total;
      return f32Tensor(shape, out);
    },
  },
  scale_cols: {
    summary: 'w[n, k] · (offset + g[k]): folds a norm weight g into the matmul that follows it',
    attrs: { offset: { type: 'float', default: 0 } },
    arity: 2,
    type([w, g]) {
      const [n, k] = need2d('scale_cols', w);
      if (g.shape.length !== 1 || g.shape[0] !== k) throw new Error(`scale_cols: scale has shape [${g.shape.join(', ')}], expected [${k}]`);
      return { dtype: 'f32', shape: [n, k] };
    },
    apply([w, g], a) {
      const [n, k] = need2d('scale_cols', w);
      if (g.shape.length !== 1 || g.shape[0] !== k) throw new Error(`scale_cols: scale has shape [${g.shape.join(', ')}], expected [${k}]`);
      const src = toF32(w);
      const s = toF32(g);
      const off = a.offset as number;
      const out = new Float32Array(n * k);
      for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) out[i * k + j] = src[i * k + j] * (off + s[j]);
      return f32Tensor([n, k], out);
    },
  },
  unpermute_rope: {
    summary: "undo llama.cpp's convert-time row permutation of attn_q/attn_k (interleaved → rotate-half pairs)",
    attrs: { heads: { type: 'int' } },
    arity: 1,
    type([t], a) {
      const heads = a.heads as number;
      if (t.shape.length < 1 || heads <= 0 || t.shape[0] % (2 * heads) !== 0) throw new Error(`unpermute_rope: ${t.shape[0]} rows do not split into ${heads} heads of pairs`);
      return { dtype: keepsStorage(t, 0) ? t.dtype : 'f32', shape: t.shape };
    },
    apply([t], a) {
      const heads = a.heads as number;
      const rows = t.shape[0];
      WEIGHT_FNS.unpermute_rope.type([t], a);
      const hd = rows / heads;
      // Whole rows move, so any storage type (quantized blocks included) is copied as bytes.
      const rb = rowBytes(t);
      const src = bytesOf(t);
      const out = new Uint8Array(src.length);
      // GGUF row h*hd + 2i + j holds HF row h*hd + j*hd/2 + i.
      for (let h = 0; h < heads; h++) {
        for (let i = 0; i < hd / 2; i++) {
          for (let j = 0; j < 2; j++) {
            const from = h * hd + 2 * i + j;
            const to = h * hd + j * (hd / 2) + i;
            out.set(src.subarray(from * rb, (from + 1) * rb), to * rb);
          }
        }
      }
      return fromBytes(t.dtype, t.shape, out);
    },
  },
  convert: {
    summary: `change the storage type (${CONVERT_DTYPES.join(', ')})`,
    attrs: { dtype: { type: 'string', oneOf: CONVERT_DTYPES } },
    arity: 1,
    type([t], a) {
      return { dtype: a.dtype as DType, shape: t.shape };
    },
    apply([t], a) {
      const to = a.dtype as string;
      if (!isDType(to)) throw new Error(`convert: unknown dtype ${to}`);
      if (t.dtype === to) return t;
      return convertF32(t, to as DType);
    },
  },
  reshape: {
    summary: 'same data, new static shape',
    attrs: { shape: { type: 'ints' } },
    arity: 1,
    type([t], a) {
      const shape = a.shape as number[];
      if (numel(shape) !== numel(t.shape)) throw new Error(`reshape: [${t.shape.join(', ')}] has ${numel(t.shape)} elements, [${shape.join(', ')}] needs ${numel(shape)}`);
      if (isQuantized(t.dtype) && shape[shape.length - 1] !== t.shape[t.shape.length - 1]) throw new Error(`reshape: a ${t.dtype} tensor keeps its row length`);
      return { dtype: t.dtype, shape };
    },
    apply([t], a) {
      const shape = a.shape as number[];
      if (numel(shape) !== numel(t.shape)) throw new Error(`reshape: [${t.shape.join(', ')}] has ${numel(t.shape)} elements, [${shape.join(', ')}] needs ${numel(shape)}`);
      return tensor(t.dtype, shape, t.data);
    },
  },
  fold_bias: {
    summary: 'w[n, k] · β[k] (+ b[n]): folds a LayerNorm bias β into the bias of the matmul that follows it',
    attrs: {},
    arity: 'many',
    type(ts) {
      const [w, beta, b] = ts;
      if (ts.length < 2 || ts.length > 3) throw new Error(`fold_bias takes (w, beta) or (w, beta, bias), got ${ts.length} argument(s)`);
      const [n, k] = need2d('fold_bias', w);
      if (beta.shape.length !== 1 || beta.shape[0] !== k) throw new Error(`fold_bias: beta has shape [${beta.shape.join(', ')}], expected [${k}]`);
      if (b && (b.shape.length !== 1 || b.shape[0] !== n)) throw new Error(`fold_bias: bias has shape [${b.shape.join(', ')}], expected [${n}]`);
      return { dtype: 'f32', shape: [n] };
    },
    apply(ts, a) {
      WEIGHT_FNS.fold_bias.type(ts, a);
      const [n, k] = ts[0].shape;
      const w = toF32(ts[0]), beta = toF32(ts[1]), b = ts[2] ? toF32(ts[2]) : undefined;
      const out = new Float32Array(n);
      // Accumulated in f64 and rounded once, like matmul.
      for (let i = 0; i < n; i++) {
        let acc = 0;
        for (let j = 0; j < k; j++) acc += w[i * k + j] * beta[j];
        out[i] = acc + (b ? b[i] : 0);
      }
      return f32Tensor([n], out);
    },
  },
  add_low_rank: {
    summary: 'w[n, k] + scale · b[n, r] · a[r, k]: a low-rank update (a LoRA adapter) merged into the weight it adapts',
    attrs: { scale: { type: 'float', default: 1 } },
    arity: 3,
    type([w, b, a]) {
      const [n, k] = need2d('add_low_rank', w);
      const [bn, r] = need2d('add_low_rank', b);
      const [ar, ak] = need2d('add_low_rank', a);
      if (bn !== n || ak !== k || ar !== r) throw new Error(`add_low_rank: b [${bn}, ${r}] · a [${ar}, ${ak}] does not make the [${n}, ${k}] of w`);
      return { dtype: 'f32', shape: [n, k] };
    },
    apply([w, b, a], attrs) {
      WEIGHT_FNS.add_low_rank.type([w, b, a], attrs);
      const [n, k] = w.shape;
      const r = b.shape[1];
      const src = toF32(w), bs = toF32(b), as = toF32(a);
      const scale = attrs.scale as number;
      const out = new Float32Array(n * k);
      const acc = new Float64Array(k);
      // Each element accumulated in f64 and rounded once, like matmul.
      for (let i = 0; i < n; i++) {
        acc.fill(0);
        for (let j = 0; j < r; j++) {
          const bij = bs[i * r + j];
          for (let c = 0; c < k; c++) acc[c] += bij * as[j * k + c];
        }
        for (let c = 0; c < k; c++) out[i * k + c] = src[i * k + c] + scale * acc[c];
      }
      return f32Tensor([n, k], out);
    },
  },
  zeros: {
    summary: 'a tensor of zeros (qkv-merge: the bias part of a projection that has none)',
    attrs: { shape: { type: 'ints' } },
    arity: 0,
    type(_, a) {
      const shape = a.shape as readonly number[];
      if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(`zeros: shape [${shape.join(', ')}] has a negative dimension`);
      return { dtype: 'f32', shape };
    },
    apply(_, a) {
      const shape = a.shape as readonly number[];
      return f32Tensor(shape, new Float32Array(numel(shape)));
    },
  },
};

/** The type a source evaluates to, from the types of the checkpoint tensors it reads. */
export function weightType(e: WeightExpr, leaf: (name: string) => WeightType): WeightType {
  if (e.kind === 'tensor') return leaf(e.name);
  const fn = WEIGHT_FNS[e.fn];
  if (!fn) throw new Error(`unknown weight transform '${e.fn}'`);
  checkArity(e, fn);
  return fn.type(e.args.map((a) => weightType(a, leaf)), e.attrs);
}

function checkArity(e: { fn: string; args: readonly unknown[] }, fn: WeightFn): void {
  if (fn.arity !== 'many' && e.args.length !== fn.arity) throw new Error(`weight transform ${e.fn} takes ${fn.arity} argument(s), got ${e.args.length}`);
  if (fn.arity === 'many' && e.args.length === 0) throw new Error(`weight transform ${e.fn} needs at least one argument`);
}

/** Evaluates a source, reading leaves through `read` (which names the missing tensor on failure). */
export function evaluateWeight(e: WeightExpr, read: (name: string) => HostTensor): HostTensor {
  if (e.kind === 'tensor') return read(e.name);
  const fn = WEIGHT_FNS[e.fn];
  if (!fn) throw new Error(`unknown weight transform '${e.fn}'`);
  checkArity(e, fn);
  return fn.apply(e.args.map((a) => evaluateWeight(a, read)), e.attrs);
}
