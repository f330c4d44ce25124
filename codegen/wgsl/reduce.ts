// Reductions: softmax along any axis and l2_normalize (one workgroup per row), argmax over the
// last axis (GPU-side greedy decoding: first index of the maximum), masked mean pooling.
import { dimMul, dimProduct } from '../../ir/dim.js';
import type { Node } from '../../ir/graph.js';
import { normAxis } from '../../ir/ops/util.js';
import { loadFlat, storageElem } from './access.js';
import { ceilDiv, f32Lit, FLAT_WORKGROUP, floorPow2, grid1d, KernelBuilder } from './builder.js';
import { rowEntry, rowGrid, rowReduce, rowWorkgroupSize } from './rows.js';
import type { WgslTarget } from './target.js';
import type { WgslLowering } from './types.js';

export function emitSoftmax(node: Node, target: WgslTarget): WgslLowering {
  const x = node.inputs[0].type;
  const axis = normAxis(node.attrs.axis as number, x.shape.length);
  const len = x.shape[axis];
  const inner = dimProduct(x.shape.slice(axis + 1)), outer = dimProduct(x.shape.slice(0, axis));
  const rows = dimMul(outer, inner);
  const k = new KernelBuilder(node, target, 'softmax');
  k.operand(0, 'x', storageElem(x.dtype));
  k.result(0, 'y', 'f32');
  const wg = rowWorkgroupSize(len, target);
  const L = k.dim(len), I = k.dim(inner);
  // Row (o, i) holds elements (o·len + j)·inner + i for j < len.
  const body = `${loadFlat('x_at', 'x', x.dtype)}
${rowReduce(k, 'row_max', 'max', wg)}
${rowReduce(k, 'row_sum', 'sum', wg)}
${rowEntry('softmax', wg, k.dim(rows), `  let L = ${L};
  let I = ${I};
  let base = (row / I) * L * I + row % I;
  var m = x_at(base);
  for (var j = li; j < L; j += ${wg}u) { m = max(m, x_at(base + j * I)); }
  m = row_max(m, li);
  var s = 0.0;
  for (var j = li; j < L; j += ${wg}u) { s += exp(x_at(base + j * I) - m); }
  let inv = 1.0 / row_sum(s, li);
  for (var j = li; j < L; j += ${wg}u) { y[base + j * I] = exp(x_at(base + j * I) - m) * inv; }`)}`;
  return { kernels: [k.build({ body, grid: rowGrid(rows, target), label: `softmax ${wg} x:${x.dtype}` })] };
}

export function emitL2Normalize(node: Node, target: WgslTarget): WgslLowering {
  const x = node.inputs[0].type;
  const d = x.shape[x.shape.length - 1], rows = dimProduct(x.shape.slice(0, -1));
  const k = new KernelBuilder(node, target, 'l2_normalize');
  k.operand(0, 'x', storageElem(x.dtype));
  k.result(0, 'y', 'f32');
  const wg = rowWorkgroupSize(d, target);
  const D = k.dim(d);
  const body = `${loadFlat('x_at', 'x', x.dtype)}
${rowReduce(k, 'row_sum', 'sum', wg)}
${rowEntry('l2_normalize', wg, k.dim(rows), `  let D = ${D};
  let base = row * D;
  var ss = 0.0;
  for (var i = li; i < D; i += ${wg}u) { let v = x_at(base + i); ss += v * v; }
  let inv = 1.0 / max(sqrt(row_sum(ss, li)), ${f32Lit(node.attrs.eps as number)});
  for (var i = li; i < D; i += ${wg}u) { y[base + i] = x_at(base + i) * inv; }`)}`;
  return { kernels: [k.build({ body, grid: rowGrid(rows, target), label: `l2_normalize ${wg} x:${x.dtype}` })] };
}

export function emitArgmax(node: Node, target: WgslTarget): WgslLowering {
  const x = node.inputs[0].type;
  const d = x.shape[x.shape.length - 1], rows = dimProduct(x.shape.slice(0, -1));
  const k = new KernelBuilder(node, target, 'argmax');
  k.operand(0, 'x', storageElem(x.dtype));
  k.result(0, 'y', 'i32');
  const wg = rowWorkgroupSize(d, target);
  const D = k.dim(d);
  // (value, index) pairs; an index of NONE holds nothing. Ties go to the lower index, so the
  // result is the first maximum, as the reference's strict > scan gives.
  const body = `${loadFlat('x_at', 'x', x.dtype)}
const NONE = 0xffffffffu;
var<workgroup> best_v: array<f32, ${wg}>;
var<workgroup> best_i: array<u32, ${wg}>;
fn better(v: f32, i: u32, than_v: f32, than_i: u32) -> bool {
  return i != NONE && (than_i == NONE || v > than_v || (v == than_v && i < than_i));
}
${rowEntry('argmax', wg, k.dim(rows), `  let D = ${D};
  let base = row * D;
  var bv = 0.0;
  var bi = NONE;
  for (var i = li; i < D; i += ${wg}u) {
    let v = x_at(base + i);
    if (better(v, i, bv, bi)) { bv = v; bi = i; }
  }
  best_v[li] = bv;
  best_i[li] = bi;
  workgroupBarrier();
  for (var half = ${k.dim(wg >> 1)}; half > 0u; half >>= 1u) {
    if (li < half && better(best_v[li + half], best_i[li + half], best_v[li], best_i[li])) {
      best_v[li] = best_v[li + half];
      best_i[li] = best_i[li + half];
    }
    workgroupBarrier();
  }
  if (li == 0u) { y[row] = i32(best_i[0]); }`)}`;
  return { kernels: [k.build({ body, grid: rowGrid(rows, target), label: `argmax ${wg} x:${x.dtype}` })] };
}

export function emitMeanPool(node: Node, target: WgslTarget): WgslLowering {
  const [h, mask] = node.inputs.map((v) => v.type);
  const [b, s, d] = h.shape;
  const k = new KernelBuilder(node, target, 'mean_pool');
  k.operand(0, 'h', storageElem(h.dtype));
  k.operand(1, 'mask', storageElem(mask.dtype));
  k.result(0, 'y', 'f32');
  const wg = floorPow2(Math.min(256, target.maxInvocations));
  const n = dimMul(b, d);
  const S = k.dim(s), D = k.dim(d);
  // One invocation per (batch row, feature): a sequential masked sum over the sequence.
  const body = `${loadFlat('h_at', 'h', h.dtype)}
${loadFlat('mask_at', 'mask', mask.dtype)}
@compute @workgroup_size(${wg})
fn mean_pool(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = (${FLAT_WORKGROUP}) * ${wg}u + li;
  if (i >= ${k.dim(n)}) { return; }
  let S = ${S};
  let D = ${D};
  let bi = i / D;
  let c = i % D;
  var acc = 0.0;
  var count = 0.0;
  for (var t = 0u; t < S; t++) {
    let m = mask_at(bi * S + t);
    count += m;
    acc += h_at((bi * S + t) * D + c) * m;
  }
  // The clamp only matters for an all-padding row, which pools to zeros.
  y[i] = acc / max(count, ${f32Lit(1e-9)});
}`;
  return { kernels: [k.build({ body, grid: grid1d(ceilDiv(n, wg), target), label: `mean_pool h:${h.dtype} mask:${mask.dtype}` })] };
}
