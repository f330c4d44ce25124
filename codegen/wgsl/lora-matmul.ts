// matmul_lora on WebGPU (ir/ops/lora.ts): the base projection with the low-rank side path in its
// epilogue. Two kernels per node (per weight row range, for the second):
//  1. down: one workgroup per (row, q) computes t[row, q] = scales[(row,) slot(q)] · factor(q) ·
//     Σ_i x[row, i] · a[q, i] into node scratch (a workgroup reduction over i); a multiplier of 0
//     writes 0 without the reduction.
//  2. the projection — matmul.ts's GEMV / GEMM over any weight type — whose store hook adds
//     t[row, :] · b[n, :] to each output before writing it, for rows with an adapter on: the side
//     path never writes a product of its own, and the scales are read from their buffer every
//     step, so switching adapters is a 4·N-byte upload. Per-row scales [rows, N] give each row of
//     a batched step its own sequence's adapters; a step with none on skips the side path.
import { dimMul, dimProduct } from '../../ir/dim.js';
import type { Node } from '../../ir/graph.js';
import { loadFlat, storageElem } from './access.js';
import { f32Lit, FLAT_WORKGROUP, grid1d, KernelBuilder } from './builder.js';
import { biasFn, type Projection, projectionKernels } from './matmul.js';
import { workgroupReduceFn } from './reduce-wg.js';
import type { WgslTarget } from './target.js';
import type { WgslKernel, WgslLowering } from './types.js';

/** Operands of matmul_lora. */
const X = 0, W = 1, A = 2, B = 3, SCALES = 4, BIAS = 5;
/** The scratch id of t. */
const T_SCRATCH = 0;

/** The index of row `row`'s first scale: 0 for every row when the scales are shared. */
function scalesBase(node: Node, row: string): string {
  const shape = node.inputs[SCALES].type.shape;
  return shape.length === 2 ? `(${row}) * ${shape[1] as number}u` : '0u';
}

/** `fn multiplier(row: u32, q: u32) -> f32`: rank row q's block's scale for `row` times its factor. */
function multiplierFn(node: Node): string {
  const ranks = node.attrs.ranks as number[], slots = node.attrs.slots as number[], factors = node.attrs.factors as number[];
  let end = 0;
  const cases = ranks.map((r, j) => {
    end += r;
    return `  if (q < ${end}u) { return scales_at(base + ${slots[j]}u) * ${f32Lit(factors[j])}; }`;
  });
  return `fn multiplier(row: u32, q: u32) -> f32 {\n  let base = ${scalesBase(node, 'row')};\n${cases.join('\n')}\n  return 0.0;\n}`;
}

/** `fn row_active(row: u32) -> bool`: whether any adapter of the node's blocks is on for `row`. */
function rowActiveFn(node: Node): string {
  const slots = [...new Set(node.attrs.slots as number[])];
  return `fn row_active(row: u32) -> bool {\n  let base = ${scalesBase(node, 'row')};\n  return ${slots.map((s) => `scales_at(base + ${s}u) != 0.0`).join(' || ')};\n}`;
}

function tBytes(node: Node) {
  return dimMul(dimProduct(node.inputs[X].type.shape.slice(0, -1)), (node.inputs[A].type.shape[0] as number) * 4);
}

function downKernel(node: Node, target: WgslTarget): WgslKernel {
  const [x, , a, , scales] = node.inputs.map((v) => v.type);
  const k = new KernelBuilder(node, target, 'lora_down');
  k.operand(X, 'x', storageElem(x.dtype));
  k.operand(A, 'a', storageElem(a.dtype));
  k.operand(SCALES, 'scales', storageElem(scales.dtype));
  k.scratch(T_SCRATCH, tBytes(node), 'lora_t', 'f32');
  if (target.subgroups) k.enable('subgroups');
  const R = a.shape[0] as number;
  const rows = dimProduct(x.shape.slice(0, -1));
  const items = dimMul(rows, R);
  const wg = Math.min(64, target.maxInvocations);
  const K = k.dim(a.shape[1]);
  const body = `${loadFlat('x_at', 'x', x.dtype)}
${loadFlat('a_at', 'a', a.dtype)}
${loadFlat('scales_at', 'scales', scales.dtype)}
${multiplierFn(node)}
var<workgroup> lora_m: f32;
${workgroupReduceFn({ name: 'sum1', op: 'sum', type: 'f32', wg, subgroups: target.subgroups, bound: (n) => k.dim(n) })}
@compute @workgroup_size(${wg})
fn lora_down(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let item = ${FLAT_WORKGROUP};
  if (item >= ${k.dim(items)}) { return; }
  let K = ${K};
  let R = ${k.dim(R)};
  let row = item / R;
  let q = item % R;
  // Uniform across the workgroup, so that an adapter that is off skips the reduction.
  if (li == 0u) { lora_m = multiplier(row, q); }
  let m = workgroupUniformLoad(&lora_m);
  if (m == 0.0) {
    if (li == 0u) { lora_t[item] = 0.0; }
    return;
  }
  var acc = 0.0;
  for (var i = li; i < K; i += ${k.dim(wg)}) { acc += x_at(row * K + i) * a_at(q * K + i); }
  let total = sum1(acc, li);
  if (li == 0u) { lora_t[item] = total * m; }
}`;
  return k.build({ body, grid: grid1d(items, target), label: `lora.down ${wg} x:${x.dtype} a:${a.dtype} rank ${R}${scales.shape.length === 2 ? ' per-row scales' : ''}` });
}

/** The projection whose store adds the side path: x, w, bias? as matmul's, then t and b. */
function loraProjection(node: Node): Projection {
  const [x, w, a, b, scales, bias] = node.inputs.map((v) => v?.type);
  const R = a.shape[0] as number;
  return {
    rows: dimProduct(x.shape.slice(0, -1)),
    n: w.shape[0],
    k: w.shape[1],
    wType: w.dtype,
    bind: (k, _variant, wElem) => {
      k.operand(X, 'x', storageElem(x.dtype));
      k.operand(W, 'w', wElem ?? storageElem(w.dtype));
      if (bias) k.operand(BIAS, 'bias', storageElem(bias.dtype));
      k.scratch(T_SCRATCH, tBytes(node), 'lora_t', 'f32');
      k.operand(B, 'lora_b', storageElem(b.dtype));
      k.operand(SCALES, 'scales', storageElem(scales.dtype));
      k.result(0, 'y', 'f32');
    },
    hooks: (k) => `${loadFlat('x_at', 'x', x.dtype)}
${biasFn(bias?.dtype)}
${loadFlat('lora_b_at', 'lora_b', b.dtype)}
${loadFlat('scales_at', 'scales', scales.dtype)}
${rowActiveFn(node)}
fn store(m: u32, n: u32, v: f32) {
  let R = ${k.dim(R)};
  var side = 0.0;
  if (row_active(m)) {
    for (var q = 0u; q < R; q++) { side += lora_t[m * R + q] * lora_b_at(n * R + q); }
  }
  y[m * ${k.dim(w.shape[0])} + n] = v + bias_at(n) + side;
}`,
    label: `x:${x.dtype} w:${w.dtype}${bias ? ' +bias' : ''} lora ${b.dtype} rank ${R}${scales.shape.length === 2 ? ' per-row scales' : ''}`,
  };
}

export function emitMatmulLora(node: Node, target: WgslTarget): WgslLowering {
  return { kernels: [downKernel(node, target), ...projectionKernels(node, target, loraProjection(node))] };
}
