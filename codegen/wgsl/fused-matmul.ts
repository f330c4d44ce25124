// The fused projections the optimisation passes make (ir/ops/fused.ts, ir/ops/rope-matmul.ts), on
// the GEMM/GEMV bodies of matmul.ts:
//  - norm_matmul / rope_matmul {norm}: for the GEMM, a first kernel reduces each row of x to
//    its mean and 1/σ (scratch); the GEMV's workgroup reduces its own row first (no extra
//    launch). Either way the projection normalises x as it loads it, so the normalised x is
//    never stored (the gain is already folded into w).
//  - matmul_ep / norm_matmul epilogues on one column block (parts = 1) run in the projection's
//    store: bias, then the program over acc0 and the extra operands (a residual add, a gate…).
//    With parts > 1 (a merged gate/up weight) an output needs columns of every block: the GEMV
//    gives each workgroup the same columns of each block and applies the program in its store;
//    the GEMM (whose tiles do not line up with the blocks) puts the product in scratch and a
//    second kernel applies the program.
//  - rope_matmul: a rotation mixes columns too. The GEMV takes both columns of a pair and rotates
//    as it stores, where the layout allows (ropeGemvProjection); otherwise the product goes to
//    scratch and a second kernel rotates the rope_cols heads and copies the other columns.
import type { Dim } from '../../ir/dim.js';
import { dimMul, dimProduct } from '../../ir/dim.js';
import type { DType } from '../../ir/dtype.js';
import type { Node } from '../../ir/graph.js';
import { loadFlat, storageElem } from './access.js';
import { ceilDiv, f32Lit, FLAT_WORKGROUP, grid1d, KernelBuilder } from './builder.js';
import { broadcastIndexFn } from './elementwise.js';
import { programToWgsl } from './expr.js';
import { biasFn, GEMV_MAX_ROWS, GEMV_WG, type GemvColumns, type Projection, projectionKernels } from './matmul.js';
import { maxPosKernel, MAX_POS_SCRATCH, ropeFunctions } from './rope.js';
import { rowEntry, rowGrid, rowReduce, rowWorkgroupSize } from './rows.js';
import { weightParts } from './split.js';
import type { WgslTarget } from './target.js';
import type { WgslKernel, WgslLowering } from './types.js';

const WG = 256;
const PRODUCT = 0, STATS = 1;

type Norm = 'rms' | 'layer';

interface Fused {
  rows: Dim;
  n: Dim;
  k: Dim;
  /** The result's shape: [...x's leading dims, n / parts]. */
  out: readonly Dim[];
  xType: DType;
  wType: DType;
  bias?: { operand: number; dtype: DType };
  norm?: { kind: Norm; eps: number };
  /** Epilogue operands x0, x1, … (node operand indices). */
  extras: readonly number[];
}

function fusedOf(node: Node, firstExtra: number, bias: boolean, norm?: Fused['norm']): Fused {
  const [x, w] = node.inputs.map((v) => v.type);
  const biasOp = bias ? firstExtra : undefined;
  const extras = node.inputs.map((_, i) => i).filter((i) => i >= firstExtra && i !== biasOp);
  return {
    rows: dimProduct(x.shape.slice(0, -1)),
    n: w.shape[0],
    k: w.shape[1],
    out: node.outputs[0].type.shape,
    xType: x.dtype,
    wType: w.dtype,
    ...(biasOp !== undefined ? { bias: { operand: biasOp, dtype: node.inputs[biasOp].type.dtype } } : {}),
    ...(norm ? { norm } : {}),
    extras,
  };
}

/**
 * Per row of x: mean (0 for rms) and 1/sqrt(variance or mean square + eps), into scratch, for
 * the GEMM; the GEMV works them out itself (one dispatch less per projection in decode). So the
 * kernel runs exactly when the GEMM does; none when the rows are known to be few.
 */
function statsKernels(node: Node, target: WgslTarget, f: Fused): WgslKernel[] {
  if (!f.norm) return [];
  if (typeof f.rows === 'number') return f.rows <= GEMV_MAX_ROWS ? [] : [statsKernel(node, target, f)];
  return [statsKernel(node, target, f, { dim: f.rows, min: GEMV_MAX_ROWS + 1 })];
}

/** WGSL statements giving `mean` (0 for rms) and `inv` = 1/σ of the K values `read(base + i)`. */
function rowStatistics(norm: NonNullable<Fused['norm']>, K: string, wg: number, read: string, reduce: string): string {
  const mean = norm.kind === 'layer'
    ? `  var s = 0.0;
  for (var i = li; i < ${K}; i += ${wg}u) { s += ${read}(base + i); }
  let mean = ${reduce}(s, li) / f32(${K});`
    : '  let mean = 0.0;';
  return `${mean}
  var ss = 0.0;
  for (var i = li; i < ${K}; i += ${wg}u) { let c = ${read}(base + i) - mean; ss += c * c; }
  let inv = 1.0 / sqrt(${reduce}(ss, li) / f32(${K}) + ${f32Lit(norm.eps)});`;
}

/** The row statistics the GEMV computes: `gemv_prologue` for row m, `x_at` normalising with them. */
function gemvNorm(k: KernelBuilder, f: Fused): string {
  const wg = Math.min(GEMV_WG, k.target.maxInvocations);
  const K = k.dim(f.k);
  return `${loadFlat('x_raw', 'x', f.xType)}
${rowReduce(k, 'norm_sum', 'sum', wg)}
var<workgroup> row_norm: vec2f;
fn gemv_prologue(m: u32, li: u32) {
  let base = m * ${K};
${rowStatistics(f.norm!, K, wg, 'x_raw', 'norm_sum')}
  if (li == 0u) { row_norm = vec2f(mean, inv); }
  workgroupBarrier();
}
fn x_at(i: u32) -> f32 { return (x_raw(i) - row_norm.x) * row_norm.y; }`;
}

function statsKernel(node: Node, target: WgslTarget, f: Fused, when?: WgslKernel['when']): WgslKernel {
  const norm = f.norm!;
  const k = new KernelBuilder(node, target, 'norm_stats');
  k.operand(0, 'x', storageElem(f.xType));
  k.scratch(STATS, dimMul(f.rows, 8), 'stats', 'f32');
  const wg = rowWorkgroupSize(f.k, target);
  const body = `${loadFlat('x_at', 'x', f.xType)}
${rowReduce(k, 'row_sum', 'sum', wg)}
${rowEntry('norm_stats', wg, k.dim(f.rows), `  let K = ${k.dim(f.k)};
  let base = row * K;
${rowStatistics(norm, 'K', wg, 'x_at', 'row_sum')}
  if (li == 0u) { stats[2u * row] = mean; stats[2u * row + 1u] = inv; }`)}`;
  return k.build({ body, grid: rowGrid(f.rows, target), label: `${norm.kind} norm statistics x:${f.xType}`, ...(when ? { when } : {}) });
}

/**
 * The projection of a fused op. `store` gives the WGSL of `fn store(m, n, v)`, what happens to
 * each product element, or, for a projection with `gemvColumns`, the helpers its store_columns uses.
 */
function projection(f: Fused, bindOut: (k: KernelBuilder) => void, store: (k: KernelBuilder) => string, label: string): Projection {
  return {
    rows: f.rows, n: f.n, k: f.k, wType: f.wType,
    bind: (k, variant, wElem) => {
      k.operand(0, 'x', storageElem(f.xType));
      k.operand(1, 'w', wElem ?? storageElem(f.wType));
      if (f.bias) k.operand(f.bias.operand, 'bias', storageElem(f.bias.dtype));
      if (f.norm && variant === 'gemm') k.scratch(STATS, dimMul(f.rows, 8), 'stats', 'f32');
      bindOut(k);
    },
    gemvPrologue: f.norm !== undefined,
    hooks: (k, variant) => {
      const x = f.norm && variant === 'gemv'
        ? gemvNorm(k, f)
        : f.norm
        ? `${loadFlat('x_raw', 'x', f.xType)}
fn x_at(i: u32) -> f32 {
  let r = i / ${k.dim(f.k)};
  return (x_raw(i) - stats[2u * r]) * stats[2u * r + 1u];
}`
        : loadFlat('x_at', 'x', f.xType);
      return `${x}\n${biasFn(f.bias?.dtype)}\n${store(k)}`;
    },
    label: `${label} x:${f.xType} w:${f.wType}${f.bias ? ' +bias' : ''}${f.norm ? ` ${f.norm.kind}-normalised` : ''}`,
  };
}

/** The bare product (+ bias) into scratch, for epilogues that mix columns. */
function productProjection(f: Fused, label: string): Projection {
  const bytes = dimMul(dimMul(f.rows, f.n), 4);
  return projection(f, (k) => k.scratch(PRODUCT, bytes, 'prod', 'f32'),
    (k) => `fn store(m: u32, n: u32, v: f32) { prod[m * ${k.dim(f.n)} + n] = v + bias_at(n); }`, label);
}

/** Binds the epilogue's extra operands as x<j> with `x<j>_at(x<j>_idx(e))` readers over the result. */
function bindExtras(k: KernelBuilder, node: Node, f: Fused): void {
  f.extras.forEach((op, j) => k.operand(op, `x${j}`, storageElem(node.inputs[op].type.dtype)));
}

function extraReaders(k: KernelBuilder, node: Node, f: Fused): string {
  return f.extras.map((op, j) => `${loadFlat(`x${j}_at`, `x${j}`, node.inputs[op].type.dtype)}
${broadcastIndexFn(k, `x${j}_idx`, f.out, node.inputs[op].type.shape)}`).join('\n');
}

/** The epilogue program over acc<k> (WGSL names given) and the extras at result index `e`. */
function epilogue(node: Node, acc: (index: number) => string): string {
  return programToWgsl(node.attrs.epilogue as string, (space, index) => (space === 'acc' ? acc(index) : `x${index}_at(x${index}_idx(e))`), 'e').expr;
}

function epilogueHelpers(node: Node): string {
  return programToWgsl(node.attrs.epilogue as string, () => '0.0', 'e').helpers.join('\n');
}

/** parts = 1: the program runs in the projection's store. */
function directProjection(node: Node, f: Fused, label: string): Projection {
  return projection(f, (k) => {
    bindExtras(k, node, f);
    k.result(0, 'y', 'f32');
  }, (k) => `${extraReaders(k, node, f)}
${epilogueHelpers(node)}
fn store(m: u32, n: u32, v: f32) {
  let e = m * ${k.dim(f.n)} + n;
  let acc0 = v + bias_at(n);
  y[e] = ${epilogue(node, () => 'acc0')};
}`, label);
}

/** parts > 1: y[r, c] = program(acc_k = prod[r, k·M + c], extras), over the result [..., M]. */
function epilogueKernel(node: Node, target: WgslTarget, f: Fused, parts: number, when?: WgslKernel['when']): WgslKernel {
  const k = new KernelBuilder(node, target, 'matmul_epilogue');
  k.scratch(PRODUCT, dimMul(dimMul(f.rows, f.n), 4), 'prod', 'f32');
  bindExtras(k, node, f);
  k.result(0, 'y', 'f32');
  const total = dimProduct(f.out);
  const M = k.dim(f.out[f.out.length - 1]), N = k.dim(f.n);
  const body = `${extraReaders(k, node, f)}
${epilogueHelpers(node)}
@compute @workgroup_size(${WG})
fn matmul_epilogue(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let e = (${FLAT_WORKGROUP}) * ${WG}u + li;
  if (e >= ${k.dim(total)}) { return; }
  let at = (e / ${M}) * ${N} + e % ${M};
  y[e] = ${epilogue(node, (i) => `prod[at + ${i}u * ${M}]`)};
}`;
  return k.build({ body, grid: grid1d(ceilDiv(total, WG), target), label: `matmul epilogue ${parts} parts: ${node.attrs.epilogue as string}`, ...(when ? { when } : {}) });
}

/**
 * parts > 1 in the GEMV: each workgroup takes the same 4 / parts columns of every block, so the
 * epilogue runs in its store; only for 2 or 4 blocks.
 */
function partsProjection(node: Node, f: Fused, parts: number, label: string): Projection {
  const width = f.out[f.out.length - 1];
  const per = 4 / parts;
  const p = projection(f, (k) => {
    bindExtras(k, node, f);
    k.result(0, 'y', 'f32');
  }, (k) => `${extraReaders(k, node, f)}
${epilogueHelpers(node)}`, label);
  const gemvColumns = (k: KernelBuilder): GemvColumns => {
    const W = k.dim(width);
    // Lane i: block ⌊i / per⌋, column j + i mod per (clamped; the duplicates are not stored).
    const lanes = Array.from({ length: 4 }, (_, i) => `${Math.floor(i / per)}u * ${W} + min(j + ${i % per}u, ${W} - 1u)`);
    const stores = Array.from({ length: per }, (_, o) => `  if (j + ${o}u < ${W}) {
    let e = m * ${W} + j + ${o}u;
${Array.from({ length: parts }, (_, b) => `    let acc${b} = acc[${b * per + o}] + bias_at(${b}u * ${W} + j + ${o}u);`).join('\n')}
    y[e] = ${epilogue(node, (i) => `acc${i}`)};
  }`).join('\n');
    return {
      groups: ceilDiv(width, per),
      wgsl: `fn gemv_columns(g: u32) -> vec4u {
  let j = g * ${per}u;
  return vec4u(${lanes.join(', ')});
}
fn store_columns(m: u32, g: u32, c: vec4u, acc: vec4f) {
  let j = g * ${per}u;
${stores}
}`,
    };
  };
  return { ...p, gemvColumns };
}

function lowerProjection(node: Node, target: WgslTarget, f: Fused, label: string): WgslLowering {
  const parts = node.attrs.parts as number;
  const pre = statsKernels(node, target, f);
  if (parts === 1) return { kernels: [...pre, ...projectionKernels(node, target, directProjection(node, f, label))] };
  const viaScratch = (when?: WgslKernel['when']) => [
    ...projectionKernels(node, target, productProjection(f, label), when && 'gemm', when),
    epilogueKernel(node, target, f, parts, when),
  ];
  if ((parts !== 2 && parts !== 4) || weightParts(node.inputs[1].type, target)) return { kernels: [...pre, ...viaScratch()] };
  // Few rows: the GEMV with the epilogue in its store; many: the GEMM's product, then the epilogue.
  const direct = (when?: WgslKernel['when']) => projectionKernels(node, target, partsProjection(node, f, parts, label), 'gemv', when);
  if (typeof f.rows === 'number') return { kernels: [...pre, ...(f.rows <= GEMV_MAX_ROWS ? direct() : viaScratch())] };
  return { kernels: [...pre, ...direct({ dim: f.rows, max: GEMV_MAX_ROWS }), ...viaScratch({ dim: f.rows, min: GEMV_MAX_ROWS + 1 })] };
}

export function emitMatmulEp(node: Node, target: WgslTarget): WgslLowering {
  return lowerProjection(node, target, fusedOf(node, 2, node.attrs.bias as boolean), `matmul_ep ${node.attrs.epilogue as string}`);
}

export function emitNormMatmul(node: Node, target: WgslTarget): WgslLowering {
  const norm = { kind: node.attrs.kind as Norm, eps: node.attrs.eps as number };
  return lowerProjection(node, target, fusedOf(node, 2, node.attrs.bias as boolean, norm), `norm_matmul ${node.attrs.epilogue as string}`);
}

/** rope_cols as sorted [start, end) ranges, adjacent ones merged. */
function ropeRanges(cols: readonly number[]): [number, number][] {
  const ranges = Array.from({ length: cols.length / 2 }, (_, i): [number, number] => [cols[2 * i], cols[2 * i + 1]]).sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const r of ranges) {
    const last = merged[merged.length - 1];
    if (last && last[1] === r[0]) last[1] = r[1];
    else merged.push([r[0], r[1]]);
  }
  return merged;
}

/**
 * rope_matmul's GEMV with the rotation in its store, when the rotated heads are columns [0, R)
 * rotated whole (rotary_dim = head_dim, a multiple of 4) and no longrope: a workgroup takes two
 * rotation pairs of one head (their four columns), or four of the columns after R, so every
 * pair's partner is in the same workgroup. Undefined when the layout does not allow it.
 */
function ropeGemvProjection(node: Node, f: Fused, label: string): Projection | undefined {
  const a = node.attrs;
  const hd = a.head_dim as number;
  const rope = ropeFunctions(a, hd);
  const ranges = ropeRanges(a.rope_cols as readonly number[]);
  if (rope.longrope || rope.rd !== hd || hd % 4 !== 0 || ranges.length !== 1 || ranges[0][0] !== 0 || typeof f.n !== 'number') return undefined;
  const R = ranges[0][1], N = f.n;
  const x = node.inputs[0].type, pos = node.inputs[2].type;
  const p = projection(f, (k) => {
    k.operand(2, 'pos', 'i32');
    k.result(0, 'y', 'f32');
  }, () => rope.wgsl, label);
  const ropeGroups = R / 4, perHead = hd / 4, half = hd / 2;
  // Lanes (0, 2) and (1, 3) are pairs in rotate-half layout, (0, 1) and (2, 3) interleaved.
  const pairCols = a.interleaved
    ? `let c0 = h * ${hd}u + 4u * j;
    return vec4u(c0, c0 + 1u, c0 + 2u, c0 + 3u);`
    : `let c0 = h * ${hd}u + 2u * j;
    return vec4u(c0, c0 + 1u, c0 + ${half}u, c0 + ${half + 1}u);`;
  const partner = a.interleaved ? ['y', 'x', 'w', 'z'] : ['z', 'w', 'x', 'y'];
  const gemvColumns = (k: KernelBuilder): GemvColumns => {
    // pos [S] is shared by every sequence of a batched x.
    const posIndex = x.shape.length === 3 && pos.shape.length === 1 ? `m % ${k.dim(x.shape[1])}` : 'm';
    return {
      groups: ropeGroups + Math.ceil((N - R) / 4),
      wgsl: `fn gemv_columns(g: u32) -> vec4u {
  if (g < ${ropeGroups}u) {
    let h = g / ${perHead}u;
    let j = g % ${perHead}u;
    ${pairCols}
  }
  let n0 = ${R}u + (g - ${ropeGroups}u) * 4u;
  return vec4u(n0, min(n0 + 1u, ${N - 1}u), min(n0 + 2u, ${N - 1}u), min(n0 + 3u, ${N - 1}u));
}
fn store_columns(m: u32, g: u32, c: vec4u, acc: vec4f) {
  let v = acc + vec4f(bias_at(c.x), bias_at(c.y), bias_at(c.z), bias_at(c.w));
  let row = m * ${N}u;
  if (g < ${ropeGroups}u) {
    let p = pos[${posIndex}];
${['x', 'y', 'z', 'w'].map((l, i) => `    y[row + c.${l}] = rope_rotate(c.${l} % ${hd}u, v.${l}, v.${partner[i]}, p);`).join('\n')}
    return;
  }
${['x', 'y', 'z', 'w'].map((l, i) => `  if (c.x + ${i}u < ${N}u) { y[row + c.x + ${i}u] = v.${l}; }`).join('\n')}
}`,
    };
  };
  return { ...p, gemvColumns };
}

export function emitRopeMatmul(node: Node, target: WgslTarget): WgslLowering {
  const a = node.attrs;
  const norm = a.norm === 'none' ? undefined : { kind: a.norm as Norm, eps: a.eps as number };
  const f = { ...fusedOf(node, 3, node.inputs.length > 3, norm), extras: [] };
  const hd = a.head_dim as number;
  const rope = ropeFunctions(a, hd);
  const viaScratch = (when?: WgslKernel['when']) => [
    ...(rope.longrope ? [maxPosKernel(node, target, 2, when)] : []),
    ...projectionKernels(node, target, productProjection(f, 'rope_matmul'), when && 'gemm', when),
    ropeEpilogueKernel(node, target, f, when),
  ];
  const pre = statsKernels(node, target, f);
  const direct = weightParts(node.inputs[1].type, target) ? undefined : ropeGemvProjection(node, f, 'rope_matmul rotated in the store');
  if (!direct) return { kernels: [...pre, ...viaScratch()] };
  // Few rows: the GEMV rotates as it stores; many: the GEMM's product, then the rotation kernel.
  const gemv = (when?: WgslKernel['when']) => projectionKernels(node, target, direct, 'gemv', when);
  if (typeof f.rows === 'number') return { kernels: [...pre, ...(f.rows <= GEMV_MAX_ROWS ? gemv() : viaScratch())] };
  return { kernels: [...pre, ...gemv({ dim: f.rows, max: GEMV_MAX_ROWS }), ...viaScratch({ dim: f.rows, min: GEMV_MAX_ROWS + 1 })] };
}

/** The rotation after the GEMM: rotates the rope_cols heads of the product, copies the rest. */
function ropeEpilogueKernel(node: Node, target: WgslTarget, f: Fused, when?: WgslKernel['when']): WgslKernel {
  const a = node.attrs;
  const hd = a.head_dim as number;
  const rope = ropeFunctions(a, hd);
  const x = node.inputs[0].type, pos = node.inputs[2].type;
  const k = new KernelBuilder(node, target, 'rope_epilogue');
  k.scratch(PRODUCT, dimMul(dimMul(f.rows, f.n), 4), 'prod', 'f32');
  k.operand(2, 'pos', 'i32');
  if (rope.longrope) k.scratch(MAX_POS_SCRATCH, 4, 'max_pos', 'i32');
  k.result(0, 'y', 'f32');
  const cols = a.rope_cols as readonly number[];
  const ranges = Array.from({ length: cols.length / 2 }, (_, i) => [cols[2 * i], cols[2 * i + 1]]);
  const N = k.dim(f.n), total = dimProduct(f.out);
  // Rows are tokens; x [B, S, K] with pos [S] shares the positions across the batch.
  const posIndex = x.shape.length === 3 && pos.shape.length === 1 ? `row % ${k.dim(x.shape[1])}` : 'row';
  const inRope = ranges.map(([s, e]) => `(c >= ${s}u && c < ${e}u)`).join(' || ');
  const start = ranges.reduceRight((acc, [s, e]) => `select(${acc}, ${s}u, c >= ${s}u && c < ${e}u)`, '0u');
  const body = `${rope.wgsl}
@compute @workgroup_size(${WG})
fn rope_epilogue(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let e = (${FLAT_WORKGROUP}) * ${WG}u + li;
  if (e >= ${k.dim(total)}) { return; }
  let row = e / ${N};
  let c = e % ${N};
  let v = prod[e];
  if (!(${inRope})) { y[e] = v; return; }
  let d = (c - ${start}) % ${hd}u;
  if (d >= ${rope.rd}u) { y[e] = v; return; }
  y[e] = rope_rotate(d, v, prod[e - d + rope_partner(d)], pos[${posIndex}]);
}`;
  return k.build({ body, grid: grid1d(ceilDiv(total, WG), target), label: `rope_matmul epilogue hd${hd} rd${rope.rd} ${String(a.scaling)}`, ...(when ? { when } : {}) });
}
