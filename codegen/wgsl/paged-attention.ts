// WGSL kernels of the paged KV ops (ir/ops/paged-attention.ts).
//
// paged_kv_write: in a step program the result is the pool's own buffer (the memory plan writes
// the state in place, `kvAppendInPlace`), so one kernel scatters the S new rows, a workgroup per
// row. Otherwise (a one-node check) a first kernel copies the pool into the result.
//
// paged_attention: a workgroup per (row, head). Its threads score the row's visible positions
// (walked through the block table) into scratch, reduce the maximum and the sum of e^(s − max) in
// workgroup memory, then each thread accumulates Σ p·v for its value channels and divides.
import { dimMul, dimProduct } from '../../ir/dim.js';
import type { Node } from '../../ir/graph.js';
import { ceilDiv, f32Lit, FLAT_WORKGROUP, grid1d, KernelBuilder } from './builder.js';
import type { WgslTarget } from './target.js';
import type { WgslLowering } from './types.js';

const WG = 64;

function staticDim(node: Node, d: unknown, what: string): number {
  if (typeof d !== 'number') throw new Error(`${node.op} needs a static ${what}`);
  return d;
}

export function emitPagedKvWrite(node: Node, target: WgslTarget): WgslLowering {
  const [pool, next] = node.inputs;
  const [, bs, h, d] = pool.type.shape.map((x, i) => staticDim(node, x, `pool dim ${i}`));
  const m = staticDim(node, node.inputs[2].type.shape[1], 'block table width');
  const rows = next.type.shape[0];
  const scatter = new KernelBuilder(node, target, 'paged_kv_write');
  scatter.operand(1, 'src', 'f32');
  scatter.operand(2, 'tables', 'i32');
  scatter.operand(3, 'pos', 'i32');
  scatter.result(0, 'pool', 'f32');
  const row = h * d;
  const scatterKernel = scatter.build({
    label: 'paged_kv_write scatter',
    grid: grid1d(rows, target),
    body: `@compute @workgroup_size(${WG})
fn paged_kv_write(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let r = ${FLAT_WORKGROUP};
  if (r >= ${scatter.dim(rows)}) { return; }
  let p = u32(pos[r]);
  let block = u32(tables[r * ${scatter.dim(m)} + p / ${scatter.dim(bs)}]);
  let at = (block * ${scatter.dim(bs)} + p % ${scatter.dim(bs)}) * ${scatter.dim(row)};
  for (var c = li; c < ${scatter.dim(row)}; c += ${WG}u) { pool[at + c] = src[r * ${scatter.dim(row)} + c]; }
}`,
  });
  if (target.kvAppendInPlace) return { kernels: [scatterKernel], aliasOf: 0 };
  const copy = new KernelBuilder(node, target, 'paged_kv_copy');
  copy.operand(0, 'src', 'f32');
  copy.result(0, 'dst', 'f32');
  const n = dimProduct(pool.type.shape);
  const copyKernel = copy.build({
    label: 'paged_kv_write copy',
    grid: grid1d(ceilDiv(n, 256), target),
    body: `@compute @workgroup_size(256)
fn paged_kv_copy(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let e = (${FLAT_WORKGROUP}) * 256u + li;
  if (e < ${copy.dim(n)}) { dst[e] = src[e]; }
}`,
  });
  return { kernels: [copyKernel, scatterKernel] };
}

export function emitPagedAttention(node: Node, target: WgslTarget): WgslLowering {
  const [q, k, v, blocks] = node.inputs;
  const hq = staticDim(node, q.type.shape[1], 'q heads');
  const d = staticDim(node, q.type.shape[2], 'head dim');
  const [, bs, hkv] = k.type.shape.map((x, i) => staticDim(node, x, `k dim ${i}`));
  const dv = staticDim(node, v.type.shape[3], 'value dim');
  const m = staticDim(node, blocks.type.shape[1], 'block table width');
  const scale = node.attrs.scale as number, cap = node.attrs.softcap as number, window = node.attrs.window as number;
  const rows = q.type.shape[0];
  const maxKeys = m * bs;
  const kb = new KernelBuilder(node, target, 'paged_attention');
  kb.operand(0, 'q', 'f32');
  kb.operand(1, 'kp', 'f32');
  kb.operand(2, 'vp', 'f32');
  kb.operand(3, 'tables', 'i32');
  kb.operand(4, 'lens', 'i32');
  kb.result(0, 'y', 'f32');
  // One row of scores per (row, head) work item.
  kb.scratch(0, dimMul(dimMul(rows, hq), maxKeys * 4), 'scores', 'f32');
  const D = (x: number) => kb.dim(x);
  const capped = cap > 0 ? `s = ${f32Lit(cap)} * tanh(s / ${f32Lit(cap)});` : '';
  const body = `var<workgroup> red: array<f32, ${WG}>;
fn slot_of(r: u32, j: u32) -> u32 {
  return u32(tables[r * ${D(m)} + j / ${D(bs)}]) * ${D(bs)} + j % ${D(bs)};
}
@compute @workgroup_size(${WG})
fn paged_attention(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let item = ${FLAT_WORKGROUP};
  // Every thread reaches every barrier: out-of-range items do no work but do not return early.
  let live = item < ${kb.dim(rows)} * ${D(hq)};
  let r = select(0u, item / ${D(hq)}, live);
  let h = item % ${D(hq)};
  let kh = h / ${D(hq / hkv)};
  let len = select(0u, u32(lens[r]), live);
  let first = ${window > 0 ? `select(0u, len - ${D(window)}, len > ${D(window)})` : '0u'};
  let base = item * ${D(maxKeys)};
  var mx = -3.4028234663852886e38;
  for (var j = first + li; j < len; j += ${WG}u) {
    let ko = (slot_of(r, j) * ${D(hkv)} + kh) * ${D(d)};
    let qo = (r * ${D(hq)} + h) * ${D(d)};
    var s = 0.0;
    for (var c = 0u; c < ${D(d)}; c++) { s += q[qo + c] * kp[ko + c]; }
    s *= ${f32Lit(scale)};
    ${capped}
    scores[base + j - first] = s;
    mx = max(mx, s);
  }
  red[li] = mx;
  workgroupBarrier();
  for (var w = ${WG / 2}u; w > 0u; w >>= 1u) {
    if (li < w) { red[li] = max(red[li], red[li + w]); }
    workgroupBarrier();
  }
  mx = red[0];
  workgroupBarrier();
  var l = 0.0;
  for (var j = first + li; j < len; j += ${WG}u) {
    let p = exp(scores[base + j - first] - mx);
    scores[base + j - first] = p;
    l += p;
  }
  red[li] = l;
  storageBarrier();
  workgroupBarrier();
  for (var w = ${WG / 2}u; w > 0u; w >>= 1u) {
    if (li < w) { red[li] = red[li] + red[li + w]; }
    workgroupBarrier();
  }
  l = red[0];
  if (!live) { return; }
  // No positions (length 0): zeros, as the reference.
  let inv = select(0.0, 1.0 / l, l > 0.0);
  for (var c = li; c < ${D(dv)}; c += ${WG}u) {
    var acc = 0.0;
    for (var j = first; j < len; j++) {
      acc += scores[base + j - first] * vp[(slot_of(r, j) * ${D(hkv)} + kh) * ${D(dv)} + c];
    }
    y[(r * ${D(hq)} + h) * ${D(dv)} + c] = acc * inv;
  }
}`;
  return { kernels: [kb.build({ label: 'paged_attention', grid: grid1d(dimMul(rows, hq), target), body })] };
}
