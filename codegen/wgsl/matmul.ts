// matmul: y[m, n] = Σ_k x[m, k] · w[n, k] (+ bias[n]), w [N, K] of any dtype (f32, f16, bf16,
// q8_0, q4_0: dequantized as it is read, so the products are exactly those of the reference's
// dequantize-then-multiply). Two kernels:
//  - GEMM, for many rows: 64×64 output tiles per workgroup of 16×16 invocations, each owning a
//    4×4 register block (rows/columns 16 apart, so workgroup-memory reads do not collide), the K
//    axis walked in 16-wide slices staged in workgroup memory.
//  - GEMV, for few rows (decode): a workgroup computes 4 outputs of one row; its invocations
//    stride over K in 32-wide chunks (one GGUF block: one scale read per block), then reduce the
//    four partial sums across the workgroup (subgroups when the device has them).
// With a symbolic row count both are emitted, each guarded by `when`.
import { type Dim, dimMul, dimProduct } from '../../ir/dim.js';
import type { DType } from '../../ir/dtype.js';
import type { Node } from '../../ir/graph.js';
import { loadFlat, loadMatrix, quantByteReaders, storageElem } from './access.js';
import { ceilDiv, FLAT_WORKGROUP, grid1d, KernelBuilder } from './builder.js';
import { workgroupReduceFn } from './reduce-wg.js';
import type { WgslTarget } from './target.js';
import type { WgslKernel, WgslLowering } from './types.js';

/** Up to this many rows the GEMV kernel is used (it rereads the weights once per row). */
export const GEMV_MAX_ROWS = 4;

const TILE = 64, TK = 16, WG_SIDE = 16, PER = TILE / WG_SIDE;
const GEMV_WG = 128, GEMV_COLS = 4;

export type MatmulVariant = 'gemm' | 'gemv';

interface Shape {
  rows: Dim;
  n: Dim;
  k: Dim;
  xType: DType;
  wType: DType;
  biasType?: DType;
}

function shapeOf(node: Node): Shape {
  const [x, w, bias] = node.inputs.map((v) => v.type);
  return {
    rows: dimProduct(x.shape.slice(0, -1)),
    n: w.shape[0],
    k: w.shape[1],
    xType: x.dtype,
    wType: w.dtype,
    ...(bias ? { biasType: bias.dtype } : {}),
  };
}

function bindCommon(k: KernelBuilder, s: Shape): void {
  k.operand(0, 'x', storageElem(s.xType));
  k.operand(1, 'w', storageElem(s.wType));
  if (s.biasType) k.operand(2, 'bias', storageElem(s.biasType));
  k.result(0, 'y', 'f32');
}

function biasHelpers(s: Shape): string {
  return s.biasType ? loadFlat('bias_at', 'bias', s.biasType) : 'fn bias_at(n: u32) -> f32 { return 0.0; }';
}

function gemm(node: Node, target: WgslTarget, s: Shape, when?: WgslKernel['when']): WgslKernel {
  const k = new KernelBuilder(node, target, 'matmul_gemm');
  bindCommon(k, s);
  const M = k.dim(s.rows), N = k.dim(s.n), K = k.dim(s.k);
  const body = `${loadFlat('x_at', 'x', s.xType)}
${loadMatrix('w_at', 'w', s.wType, K)}
${biasHelpers(s)}
// x and w slices, k-major: [kk][row] and [kk][col].
var<workgroup> xs: array<f32, ${TK * TILE}>;
var<workgroup> ws: array<f32, ${TK * TILE}>;
@compute @workgroup_size(${WG_SIDE}, ${WG_SIDE})
fn matmul_gemm(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {
  let M = ${M};
  let N = ${N};
  let K = ${K};
  let m0 = wid.y * ${TILE}u;
  let n0 = wid.x * ${TILE}u;
  var acc: array<array<f32, ${PER}>, ${PER}>;
  for (var k0 = 0u; k0 < K; k0 += ${TK}u) {
    // Consecutive invocations take consecutive k of one row: contiguous reads of x and w.
    for (var e = li; e < ${TK * TILE}u; e += ${WG_SIDE * WG_SIDE}u) {
      let kk = e % ${TK}u;
      let r = e / ${TK}u;
      let kg = k0 + kk;
      var xv = 0.0;
      if (m0 + r < M && kg < K) { xv = x_at((m0 + r) * K + kg); }
      xs[kk * ${TILE}u + r] = xv;
      var wv = 0.0;
      if (n0 + r < N && kg < K) { wv = w_at(n0 + r, kg); }
      ws[kk * ${TILE}u + r] = wv;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${TK}u; kk++) {
      var a: array<f32, ${PER}>;
      var b: array<f32, ${PER}>;
      for (var i = 0u; i < ${PER}u; i++) {
        a[i] = xs[kk * ${TILE}u + lid.y + ${WG_SIDE}u * i];
        b[i] = ws[kk * ${TILE}u + lid.x + ${WG_SIDE}u * i];
      }
      for (var i = 0u; i < ${PER}u; i++) {
        for (var j = 0u; j < ${PER}u; j++) { acc[i][j] += a[i] * b[j]; }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < ${PER}u; i++) {
    let m = m0 + lid.y + ${WG_SIDE}u * i;
    for (var j = 0u; j < ${PER}u; j++) {
      let n = n0 + lid.x + ${WG_SIDE}u * j;
      if (m < M && n < N) { y[m * N + n] = acc[i][j] + bias_at(n); }
    }
  }
}`;
  return k.build({
    body,
    grid: [ceilDiv(s.n, TILE), ceilDiv(s.rows, TILE), 1],
    label: `matmul.gemm ${TILE}x${TILE}x${TK} x:${s.xType} w:${s.wType}${s.biasType ? ' +bias' : ''}`,
    ...(when ? { when } : {}),
  });
}

/** `fn w_dot(r, b, xs) -> f32`: row r's 32-element chunk b dotted with xs (zero past K). */
function chunkDot(dtype: DType, K: string): string {
  switch (dtype) {
    case 'q8_0':
      return `${quantByteReaders('w')}
fn w_dot(r: u32, b: u32, xs: ptr<function, array<f32, 32>>) -> f32 {
  let base = (r * ((${K} + 31u) >> 5u) + b) * 34u;
  var acc = 0.0;
  for (var j = 0u; j < 8u; j++) {
    let q = w_word(base + 2u + 4u * j);
    // Sign-extend each byte: shift it to the top, then arithmetic-shift back down.
    acc += f32(bitcast<i32>(q << 24u) >> 24u) * (*xs)[4u * j]
         + f32(bitcast<i32>(q << 16u) >> 24u) * (*xs)[4u * j + 1u]
         + f32(bitcast<i32>(q << 8u) >> 24u) * (*xs)[4u * j + 2u]
         + f32(bitcast<i32>(q) >> 24u) * (*xs)[4u * j + 3u];
  }
  return w_scale(base) * acc;
}`;
    case 'q4_0':
      return `${quantByteReaders('w')}
fn w_dot(r: u32, b: u32, xs: ptr<function, array<f32, 32>>) -> f32 {
  let base = (r * ((${K} + 31u) >> 5u) + b) * 18u;
  var acc = 0.0;
  for (var j = 0u; j < 4u; j++) {
    let q = w_word(base + 2u + 4u * j);
    for (var t = 0u; t < 4u; t++) {
      let byte = (q >> (8u * t)) & 0xffu;
      // Byte i holds element i (low nibble) and element i + 16 (high nibble), offset by 8.
      acc += f32(i32(byte & 15u) - 8) * (*xs)[4u * j + t] + f32(i32(byte >> 4u) - 8) * (*xs)[4u * j + t + 16u];
    }
  }
  return w_scale(base) * acc;
}`;
    default:
      return `${loadMatrix('w_at', 'w', dtype, K)}
fn w_dot(r: u32, b: u32, xs: ptr<function, array<f32, 32>>) -> f32 {
  var acc = 0.0;
  let k0 = b * 32u;
  let len = min(32u, ${K} - k0);
  for (var i = 0u; i < len; i++) { acc += w_at(r, k0 + i) * (*xs)[i]; }
  return acc;
}`;
  }
}

function gemv(node: Node, target: WgslTarget, s: Shape, when?: WgslKernel['when']): WgslKernel {
  const k = new KernelBuilder(node, target, 'matmul_gemv');
  bindCommon(k, s);
  if (target.subgroups) k.enable('subgroups');
  const wg = Math.min(GEMV_WG, target.maxInvocations);
  const groups: Dim = ceilDiv(s.n, GEMV_COLS);
  const count = dimMul(groups, s.rows);
  const N = k.dim(s.n), K = k.dim(s.k), G = k.dim(groups), C = k.dim(count);
  const body = `${loadFlat('x_at', 'x', s.xType)}
${chunkDot(s.wType, K)}
${biasHelpers(s)}
${workgroupReduceFn({ name: 'sum4', op: 'sum', type: 'vec4f', wg, subgroups: target.subgroups })}
@compute @workgroup_size(${wg})
fn matmul_gemv(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let g = ${FLAT_WORKGROUP};
  if (g >= ${C}) { return; }
  let N = ${N};
  let K = ${K};
  let m = g / ${G};
  let n0 = (g % ${G}) * ${GEMV_COLS}u;
  var acc = vec4f(0.0);
  for (var b = li; b < (K + 31u) / 32u; b += ${wg}u) {
    var xs: array<f32, 32>;
    let k0 = b * 32u;
    for (var i = 0u; i < 32u; i++) {
      if (k0 + i < K) { xs[i] = x_at(m * K + k0 + i); }
    }
    for (var c = 0u; c < ${GEMV_COLS}u; c++) {
      if (n0 + c < N) { acc[c] += w_dot(n0 + c, b, &xs); }
    }
  }
  let total = sum4(acc, li);
  if (li < ${GEMV_COLS}u && n0 + li < N) { y[m * N + n0 + li] = total[li] + bias_at(n0 + li); }
}`;
  return k.build({
    body,
    grid: grid1d(count, target),
    label: `matmul.gemv ${wg}x${GEMV_COLS} x:${s.xType} w:${s.wType}${s.biasType ? ' +bias' : ''}${target.subgroups ? ' subgroups' : ''}`,
    ...(when ? { when } : {}),
  });
}

export function emitMatmul(node: Node, target: WgslTarget, opts: { variant?: MatmulVariant } = {}): WgslLowering {
  const s = shapeOf(node);
  if (opts.variant === 'gemm') return { kernels: [gemm(node, target, s)] };
  if (opts.variant === 'gemv') return { kernels: [gemv(node, target, s)] };
  if (typeof s.rows === 'number') return { kernels: [s.rows <= GEMV_MAX_ROWS ? gemv(node, target, s) : gemm(node, target, s)] };
  return {
    kernels: [
      gemv(node, target, s, { dim: s.rows, max: GEMV_MAX_ROWS }),
      gemm(node, target, s, { dim: s.rows, min: GEMV_MAX_ROWS + 1 }),
    ],
  };
}
