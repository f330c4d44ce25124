// Layout ops move elements without looking at them: every kernel here is a gather of raw bits
// (32-bit dtypes word by word; f16/bf16 two elements per u32 word, so no two invocations write
// the same word). reshape is a view (no kernel) unless the target asks for copies; kv_append can
// write only the new rows into a cache buffer that already holds the past ones.
import { type Dim, dimAdd, dimEquals, dimFn, dimMul, dimProduct, dimSub } from '../../ir/dim.js';
import type { Node } from '../../ir/graph.js';
import { normAxis } from '../../ir/ops/util.js';
import { elementBits } from './access.js';
import { ceilDiv, FLAT_WORKGROUP, grid1d, KernelBuilder } from './builder.js';
import type { WgslTarget } from './target.js';
import type { WgslKernel, WgslLowering } from './types.js';

const WG = 256;

interface GatherSpec {
  readonly name: string;
  readonly label: string;
  readonly result: number;
  /** Operand indices, bound in order as s0, s1, …; `fetch` reads them with s<j>_at(index). */
  readonly sources: readonly number[];
  /** `fn fetch(e: u32) -> u32`: the bits of output element e (16-bit values in the low half). */
  readonly fetch: (k: KernelBuilder) => string;
  /** Output elements [base, base + count) are written; the rest of the result is left alone. */
  readonly base: Dim;
  readonly count: Dim;
}

function gather(node: Node, target: WgslTarget, g: GatherSpec): WgslKernel {
  const dtype = node.outputs[g.result].type.dtype;
  const bits = elementBits(dtype);
  const k = new KernelBuilder(node, target, g.name);
  g.sources.forEach((op, j) => k.operand(op, `s${j}`, 'u32'));
  k.result(g.result, 'y', 'u32');
  const readers = g.sources.map((_, j) => (bits === 32
    ? `fn s${j}_at(i: u32) -> u32 { return s${j}[i]; }`
    : `fn s${j}_at(i: u32) -> u32 { return (s${j}[i >> 1u] >> ((i & 1u) << 4u)) & 0xffffu; }`)).join('\n');
  const head = `@compute @workgroup_size(${WG})
fn ${g.name}(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let t = (${FLAT_WORKGROUP}) * ${WG}u + li;`;
  const base = k.dim(g.base), end = k.dim(dimAdd(g.base, g.count));
  let main: string;
  let units: Dim;
  if (bits === 32) {
    units = g.count;
    main = `${head}
  if (t >= ${k.dim(units)}) { return; }
  let e = ${base} + t;
  y[e] = fetch(e);
}`;
  } else {
    // Words overlapping [base, end); a half outside the range keeps what the result holds.
    units = dimSub(dimFn('ceildiv', dimAdd(g.base, g.count), 2), dimFn('floordiv', g.base, 2));
    main = `${head}
  if (t >= ${k.dim(units)}) { return; }
  let w = ${base} / 2u + t;
  let e0 = 2u * w;
  let e1 = e0 + 1u;
  let old = y[w];
  let lo = select(old & 0xffffu, fetch(e0), e0 >= ${base} && e0 < ${end});
  let hi = select(old >> 16u, fetch(e1), e1 >= ${base} && e1 < ${end});
  y[w] = lo | (hi << 16u);
}`;
  }
  return k.build({ body: `${readers}\n${g.fetch(k)}\n${main}`, grid: grid1d(ceilDiv(units, WG), target), label: `${g.label} ${dtype}` });
}

/** A piece of the output along the axis: output positions [at, at + len) come from `operand`, at its position `from`. */
interface Segment {
  readonly source: number;
  readonly at: Dim;
  readonly len: Dim;
  /** The source's length along the axis, and where the piece starts in it. */
  readonly sourceLen: Dim;
  readonly from: Dim;
}

/**
 * `fetch` for an output viewed as [outer, A, inner] around an axis, each output position along it
 * taken from one segment.
 */
function axisFetch(A: Dim, inner: Dim, segments: readonly Segment[]) {
  return (k: KernelBuilder): string => {
    const I = k.dim(inner), len = k.dim(A);
    const cases = segments.map((s, j) => {
      const read = `return s${s.source}_at((o * ${k.dim(s.sourceLen)} + ${k.dim(s.from)} + a - ${k.dim(s.at)}) * ${I} + i);`;
      return j === segments.length - 1 ? `  ${read}` : `  if (a < ${k.dim(dimAdd(s.at, s.len))}) { ${read} }`;
    });
    return `fn fetch(e: u32) -> u32 {
  let i = e % ${I};
  let a = (e / ${I}) % ${len};
  let o = e / (${I} * ${len});
${cases.join('\n')}
}`;
  };
}

/** inner (elements after the axis) and outer (before it) of a shape. */
function around(shape: readonly Dim[], axis: number): { outer: Dim; inner: Dim } {
  return { outer: dimProduct(shape.slice(0, axis)), inner: dimProduct(shape.slice(axis + 1)) };
}

export function emitReshape(node: Node, target: WgslTarget): WgslLowering {
  if (target.aliasViews ?? true) return { kernels: [], aliasOf: 0 };
  const n = dimProduct(node.inputs[0].type.shape);
  return {
    kernels: [gather(node, target, {
      name: 'reshape_copy', label: 'reshape copy', result: 0, sources: [0], base: 0, count: n,
      fetch: () => 'fn fetch(e: u32) -> u32 { return s0_at(e); }',
    })],
  };
}

export function emitSlice(node: Node, target: WgslTarget): WgslLowering {
  const x = node.inputs[0].type;
  const axis = normAxis(node.attrs.axis as number, x.shape.length);
  const start = node.attrs.start as Dim, len = dimSub(node.attrs.end as Dim, start);
  const { inner } = around(x.shape, axis);
  return {
    kernels: [gather(node, target, {
      name: 'slice', label: 'slice', result: 0, sources: [0], base: 0, count: dimProduct(node.outputs[0].type.shape),
      fetch: axisFetch(len, inner, [{ source: 0, at: 0, len, sourceLen: x.shape[axis], from: start }]),
    })],
  };
}

export function emitSplit(node: Node, target: WgslTarget): WgslLowering {
  const x = node.inputs[0].type;
  const axis = normAxis(node.attrs.axis as number, x.shape.length);
  const sizes = node.attrs.sizes as readonly number[];
  // 32-bit elements: one launch writes every piece (a launch costs more than such a copy).
  if (elementBits(x.dtype) === 32 && sizes.length + 1 <= target.maxStorageBuffers) return { kernels: [splitAll(node, target, axis)] };
  const { inner } = around(x.shape, axis);
  let from = 0;
  // One kernel per piece: each is a slice of x.
  const kernels = sizes.map((size, r) => {
    const seg: Segment = { source: 0, at: 0, len: size, sourceLen: x.shape[axis], from };
    from += size;
    return gather(node, target, {
      name: 'split', label: 'split', result: r, sources: [0], base: 0, count: dimProduct(node.outputs[r].type.shape),
      fetch: axisFetch(size, inner, [seg]),
    });
  });
  return { kernels };
}

/** Every piece of a 32-bit split in one launch: each invocation moves one element of x to its piece. */
function splitAll(node: Node, target: WgslTarget, axis: number): WgslKernel {
  const x = node.inputs[0].type;
  const sizes = node.attrs.sizes as readonly number[];
  const k = new KernelBuilder(node, target, 'split_all');
  k.operand(0, 'x', 'u32');
  sizes.forEach((_, r) => k.result(r, `y${r}`, 'u32'));
  const { inner } = around(x.shape, axis);
  const n = dimProduct(x.shape);
  const I = k.dim(inner), A = k.dim(x.shape[axis]);
  let from = 0;
  const writes = sizes.map((size, r) => {
    const write = `y${r}[(o * ${size}u + a - ${from}u) * ${I} + i] = v;`;
    from += size;
    return r === sizes.length - 1 ? `  ${write}` : `  if (a < ${from}u) { ${write} return; }`;
  });
  const body = `@compute @workgroup_size(${WG})
fn split_all(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let e = (${FLAT_WORKGROUP}) * ${WG}u + li;
  if (e >= ${k.dim(n)}) { return; }
  let v = x[e];
  let i = e % ${I};
  let a = (e / ${I}) % ${A};
  let o = e / (${I} * ${A});
${writes.join('\n')}
}`;
  return k.build({ body, grid: grid1d(ceilDiv(n, WG), target), label: `split ${sizes.length} pieces ${x.dtype}` });
}

/** Concatenation of operands `ops` along `axis` into result 0, writing output elements [base, base+count). */
function concatKernel(node: Node, target: WgslTarget, axis: number, name: string, label: string): WgslKernel {
  const out = node.outputs[0].type;
  const { inner } = around(out.shape, axis);
  let at: Dim = 0;
  const segments = node.inputs.map((v, j): Segment => {
    const len = v.type.shape[axis];
    const seg = { source: j, at, len, sourceLen: len, from: 0 };
    at = dimAdd(at, len);
    return seg;
  });
  return gather(node, target, {
    name, label, result: 0, sources: node.inputs.map((_, j) => j), base: 0, count: dimProduct(out.shape),
    fetch: axisFetch(out.shape[axis], inner, segments),
  });
}

export function emitConcat(node: Node, target: WgslTarget): WgslLowering {
  const axis = normAxis(node.attrs.axis as number, node.outputs[0].type.shape.length);
  if (node.inputs.length + 1 > target.maxStorageBuffers) {
    throw new Error(`concat of ${node.inputs.length} operands needs ${node.inputs.length + 1} storage buffers; the device allows ${target.maxStorageBuffers}`);
  }
  return { kernels: [concatKernel(node, target, axis, 'concat', `concat of ${node.inputs.length}`)] };
}

export function emitKvAppend(node: Node, target: WgslTarget): WgslLowering {
  const [past, next] = node.inputs.map((v) => v.type);
  const batched = past.shape.length === 4;
  const axis = batched ? 1 : 0;
  if (!target.kvAppendInPlace) return { kernels: [concatKernel(node, target, axis, 'kv_append', 'kv_append copy')] };
  if (batched && !dimEquals(past.shape[0], 1)) {
    throw new Error(`in-place kv_append needs an unbatched cache or batch 1: with ${String(past.shape[0])} sequences the past rows of every sequence but the first move`);
  }
  // The result buffer already holds the P past rows (it is the past operand's buffer): write the
  // S new rows after them.
  const rowElems = dimProduct(past.shape.slice(axis + 1));
  const n = dimProduct(next.shape);
  const base = dimMul(past.shape[axis], rowElems);
  const kernel = gather(node, target, {
    name: 'kv_append_in_place', label: 'kv_append in place', result: 0, sources: [1], base, count: n,
    fetch: (k) => `fn fetch(e: u32) -> u32 { return s0_at(e - ${k.dim(base)}); }`,
  });
  return { kernels: [kernel], aliasOf: 0 };
}

export function emitTranspose(node: Node, target: WgslTarget): WgslLowering {
  const x = node.inputs[0].type;
  const perm = node.attrs.perm as readonly number[];
  // x's row-major strides, then the output's axes merged where they stay adjacent and in order in x.
  const strides: Dim[] = [];
  let s: Dim = 1;
  for (let i = x.shape.length - 1; i >= 0; i--) { strides[i] = s; s = dimMul(s, x.shape[i]); }
  const axes: { len: Dim; stride: Dim }[] = [];
  perm.forEach((p, k) => {
    if (x.shape[p] === 1) return;
    const prev = axes[axes.length - 1];
    if (prev && k > 0 && perm[k - 1] === p - 1 && dimEquals(prev.stride, dimMul(strides[p], x.shape[p]))) {
      prev.len = dimMul(prev.len, x.shape[p]);
      prev.stride = strides[p];
    } else {
      axes.push({ len: x.shape[p], stride: strides[p] });
    }
  });
  const fetch = (k: KernelBuilder): string => {
    if (axes.length === 0) return 'fn fetch(e: u32) -> u32 { return s0_at(e); }';
    const lines = ['  var rest = e;', '  var at = 0u;'];
    for (let j = axes.length - 1; j >= 0; j--) {
      if (j > 0) lines.push(`  at += (rest % ${k.dim(axes[j].len)}) * ${k.dim(axes[j].stride)};`, `  rest = rest / ${k.dim(axes[j].len)};`);
      else lines.push(`  at += rest * ${k.dim(axes[j].stride)};`);
    }
    return `fn fetch(e: u32) -> u32 {\n${lines.join('\n')}\n  return s0_at(at);\n}`;
  };
  return {
    kernels: [gather(node, target, {
      name: 'transpose', label: `transpose ${axes.length}-axis`, result: 0, sources: [0], base: 0, count: dimProduct(x.shape), fetch,
    })],
  };
}
