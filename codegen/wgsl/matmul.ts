// matmul: y[m, n] = Σ_k x[m, k] · w[n, k] (+ bias[n]), w [N, K] of any dtype (floats, or GGUF
// blocks dequantized as they are read, so the products are exactly those of the reference's
// dequantize-then-multiply). Two kernels:
//  - GEMM, for many rows: 64×64 output tiles per workgroup of 16×16 invocations, each owning a
//    4×4 register block (rows/columns 16 apart, so workgroup-memory reads do not collide), the K
//    axis walked in 16-wide slices staged in workgroup memory.
//  - GEMV, for few rows (decode): a workgroup computes 4 outputs (columns) of one row as the lanes
//    of a vec4; its invocations stride over K (element by element, or a whole GGUF block at a
//    time: the dtype's row of WGSL_QUANT in access.ts, the quants unpacked four per u32 word),
//    then reduce across the workgroup (with subgroups when the device has them).
// With a symbolic row count both are emitted, each guarded by `when`. A weight over the binding
// limit is bound as row ranges (split.ts), each with its own kernels writing the columns it makes.
import { type Dim, dimMul, dimProduct } from '../../ir/dim.js';
import { type DType, dtypeInfo, isQuantized } from '../../ir/dtype.js';
import type { Node } from '../../ir/graph.js';
import { blockOf, loadFlat, loadMatrix, quantByteReaders, storageElem, WGSL_QUANT } from './access.js';
import { ceilDiv, FLAT_WORKGROUP, grid1d, KernelBuilder, type StorageElem } from './builder.js';
import { workgroupReduceFn } from './reduce-wg.js';
import { type RowRange, weightParts } from './split.js';
import type { WgslTarget } from './target.js';
import type { WgslKernel, WgslLowering } from './types.js';

/** Up to this many rows the GEMV kernel is used (it rereads the weights once per row). */
export const GEMV_MAX_ROWS = 4;

const TILE = 64, TK = 16, WG_SIDE = 16, PER = TILE / WG_SIDE;
/** Every projection's weight w [N, K] is operand 1: the `projection` trait's `weight` (ir/op.ts). */
const WEIGHT = 1;
export const GEMV_WG = 128;
const GEMV_COLS = 4;

export type MatmulVariant = 'gemm' | 'gemv';

/**
 * A projection kernel's wiring, so fused variants (epilogues, normalised x, RoPE) reuse the GEMM
 * and GEMV bodies: `bind` declares every buffer (x as `x`, w as `w`), `hooks` defines
 * `fn x_at(i: u32) -> f32` (flat index into x viewed as [rows, K]) and
 * `fn store(m: u32, n: u32, v: f32)` (what happens to the dot product of row m, column n).
 */
export interface Projection {
  readonly rows: Dim;
  readonly n: Dim;
  readonly k: Dim;
  readonly wType: DType;
  /** `wElem` overrides w's array element ('vec4f' for the GEMV's 16-byte f32 loads). */
  readonly bind: (k: KernelBuilder, variant: MatmulVariant, wElem?: StorageElem) => void;
  readonly hooks: (k: KernelBuilder, variant: MatmulVariant) => string;
  /** The GEMV variant's hooks define `fn gemv_prologue(m: u32, li: u32)`, which every invocation
   *  of a workgroup calls before its loop over row m (a normalised x's row statistics). */
  readonly gemvPrologue?: boolean;
  /**
   * The GEMV's own choice of columns, for epilogues that mix columns (the blocks of a merged
   * gate/up weight, RoPE's pairs). Only for a weight bound whole (no row ranges).
   */
  readonly gemvColumns?: (k: KernelBuilder) => GemvColumns;
  readonly label: string;
}

/**
 * Which 4 weight rows (output columns) each GEMV workgroup of a row takes, and what becomes of
 * their dot products: WGSL defining `fn gemv_columns(g: u32) -> vec4u` (the columns of workgroup
 * g of a row, each in range) and `fn store_columns(m: u32, g: u32, c: vec4u, acc: vec4f)` (called
 * once per workgroup with the four products).
 */
export interface GemvColumns {
  /** Workgroups per row. */
  readonly groups: Dim;
  readonly wgsl: string;
}

/** The plain matmul: x, w, bias? in, y = x·wᵀ + bias out. */
function plainProjection(node: Node): Projection {
  const [x, w, bias] = node.inputs.map((v) => v.type);
  const n = w.shape[0];
  return {
    rows: dimProduct(x.shape.slice(0, -1)),
    n,
    k: w.shape[1],
    wType: w.dtype,
    bind: (k, _variant, wElem) => {
      k.operand(0, 'x', storageElem(x.dtype));
      k.operand(1, 'w', wElem ?? storageElem(w.dtype));
      if (bias) k.operand(2, 'bias', storageElem(bias.dtype));
      k.result(0, 'y', 'f32');
    },
    hooks: (k) => `${loadFlat('x_at', 'x', x.dtype)}
${biasFn(bias?.dtype)}
fn store(m: u32, n: u32, v: f32) { y[m * ${k.dim(n)} + n] = v + bias_at(n); }`,
    label: `x:${x.dtype} w:${w.dtype}${bias ? ' +bias' : ''}`,
  };
}

/** `fn bias_at(n: u32) -> f32` over a bound `bias`, or zero. */
export function biasFn(dtype: DType | undefined): string {
  return dtype ? loadFlat('bias_at', 'bias', dtype) : 'fn bias_at(n: u32) -> f32 { return 0.0; }';
}

/**
 * A kernel over the whole weight, or over the rows `part` of it: then w holds only those rows, N
 * is their count and the products of local column n go to global column part.first + n.
 */
interface Slice {
  readonly cols: Dim;
  /** WGSL prefix that turns a local column into the global one ('' without a part). */
  readonly offset: string;
}

function sliceOf(k: KernelBuilder, s: Projection, part: RowRange | undefined): Slice {
  return part ? { cols: part.count, offset: `${k.dim(part.first, 'rows.first')} + ` } : { cols: s.n, offset: '' };
}

/** `k.dim` for the dims that change from one row range to the next: own slots, so the ranges share a shader. */
function rangeDim(k: KernelBuilder, d: Dim, part: RowRange | undefined, name: string): string {
  return k.dim(d, part && `rows.${name}`);
}

function builderFor(node: Node, target: WgslTarget, entryPoint: string, part: RowRange | undefined): KernelBuilder {
  return new KernelBuilder(node, target, entryPoint, part && { operand: WEIGHT, rows: part });
}

function gemm(node: Node, target: WgslTarget, s: Projection, when?: WgslKernel['when'], part?: RowRange): WgslKernel {
  const k = builderFor(node, target, 'matmul_gemm', part);
  s.bind(k, 'gemm');
  const slice = sliceOf(k, s, part);
  const M = k.dim(s.rows), N = rangeDim(k, slice.cols, part, 'count'), K = k.dim(s.k);
  const lanes = WG_SIDE * WG_SIDE;
  // The 4×4 register block is unrolled here, in the generated source, as four vec4s: straight-line
  // code every shader compiler handles quickly, no indexed private array.
  // The loads stay a loop (each may dequantize: large when inlined); the multiply-adds are unrolled.
  const loads = `    for (var t = 0u; t < ${k.dim((TK * TILE) / lanes)}; t++) {
      let e = li + t * ${lanes}u;
      let kk = e % ${TK}u;
      let r = e / ${TK}u;
      let kg = k0 + kk;
      var xv = 0.0;
      if (m0 + r < M && kg < K) { xv = x_at((m0 + r) * K + kg); }
      xs[kk * ${TILE}u + r] = xv;
      var wv = 0.0;
      if (n0 + r < N && kg < K) { wv = w_at(n0 + r, kg); }
      ws[kk * ${TILE}u + r] = wv;
    }`;
  const vec = (arr: string, idx: string) => `vec4f(${Array.from({ length: PER }, (_, i) => `${arr}[kk * ${TILE}u + ${idx} + ${WG_SIDE * i}u]`).join(', ')})`;
  const fma = Array.from({ length: PER }, (_, i) => `      acc${i} += a.${'xyzw'[i]} * b;`).join('\n');
  const stores = Array.from({ length: PER }, (_, i) => `  {
    let m = m0 + lid.y + ${WG_SIDE * i}u;
${Array.from({ length: PER }, (_, j) => `    if (m < M && n0 + lid.x + ${WG_SIDE * j}u < N) { store(m, ${slice.offset}n0 + lid.x + ${WG_SIDE * j}u, acc${i}.${'xyzw'[j]}); }`).join('\n')}
  }`).join('\n');
  const body = `${s.hooks(k, 'gemm')}
${loadMatrix('w_at', 'w', s.wType, K)}
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
  // Invocation (lid.x, lid.y) owns rows lid.y + 16i and columns lid.x + 16j: acc<i>.<j>.
${Array.from({ length: PER }, (_, i) => `  var acc${i} = vec4f(0.0);`).join('\n')}
  for (var k0 = 0u; k0 < K; k0 += ${TK}u) {
    // Consecutive invocations take consecutive k of one row: contiguous reads of x and w.
${loads}
    workgroupBarrier();
    for (var kk = 0u; kk < ${k.dim(TK)}; kk++) {
      let a = ${vec('xs', 'lid.y')};
      let b = ${vec('ws', 'lid.x')};
${fma}
    }
    workgroupBarrier();
  }
${stores}
}`;
  return k.build({
    body,
    grid: [ceilDiv(slice.cols, TILE), ceilDiv(s.rows, TILE), 1],
    label: `matmul.gemm ${TILE}x${TILE}x${TK} ${s.label}${part ? ' w-rows' : ''}`,
    ...(when ? { when } : {}),
  });
}

/**
 * GEMV inner loops: `acc` (vec4f, one lane per output column c0..c3) accumulates over the
 * invocation's share of K. Column indices are clamped into range, so the loop needs no branches;
 * the clamped duplicates are simply not stored.
 */
function gemvLoop(dtype: DType, K: string, wg: number, b: (n: number) => string, vec4: boolean): { helpers: string; loop: string } {
  if (vec4) {
    // f32 weights bound as vec4f, K a multiple of 4: one 16-byte load per column and step.
    return {
      helpers: '',
      loop: `  let K4 = K / 4u;
  for (var q = li; q < K4; q += ${wg}u) {
    let at = m * K + 4u * q;
    let xv = vec4f(x_at(at), x_at(at + 1u), x_at(at + 2u), x_at(at + 3u));
    acc += vec4f(dot(w[c0 * K4 + q], xv), dot(w[c1 * K4 + q], xv), dot(w[c2 * K4 + q], xv), dot(w[c3 * K4 + q], xv));
  }`,
    };
  }
  const xRead = `fn x_chunk(m: u32, k: u32, K: u32) -> vec4f {
  // Four x values from k on, zero past the row's end (which quantized rows pad to whole blocks).
  var v = vec4f(0.0);
  for (var t = 0u; t < ${b(4)}; t++) { v[t] = select(0.0, x_at(m * K + min(k + t, K - 1u)), k + t < K); }
  return v;
}`;
  if (isQuantized(dtype)) {
    // A whole block at a time: its dot products are the dtype's row of WGSL_QUANT (access.ts).
    const q = WGSL_QUANT[dtype].gemv;
    const units = q.units ?? 1;
    // With steps, the work items are (block, step) pairs: blk = item / units, unit = item % units.
    const walk = units === 1
      ? `  for (var blk = li; blk < nb; blk += ${wg}u) {`
      : `  for (var item = li; item < nb * ${units}u; item += ${wg}u) {
    let blk = item / ${units}u;
    let unit = item % ${units}u;`;
    return {
      helpers: `${quantByteReaders('w')}\n${q.helpers}\n${xRead}`,
      loop: `  let nb = ${blockOf(dtype, 'K').blocksPer('K')};
${walk}
${[0, 1, 2, 3].map((c) => `    let o${c} = (c${c} * nb + blk) * ${dtypeInfo(dtype).blockBytes}u;`).join('\n')}
${q.block(b)}
  }`,
    };
  }
  return {
    helpers: loadMatrix('w_at', 'w', dtype, K),
    loop: `  for (var kk = li; kk < K; kk += ${wg}u) {
    acc += vec4f(w_at(c0, kk), w_at(c1, kk), w_at(c2, kk), w_at(c3, kk)) * x_at(m * K + kk);
  }`,
  };
}

function gemv(node: Node, target: WgslTarget, s: Projection, when?: WgslKernel['when'], part?: RowRange): WgslKernel {
  const k = builderFor(node, target, 'matmul_gemv', part);
  const vec4 = s.wType === 'f32' && typeof s.k === 'number' && s.k % 4 === 0;
  s.bind(k, 'gemv', vec4 ? 'vec4f' : undefined);
  if (target.subgroups) k.enable('subgroups');
  const slice = sliceOf(k, s, part);
  const wg = Math.min(GEMV_WG, target.maxInvocations);
  // Its own columns span the whole weight; a row range of it is a lowering's mistake, said here.
  if (part && s.gemvColumns) throw new Error(`${node.op} %${node.outputs[0].name}: a GEMV that picks its own columns needs the weight bound whole, not rows ${part.first}..${part.first + part.count}`);
  const custom = s.gemvColumns?.(k);
  // By default a workgroup takes 4 consecutive columns.
  const groups: Dim = custom ? custom.groups : ceilDiv(slice.cols, GEMV_COLS);
  const count = dimMul(groups, s.rows);
  const N = rangeDim(k, slice.cols, part, 'count'), K = k.dim(s.k), G = rangeDim(k, groups, part, 'groups'), C = rangeDim(k, count, part, 'launches');
  const b = (n: number) => k.dim(n);
  const { helpers, loop } = gemvLoop(s.wType, K, wg, b, vec4);
  const columns = custom
    ? `  let cols = gemv_columns(g % ${G});
  let c0 = cols.x;
  let c1 = cols.y;
  let c2 = cols.z;
  let c3 = cols.w;`
    : `  let n0 = (g % ${G}) * ${GEMV_COLS}u;
  let c0 = n0;
  let c1 = min(n0 + 1u, N - 1u);
  let c2 = min(n0 + 2u, N - 1u);
  let c3 = min(n0 + 3u, N - 1u);`;
  const stores = custom
    ? `  if (li == 0u) { store_columns(m, g % ${G}, cols, total); }`
    : `  if (li < ${GEMV_COLS}u && n0 + li < N) { store(m, ${slice.offset}n0 + li, total[li]); }`;
  const body = `${s.hooks(k, 'gemv')}
${custom?.wgsl ?? ''}
${helpers}
${workgroupReduceFn({ name: 'sum4', op: 'sum', type: 'vec4f', wg, subgroups: target.subgroups, bound: b })}
@compute @workgroup_size(${wg})
fn matmul_gemv(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let g = ${FLAT_WORKGROUP};
  if (g >= ${C}) { return; }
  let N = ${N};
  let K = ${K};
  let m = g / ${G};
${columns}
${s.gemvPrologue ? '  gemv_prologue(m, li);\n' : ''}  var acc = vec4f(0.0);
${loop}
  let total = sum4(acc, li);
${stores}
}`;
  return k.build({
    body,
    grid: grid1d(count, target),
    label: `matmul.gemv ${wg}x${GEMV_COLS}${vec4 ? ' vec4' : ''}${custom ? ' own columns' : ''} ${s.label}${target.subgroups ? ' subgroups' : ''}${part ? ' w-rows' : ''}`,
    ...(when ? { when } : {}),
  });
}

/**
 * GEMV for few rows, GEMM for many; both, guarded by `when`, when the row count is symbolic. A
 * weight over the binding limit gives that set of kernels once per row range of it.
 */
export function projectionKernels(node: Node, target: WgslTarget, p: Projection, variant?: MatmulVariant, when?: WgslKernel['when']): WgslKernel[] {
  const parts = weightParts(node.inputs[WEIGHT].type, target) ?? [undefined];
  return parts.flatMap((part) => variantKernels(node, target, p, variant, part, when));
}

function variantKernels(node: Node, target: WgslTarget, p: Projection, variant: MatmulVariant | undefined, part: RowRange | undefined, when: WgslKernel['when'] | undefined): WgslKernel[] {
  if (variant === 'gemm') return [gemm(node, target, p, when, part)];
  if (variant === 'gemv') return [gemv(node, target, p, when, part)];
  if (typeof p.rows === 'number') return [p.rows <= GEMV_MAX_ROWS ? gemv(node, target, p, undefined, part) : gemm(node, target, p, undefined, part)];
  return [gemv(node, target, p, { dim: p.rows, max: GEMV_MAX_ROWS }, part), gemm(node, target, p, { dim: p.rows, min: GEMV_MAX_ROWS + 1 }, part)];
}

export function emitMatmul(node: Node, target: WgslTarget, opts: { variant?: MatmulVariant } = {}): WgslLowering {
  return { kernels: projectionKernels(node, target, plainProjection(node), opts.variant) };
}
