// Layout kernels: reshape, slice, split, concat, kv_append and transpose only move elements (of
// 2 or 4 bytes; block-quantized tensors are rejected by the ops). All but transpose are "run
// copies": for each outer index, one contiguous run of the source goes to one contiguous run of
// the destination, so every thread copies an equal share of (run, 4 KiB chunk) pairs (_t_copy).
// transpose gathers rows of the result; its innermost axis is one run copy when the permutation
// keeps the last axis last ([S, H, D] → [H, S, D]), else a strided element loop.
//
// A memory planner that aliases reshape's result with its operand (and appends to the KV cache in
// place) can drop the reshape and kv_append launches; these kernels are the general fallback.
import { type Dim, dimAdd, dimMul, dimProduct, dimSub } from '../../ir/dim.js';
import type { Node } from '../../ir/graph.js';
import { normAxis } from '../../ir/ops/util.js';
import { KernelWriter, type WasmKernel } from './kernel.js';
import { elemBytes } from './loads.js';

const CHUNK_BYTES = 4096;

/** One run copy: `runs` runs of `runElems` elements from src (+srcOff, stride srcStride) to dst. */
interface RunCopy {
  readonly src: string;
  readonly dst: string;
  readonly runs: Dim;
  readonly runElems: Dim;
  readonly srcStride: Dim;
  readonly srcOff: Dim;
  readonly dstStride: Dim;
  readonly dstOff: Dim;
}

function emitRunCopy(w: KernelWriter, c: RunCopy, eb: number): void {
  const d = (x: Dim) => `(<usize>${w.dim(x)})`;
  w.line(
    '{',
    `const runBytes: i64 = <i64>${w.dim(c.runElems)} * ${eb};`,
    `const nch = <i32>((runBytes + ${CHUNK_BYTES - 1}) / ${CHUNK_BYTES});`,
    `const items = ${w.dim(c.runs)} * nch;`,
    'const it0 = _t_split(items, tid, nthreads), it1 = _t_split(items, tid + 1, nthreads);',
    'for (let it = it0; it < it1; it++) {',
    'const o = it / nch;',
    `const b0 = <i64>(it - o * nch) * ${CHUNK_BYTES};`,
    `const len = <usize>(min(b0 + ${CHUNK_BYTES}, runBytes) - b0);`,
    `const s = ${c.src} + ((<usize>o) * ${d(c.srcStride)} + ${d(c.srcOff)}) * ${eb} + <usize>b0;`,
    `const t = ${c.dst} + ((<usize>o) * ${d(c.dstStride)} + ${d(c.dstOff)}) * ${eb} + <usize>b0;`,
    '_t_copy(t, s, len);',
    '}',
    '}',
  );
}

/** Shape as [outer, along axis, inner] products. */
function around(shape: readonly Dim[], axis: number): { outer: Dim; inner: Dim } {
  return { outer: dimProduct(shape.slice(0, axis)), inner: dimProduct(shape.slice(axis + 1)) };
}

function emitReshape(node: Node): WasmKernel[] {
  const x = node.inputs[0];
  const w = new KernelWriter('copy');
  const src = w.ptr({ kind: 'operand', index: 0 }, 'px');
  const dst = w.ptr({ kind: 'result', index: 0 }, 'py');
  const n = dimProduct(x.type.shape);
  emitRunCopy(w, { src, dst, runs: 1, runElems: n, srcStride: 0, srcOff: 0, dstStride: 0, dstOff: 0 }, elemBytes(x.type.dtype));
  return [w.finish()];
}

function emitSlice(node: Node): WasmKernel[] {
  const x = node.inputs[0];
  const axis = normAxis(node.attrs.axis as number, x.type.shape.length);
  const { outer, inner } = around(x.type.shape, axis);
  const start = node.attrs.start as Dim, end = node.attrs.end as Dim;
  const len = dimSub(end, start);
  const w = new KernelWriter('slice');
  const src = w.ptr({ kind: 'operand', index: 0 }, 'px');
  const dst = w.ptr({ kind: 'result', index: 0 }, 'py');
  emitRunCopy(w, {
    src, dst, runs: outer, runElems: dimMul(len, inner),
    srcStride: dimMul(x.type.shape[axis], inner), srcOff: dimMul(start, inner),
    dstStride: dimMul(len, inner), dstOff: 0,
  }, elemBytes(x.type.dtype));
  return [w.finish()];
}

function emitSplit(node: Node): WasmKernel[] {
  const x = node.inputs[0];
  const axis = normAxis(node.attrs.axis as number, x.type.shape.length);
  const { outer, inner } = around(x.type.shape, axis);
  const w = new KernelWriter('split');
  const src = w.ptr({ kind: 'operand', index: 0 }, 'px');
  let start = 0;
  (node.attrs.sizes as readonly number[]).forEach((size, p) => {
    const dst = w.ptr({ kind: 'result', index: p }, `py${p}`);
    emitRunCopy(w, {
      src, dst, runs: outer, runElems: dimMul(size, inner),
      srcStride: dimMul(x.type.shape[axis], inner), srcOff: dimMul(start, inner),
      dstStride: dimMul(size, inner), dstOff: 0,
    }, elemBytes(x.type.dtype));
    start += size;
  });
  return [w.finish()];
}

/** concat along `axis` (kv_append is concat on the sequence axis). */
function emitJoin(node: Node, axis: number, family: string): WasmKernel[] {
  const out = node.outputs[0].type.shape;
  const { outer, inner } = around(out, axis);
  const w = new KernelWriter(family);
  const srcs = node.inputs.map((_, k) => w.ptr({ kind: 'operand', index: k }, `px${k}`));
  const dst = w.ptr({ kind: 'result', index: 0 }, 'py');
  const total = dimMul(out[axis], inner);
  let off: Dim = 0;
  node.inputs.forEach((x, k) => {
    const run = dimMul(x.type.shape[axis], inner);
    emitRunCopy(w, { src: srcs[k], dst, runs: outer, runElems: run, srcStride: run, srcOff: 0, dstStride: total, dstOff: off }, elemBytes(x.type.dtype));
    off = dimAdd(off, run);
  });
  return [w.finish()];
}

function emitTranspose(node: Node): WasmKernel[] {
  const x = node.inputs[0];
  const perm = node.attrs.perm as readonly number[];
  const eb = elemBytes(x.type.dtype);
  const shape = x.type.shape;
  const r = shape.length;
  const w = new KernelWriter('transpose');
  const src = w.ptr({ kind: 'operand', index: 0 }, 'px');
  const dst = w.ptr({ kind: 'result', index: 0 }, 'py');
  if (r === 0) {
    w.line(`if (tid == 0) memory.copy(${dst}, ${src}, ${eb});`);
    return [w.finish()];
  }
  // x's element stride along each of its axes, and the result's dims.
  const xStride = shape.map((_, i) => dimProduct(shape.slice(i + 1)));
  const od = perm.map((p) => w.dim(shape[p]));
  const inner = od[r - 1];
  const innerStride = w.dim(xStride[perm[r - 1]]);
  const rows = w.dim(dimProduct(perm.slice(0, -1).map((p) => shape[p])));
  w.line(
    `const inner: i32 = ${inner};`,
    `const r0 = _t_split(${rows}, tid, nthreads), r1 = _t_split(${rows}, tid + 1, nthreads);`,
    'for (let row = r0; row < r1; row++) {',
    'let rem = row;',
    'let off: i64 = 0;',
  );
  for (let k = r - 2; k >= 0; k--) {
    w.line(`{ const q = rem / ${od[k]}; off += <i64>(rem - q * ${od[k]}) * <i64>${w.dim(xStride[perm[k]])}; rem = q; }`);
  }
  w.line(`const t = ${dst} + (<usize>row) * (<usize>inner) * ${eb};`, `const s = ${src} + (<usize>off) * ${eb};`);
  if (perm[r - 1] === r - 1) {
    w.line(`_t_copy(t, s, (<usize>inner) * ${eb});`);
  } else {
    const T = eb === 4 ? 'u32' : 'u16';
    w.line(`for (let j = 0; j < inner; j++) store<${T}>(t + (<usize>j) * ${eb}, load<${T}>(s + (<usize>j) * (<usize>${innerStride}) * ${eb}));`);
  }
  w.line('}');
  return [w.finish()];
}

export const layoutEmitters: Record<string, (node: Node) => WasmKernel[]> = {
  reshape: emitReshape,
  slice: emitSlice,
  split: emitSplit,
  concat: (node) => emitJoin(node, normAxis(node.attrs.axis as number, node.outputs[0].type.shape.length), 'concat'),
  kv_append: (node) => emitJoin(node, node.outputs[0].type.shape.length - 3, 'kv_append'),
  transpose: emitTranspose,
};
