// attention: softmax(scale·q·kᵀ + mask)·v with GQA, causal / sliding-window / padding masks and
// Gemma-2's softcap, q [B?, S, Hq, D], k [B?, T, Hkv, D], v [B?, T, Hkv, Dv], query i at absolute
// position T − S + i. Masked scores are float32's lowest finite value, as in the reference (and
// HF), not −∞: a row whose keys are all masked averages them uniformly instead of giving NaN.
//
// Two forms:
//  - flash (prefill): a workgroup takes Br queries of one head, walks the keys in tiles of Bc
//    staged in workgroup memory, and keeps a running max, sum and output (online softmax).
//    Without a padding mask, key tiles that no query of the workgroup can see (beyond the causal
//    edge, before the window) are skipped.
//  - split-K (flash decoding, S = 1): one workgroup per (query, head, chunk of CHUNK = 16 keys)
//    writes a partial (max, sum, Σp·v) to scratch; a second kernel combines the chunks.
// With a symbolic S both are emitted: split-K when S = 1, flash otherwise.
import { type Dim, dimFn, dimMul } from '../../ir/dim.js';
import type { DType } from '../../ir/dtype.js';
import type { Node } from '../../ir/graph.js';
import { loadFlat, storageElem } from './access.js';
import { ceilDiv, f32Lit, floorPow2, KernelBuilder } from './builder.js';
import { TANH_WGSL } from './math.js';
import { workgroupReduceFn } from './reduce-wg.js';
import type { WgslTarget } from './target.js';
import type { WgslKernel, WgslLowering } from './types.js';

/** float32's lowest finite value (the reference's F32_MIN), written by its bits. */
const F32_LOWEST = 'bitcast<f32>(0xff7fffffu)';
/** Keys per split-K work item: short, so that a decode step over a few hundred positions still
 *  gives every SM several workgroups and each invocation's dependent loads stay few. */
const CHUNK = 16;
const SPLIT_WG = 64;
const PARTIALS = 0;

export type AttentionVariant = 'flash' | 'split';

interface Shape {
  batched: boolean;
  b: Dim;
  s: Dim;
  t: Dim;
  hq: number;
  hkv: number;
  d: number;
  dv: number;
  dtypes: DType[];
  mask?: DType;
}

function shapeOf(node: Node): Shape {
  const [q, k, v, mask] = node.inputs.map((x) => x.type);
  const batched = q.shape.length === 4;
  const [s, hq, d] = q.shape.slice(-3), [t, hkv] = k.shape.slice(-3), dv = v.shape[v.shape.length - 1];
  for (const [what, x] of [['Hq', hq], ['Hkv', hkv], ['D', d], ['Dv', dv]] as const) {
    if (typeof x !== 'number') throw new Error(`attention: ${what} = ${String(x)} must be static for WGSL`);
  }
  return {
    batched, b: batched ? q.shape[0] : 1, s, t,
    hq: hq as number, hkv: hkv as number, d: d as number, dv: dv as number,
    dtypes: [q.dtype, k.dtype, v.dtype],
    ...(mask ? { mask: mask.dtype } : {}),
  };
}

function bindInputs(k: KernelBuilder, sh: Shape): void {
  k.operand(0, 'q', storageElem(sh.dtypes[0]));
  k.operand(1, 'k', storageElem(sh.dtypes[1]));
  k.operand(2, 'v', storageElem(sh.dtypes[2]));
  if (sh.mask) k.operand(3, 'mask', storageElem(sh.mask));
}

/** Loaders and `fn score(dot, qpos, j, b) -> f32`: scaled, capped, masked exactly as the reference. */
function scoreHelpers(node: Node, k: KernelBuilder, sh: Shape): string {
  const a = node.attrs;
  const scale = a.scale as number, cap = a.softcap as number, window = a.window as number, causal = a.causal as boolean;
  const T = k.dim(sh.t);
  const visible = [
    ...(causal ? ['j <= qpos'] : []),
    ...(window > 0 ? [`j + ${window}u > qpos`] : []),
    ...(sh.mask ? [`mask_at(b * ${T} + j) != 0.0`] : []),
  ];
  return `${loadFlat('q_at', 'q', sh.dtypes[0])}
${loadFlat('k_at', 'k', sh.dtypes[1])}
${loadFlat('v_at', 'v', sh.dtypes[2])}
${sh.mask ? loadFlat('mask_at', 'mask', sh.mask) : ''}
${cap > 0 ? TANH_WGSL : ''}
fn score(dot: f32, qpos: u32, j: u32, b: u32) -> f32 {
  var s = ${f32Lit(scale)} * dot;
  ${cap > 0 ? `s = ${f32Lit(cap)} * tanh_f32(s / ${f32Lit(cap)});` : ''}
  ${visible.length ? `if (!(${visible.join(' && ')})) { s = ${F32_LOWEST}; }` : ''}
  _ = qpos; _ = j; _ = b;
  return s;
}`;
}

/** The keys [start, end) a query range [qmin, qmax] can see, when no padding mask widens that. */
function keyRange(node: Node, sh: Shape, T: string): { start: (qmin: string) => string; end: (qmax: string) => string } {
  const window = node.attrs.window as number, causal = node.attrs.causal as boolean;
  const skip = !sh.mask;
  return {
    start: (qmin) => (skip && window > 0 ? `select(0u, ${qmin} + 1u - ${window}u, ${qmin} + 1u > ${window}u)` : '0u'),
    end: (qmax) => (skip && causal ? `min(${T}, ${qmax} + 1u)` : T),
  };
}

/** Tile sizes for the flash kernel: the largest that fit the workgroup memory. */
function flashTiles(sh: Shape, target: WgslTarget): { br: number; bc: number; lr: number; dpt: number } {
  const fits = (br: number, bc: number) => 4 * (br * sh.d + bc * sh.d + bc * sh.dv + br * bc) <= target.maxWorkgroupStorage;
  for (const [br, bc] of [[16, 32], [16, 16], [8, 16], [8, 8], [4, 8], [4, 4], [2, 4], [1, 4], [1, 2], [1, 1]]) {
    if (!fits(br, bc)) continue;
    const wg = floorPow2(Math.min(256, target.maxInvocations));
    const lr = Math.max(1, Math.min(Math.floor(wg / br), 2 ** Math.ceil(Math.log2(sh.dv))));
    return { br, bc, lr, dpt: Math.ceil(sh.dv / lr) };
  }
  throw new Error(`attention: head dims ${sh.d}/${sh.dv} do not fit ${target.maxWorkgroupStorage} bytes of workgroup memory`);
}

function flash(node: Node, target: WgslTarget, sh: Shape, when?: WgslKernel['when']): WgslKernel {
  const k = new KernelBuilder(node, target, 'attention_flash');
  bindInputs(k, sh);
  k.result(0, 'y', 'f32');
  const { br, bc, lr, dpt } = flashTiles(sh, target);
  const wg = br * lr;
  const S = k.dim(sh.s), T = k.dim(sh.t), D = k.dim(sh.d), DV = k.dim(sh.dv);
  const range = keyRange(node, sh, 'T');
  const n = (x: number) => k.dim(x);
  const body = `${scoreHelpers(node, k, sh)}
var<workgroup> qs: array<f32, ${br * sh.d}>;
var<workgroup> ks: array<f32, ${bc * sh.d}>;
var<workgroup> vs: array<f32, ${bc * sh.dv}>;
var<workgroup> ps: array<f32, ${br * bc}>;
@compute @workgroup_size(${wg})
fn attention_flash(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let S = ${S};
  let T = ${T};
  let D = ${D};
  let DV = ${DV};
  let b = wid.z;
  let h = wid.y;
  let kh = h / ${sh.hq / sh.hkv}u;
  let i0 = wid.x * ${br}u;
  // Invocation li owns query row r and output dims lane, lane + ${lr}, …
  let r = li / ${lr}u;
  let lane = li % ${lr}u;
  for (var e = li; e < ${n(br * sh.d)}; e += ${wg}u) {
    let rr = e / D;
    var x = 0.0;
    if (i0 + rr < S) { x = q_at(((b * S + i0 + rr) * ${sh.hq}u + h) * D + e % D); }
    qs[e] = x;
  }
  let qmin = T - S + i0;
  let qmax = T - S + min(i0 + ${br}u, S) - 1u;
  let jstart = ${range.start('qmin')};
  let jend = ${range.end('qmax')};
  var m = ${F32_LOWEST};
  var l = 0.0;
  var o: array<f32, ${dpt}>;
  for (var j0 = jstart; j0 < jend; j0 += ${bc}u) {
    let cn = min(${bc}u, jend - j0);
    workgroupBarrier(); // the previous tile is consumed (and the queries are loaded)
    for (var e = li; e < ${n(bc * sh.d)}; e += ${wg}u) {
      let c = e / D;
      var x = 0.0;
      if (c < cn) { x = k_at(((b * T + j0 + c) * ${sh.hkv}u + kh) * D + e % D); }
      ks[e] = x;
    }
    for (var e = li; e < ${n(bc * sh.dv)}; e += ${wg}u) {
      let c = e / DV;
      var x = 0.0;
      if (c < cn) { x = v_at(((b * T + j0 + c) * ${sh.hkv}u + kh) * DV + e % DV); }
      vs[e] = x;
    }
    workgroupBarrier();
    for (var e = li; e < ${n(br * bc)}; e += ${wg}u) {
      let rr = e / ${bc}u;
      let c = e % ${bc}u;
      var dot = 0.0;
      for (var dd = 0u; dd < D; dd++) { dot += qs[rr * D + dd] * ks[c * D + dd]; }
      ps[e] = score(dot, qmin + rr, j0 + c, b);
    }
    workgroupBarrier();
    var mn = m;
    for (var c = 0u; c < cn; c++) { mn = max(mn, ps[r * ${bc}u + c]); }
    let alpha = exp(m - mn);
    l *= alpha;
    for (var t = 0u; t < ${n(dpt)}; t++) { o[t] *= alpha; }
    for (var c = 0u; c < cn; c++) {
      let p = exp(ps[r * ${bc}u + c] - mn);
      l += p;
      for (var t = 0u; t < ${n(dpt)}; t++) {
        let dd = min(lane + ${lr}u * t, DV - 1u);
        o[t] += p * vs[c * DV + dd];
      }
    }
    m = mn;
  }
  if (i0 + r < S) {
    for (var t = 0u; t < ${n(dpt)}; t++) {
      let dd = lane + ${lr}u * t;
      if (dd < DV) { y[((b * S + i0 + r) * ${sh.hq}u + h) * DV + dd] = o[t] / l; }
    }
  }
}`;
  return k.build({
    body,
    grid: [ceilDiv(sh.s, br), sh.hq, sh.b],
    label: `attention.flash ${br}x${bc} lanes ${lr} d${sh.d}/${sh.dv} g${sh.hq / sh.hkv}${sh.mask ? ' mask' : ''}`,
    ...(when ? { when } : {}),
  });
}

/** Scratch of the split-K form: per (query, head, chunk) a max, a sum and Dv weighted values. */
function splitLayout(sh: Shape): { splits: Dim; rows: Dim; bytes: Dim } {
  const splits = dimFn('ceildiv', sh.t, CHUNK);
  const rows = dimMul(sh.b, sh.s);
  return { splits, rows, bytes: dimMul(dimMul(dimMul(rows, sh.hq), splits), 4 * (sh.dv + 2)) };
}

function splitPartial(node: Node, target: WgslTarget, sh: Shape, wg: number, when?: WgslKernel['when']): WgslKernel {
  const { splits, rows, bytes } = splitLayout(sh);
  const p = new KernelBuilder(node, target, 'attention_split');
  bindInputs(p, sh);
  p.scratch(PARTIALS, bytes, 'part', 'f32');
  if (target.subgroups) p.enable('subgroups');
  const reduce = (name: string, op: 'sum' | 'max') => workgroupReduceFn({ name, op, type: 'f32', wg, subgroups: target.subgroups, bound: (x) => p.dim(x) });
  const range = keyRange(node, sh, 'T');
  const S = p.dim(sh.s), T = p.dim(sh.t), D = p.dim(sh.d), DV = p.dim(sh.dv), NS = p.dim(splits);
  if (wg % CHUNK !== 0) throw new Error(`split attention needs a workgroup of a multiple of ${CHUNK} invocations, got ${wg}`);
  const lanes = wg / CHUNK;
  const body = `${scoreHelpers(node, p, sh)}
${reduce('red_max', 'max')}
${reduce('red_sum', 'sum')}
var<workgroup> qv: array<f32, ${sh.d}>;
var<workgroup> sc: array<f32, ${CHUNK}>;
var<workgroup> dots: array<f32, ${wg}>;
@compute @workgroup_size(${wg})
fn attention_split(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let S = ${S};
  let T = ${T};
  let D = ${D};
  let DV = ${DV};
  let split = wid.x;
  let h = wid.y;
  let bi = wid.z;
  let b = bi / S;
  let qpos = T - S + bi % S;
  let kh = h / ${sh.hq / sh.hkv}u;
  let out = ((bi * ${sh.hq}u + h) * ${NS} + split) * (DV + 2u);
  for (var dd = li; dd < D; dd += ${wg}u) { qv[dd] = q_at((bi * ${sh.hq}u + h) * D + dd); }
  let j0 = max(split * ${CHUNK}u, ${range.start('qpos')});
  let j1 = min(min(T, split * ${CHUNK}u + ${CHUNK}u), ${range.end('qpos')});
  if (j0 >= j1) {
    // No visible key in this chunk: a partial that adds nothing (sum 0).
    for (var dd = li; dd < DV; dd += ${wg}u) { part[out + 2u + dd] = 0.0; }
    if (li == 0u) { part[out] = ${F32_LOWEST}; part[out + 1u] = 0.0; }
    return;
  }
  workgroupBarrier();
  let len = j1 - j0;
  // ${lanes} invocations per key, each a strided share of the dot product, summed through dots.
  let key = li / ${lanes}u;
  var share = 0.0;
  if (key < len) {
    for (var dd = li % ${lanes}u; dd < D; dd += ${lanes}u) { share += qv[dd] * k_at(((b * T + j0 + key) * ${sh.hkv}u + kh) * D + dd); }
  }
  dots[li] = share;
  workgroupBarrier();
  var mloc = ${F32_LOWEST};
  if (li < len) {
    var dot = 0.0;
    for (var t = 0u; t < ${lanes}u; t++) { dot += dots[li * ${lanes}u + t]; }
    let s = score(dot, qpos, j0 + li, b);
    sc[li] = s;
    mloc = s;
  }
  let m = red_max(mloc, li);
  var lsum = 0.0;
  for (var jj = li; jj < len; jj += ${wg}u) {
    let e = exp(sc[jj] - m);
    sc[jj] = e;
    lsum += e;
  }
  let l = red_sum(lsum, li);
  for (var dd = li; dd < DV; dd += ${wg}u) {
    var acc = 0.0;
    for (var jj = 0u; jj < len; jj++) { acc += sc[jj] * v_at(((b * T + j0 + jj) * ${sh.hkv}u + kh) * DV + dd); }
    part[out + 2u + dd] = acc;
  }
  if (li == 0u) { part[out] = m; part[out + 1u] = l; }
}`;
  return p.build({
    body,
    grid: [splits, sh.hq, rows],
    label: `attention.split chunk ${CHUNK} d${sh.d}/${sh.dv} g${sh.hq / sh.hkv}${sh.mask ? ' mask' : ''}`,
    ...(when ? { when } : {}),
  });
}

function splitCombine(node: Node, target: WgslTarget, sh: Shape, wg: number, when?: WgslKernel['when']): WgslKernel {
  const { splits, rows, bytes } = splitLayout(sh);
  const c = new KernelBuilder(node, target, 'attention_combine');
  c.scratch(PARTIALS, bytes, 'part', 'f32');
  c.result(0, 'y', 'f32');
  const DV = c.dim(sh.dv), NS = c.dim(splits);
  // Each partial's weight exp(m_s − max) is computed once, by one invocation, into workgroup
  // memory (wg partials at a time); every value column then reads the weights from there.
  const body = `var<workgroup> wts: array<f32, ${wg}>;
var<workgroup> wls: array<f32, ${wg}>;
@compute @workgroup_size(${wg})
fn attention_combine(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let DV = ${DV};
  let n = ${NS};
  let g = wid.y * ${sh.hq}u + wid.x;
  let base = g * n * (DV + 2u);
  var mx = ${F32_LOWEST};
  for (var s = 0u; s < n; s++) { mx = max(mx, part[base + s * (DV + 2u)]); }
  var l = 0.0;
  for (var d0 = 0u; d0 < DV; d0 += ${wg}u) {
    let dd = d0 + li;
    var acc = 0.0;
    for (var s0 = 0u; s0 < n; s0 += ${wg}u) {
      if (s0 + li < n) {
        let at = base + (s0 + li) * (DV + 2u);
        let w = exp(part[at] - mx);
        wts[li] = w;
        wls[li] = w * part[at + 1u];
      }
      workgroupBarrier();
      let count = min(${wg}u, n - s0);
      for (var t = 0u; t < count; t++) {
        if (d0 == 0u) { l += wls[t]; }
        if (dd < DV) { acc += wts[t] * part[base + (s0 + t) * (DV + 2u) + 2u + dd]; }
      }
      workgroupBarrier();
    }
    if (dd < DV) { y[g * DV + dd] = acc / l; }
  }
}`;
  return c.build({ body, grid: [sh.hq, rows, 1], label: `attention.combine d${sh.dv}`, ...(when ? { when } : {}) });
}

function splitKernels(node: Node, target: WgslTarget, sh: Shape, when?: WgslKernel['when']): WgslKernel[] {
  const wg = Math.min(SPLIT_WG, floorPow2(target.maxInvocations));
  return [splitPartial(node, target, sh, wg, when), splitCombine(node, target, sh, wg, when)];
}

export function emitAttention(node: Node, target: WgslTarget, opts: { variant?: AttentionVariant } = {}): WgslLowering {
  const sh = shapeOf(node);
  if (opts.variant === 'flash') return { kernels: [flash(node, target, sh)] };
  if (opts.variant === 'split') return { kernels: splitKernels(node, target, sh) };
  if (typeof sh.s === 'number') return { kernels: sh.s === 1 ? splitKernels(node, target, sh) : [flash(node, target, sh)] };
  return { kernels: [...splitKernels(node, target, sh, { dim: sh.s, max: 1 }), flash(node, target, sh, { dim: sh.s, min: 2 })] };
}
