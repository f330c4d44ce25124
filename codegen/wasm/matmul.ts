// matmul y[r, n] = Σ_k x[r, k] · w[n, k] (+ bias[n]) with float weights (f32, f16, bf16; the
// block-quantized ones are in matmul-quant.ts).
//
// The tiles and their thread split are projection.ts's. Inside a tile a register-blocked
// micro-kernel computes 2 activation rows × 4 weight rows: per 4 k it loads 2 + 4 vectors for 8
// multiply-adds into 8 accumulators (14 of the 16 xmm registers). Four accumulators are then
// reduced to one vector of 4 outputs (_t_hsum4), which the projection's store hook receives.
import { dimProduct } from '../../ir/dim.js';
import type { DType } from '../../ir/dtype.js';
import { isQuantized } from '../../ir/dtype.js';
import type { Node } from '../../ir/graph.js';
import { KernelWriter, type WasmKernel } from './kernel.js';
import { elemBytes, halvesF32x4, isPlainFloat, loadF32, loadF32x4At, type PlainFloat } from './loads.js';
import { emitGemm } from './gemm.js';
import { floatPanel } from './gemm-pack.js';
import { emitQuantProjection } from './matmul-quant.js';
import { normalizeRow } from './norm.js';
import { bindFusion, emitTiles, type ProjectionOptions, ROW_CHUNK } from './projection.js';

/**
 * Code for a rows × 4 (or rows × 1) micro-kernel; x rows at xr0.. (xr1 = xr0 + 4K), weight rows at
 * wr0.. (consecutive rows). The loop bumps one pointer into x and one into the weights and reaches
 * the other rows through constant offsets in the loads. A single activation row (GEMV) has too few
 * accumulators to hide the 4-cycle add latency, so it runs two interleaved sets over alternating
 * groups of 4 k (8 independent chains) and merges them at the end.
 */
function microKernel(wt: DType, K: number, rows: 1 | 2, cols: 1 | 4): string[] {
  const R = [...Array(rows).keys()], C = [...Array(cols).keys()];
  const sets = rows === 1 ? [0, 1] : [0];
  const eb = elemBytes(wt);
  const acc = (r: number, c: number, s: number) => `a${r}${c}${s ? `_${s}` : ''}`;
  const lines: string[] = [];
  for (const s of sets) for (const r of R) lines.push(`let ${C.map((c) => `${acc(r, c, s)} = f32x4.splat(0.0)`).join(', ')};`);
  const step = 4 * sets.length;
  const body = (s: number) => {
    for (const r of R) lines.push(`const x${r}_${s} = v128.load(xq, ${r * K * 4 + s * 16});`);
    for (const c of C) lines.push(`const w${c}_${s} = ${loadF32x4At(wt, 'wq', c * K * eb + s * 4 * eb)};`);
    for (const r of R) for (const c of C) lines.push(`${acc(r, c, s)} = _t_madd(x${r}_${s}, w${c}_${s}, ${acc(r, c, s)});`);
  };
  const main = Math.floor(K / step) * step;
  lines.push('{', 'let xq = xr0, wq = wr0;', `const xe = xr0 + ${main * 4};`, `for (; xq < xe; xq += ${step * 4}, wq += ${step * eb}) {`);
  for (const s of sets) body(s);
  lines.push('}');
  if (main + 4 <= K) { lines.push('{'); body(0); lines.push('}'); }
  lines.push('}');
  if (sets.length > 1) for (const r of R) for (const c of C) lines.push(`${acc(r, c, 0)} = f32x4.add(${acc(r, c, 0)}, ${acc(r, c, 1)});`);
  for (const r of R) {
    lines.push(cols === 4
      ? `let o${r} = _t_hsum4(${C.map((c) => acc(r, c, 0)).join(', ')});`
      : `let o${r} = f32x4.splat(_t_hsum(${acc(r, 0, 0)}));`);
  }
  // K % 4 leftover columns, unrolled (K is static).
  for (let k = K & ~3; k < K; k++) {
    const wv = C.map((c) => loadF32(wt, `wr${c}`, String(k)));
    const wvec = cols === 4
      ? `f32x4.replace_lane(f32x4.replace_lane(f32x4.replace_lane(f32x4.splat(${wv[0]}), 1, ${wv[1]}), 2, ${wv[2]}), 3, ${wv[3]})`
      : `f32x4.splat(${wv[0]})`;
    lines.push('{', `const wk = ${wvec};`);
    for (const r of R) lines.push(`o${r} = _t_madd(f32x4.splat(load<f32>(xr${r}, ${k * 4})), wk, o${r});`);
    lines.push('}');
  }
  return lines;
}

/**
 * One activation row × 8 consecutive weight rows (GEMV; constant offsets reach rows 1–7): one
 * accumulator per weight row is 8 independent chains, enough to hide the multiply-add latency, and
 * each load of x serves 8 rows. Leaves o0 (rows 0–3) and o0_1 (rows 4–7).
 */
function wideGemv(wt: DType, K: number): string[] {
  const C = [...Array(8).keys()];
  const k4 = K & ~3;
  const eb = elemBytes(wt);
  const lines = [`let ${C.map((c) => `a${c} = f32x4.splat(0.0)`).join(', ')};`, '{', 'let xq = xr0, wq = wr0;'];
  // 16-bit weights: 8 k per step, one 16-byte load per row split into two vectors (then a group
  // of 4 if K % 8 ≥ 4); f32: 4 k per step.
  const halfWidth = wt === 'f16' || wt === 'bf16' ? wt : undefined;
  const step = halfWidth ? 8 : 4;
  const main = Math.floor(K / step) * step;
  lines.push(`const xe = xr0 + ${main * 4};`, `for (; xq < xe; xq += ${step * 4}, wq += ${step * eb}) {`);
  if (halfWidth) {
    const [lo, hi] = halvesF32x4(halfWidth, 'wv');
    lines.push('const x0 = v128.load(xq), x1 = v128.load(xq, 16);');
    for (const c of C) lines.push(`{ const wv = v128.load(wq, ${c * K * eb});`, `a${c} = _t_madd(x0, ${lo}, a${c});`, `a${c} = _t_madd(x1, ${hi}, a${c}); }`);
  } else {
    lines.push('const xv = v128.load(xq);');
    for (const c of C) lines.push(`a${c} = _t_madd(xv, ${loadF32x4At(wt, 'wq', c * K * eb)}, a${c});`);
  }
  lines.push('}');
  if (main < k4) {
    lines.push('{ const xv = v128.load(xq);');
    for (const c of C) lines.push(`a${c} = _t_madd(xv, ${loadF32x4At(wt, 'wq', c * K * eb)}, a${c});`);
    lines.push('}');
  }
  lines.push('}', 'let o0 = _t_hsum4(a0, a1, a2, a3), o0_1 = _t_hsum4(a4, a5, a6, a7);');
  for (let k = k4; k < K; k++) {
    const lane = (c0: number) => `f32x4.replace_lane(f32x4.replace_lane(f32x4.replace_lane(f32x4.splat(${loadF32(wt, `wr${c0}`, String(k))}), 1, ${loadF32(wt, `wr${c0 + 1}`, String(k))}), 2, ${loadF32(wt, `wr${c0 + 2}`, String(k))}), 3, ${loadF32(wt, `wr${c0 + 3}`, String(k))})`;
    lines.push('{', `const xk = f32x4.splat(load<f32>(xr0, ${k * 4}));`, `o0 = _t_madd(xk, ${lane(0)}, o0);`, `o0_1 = _t_madd(xk, ${lane(4)}, o0_1);`, '}');
  }
  return lines;
}

function expectPlainFloat(d: DType): PlainFloat {
  if (!isPlainFloat(d)) throw new Error(`float matmul weights must be f32, f16 or bf16, got ${d}`);
  return d;
}

/**
 * Activation rows per prologue slab: as many as keep a thread's normalised copy within ~256 KiB
 * (it is re-read once per column block, so it should stay in L2), a multiple of ROW_CHUNK.
 */
function slabRows(K: number): number {
  return Math.max(ROW_CHUNK, Math.floor((256 << 10) / (K * 4) / ROW_CHUNK) * ROW_CHUNK);
}

/**
 * The float kernel. With a norm prologue, each thread normalises the slab of rows it works on into
 * its own scratch and multiplies from there, so nothing waits on other threads (threads sharing a
 * slab each normalise it: K·rows operations beside the slab's K·rows·N multiply-adds).
 */
function emitFloatProjection(node: Node, opts: ProjectionOptions): WasmKernel[] {
  const [x, wv] = node.inputs;
  const K = wv.type.shape[1] as number;
  const wt = wv.type.dtype;
  const norm = opts.norm;
  const w = new KernelWriter(`matmul_${wt}`);
  const xp = w.ptr({ kind: 'operand', index: 0 }, 'px');
  const wp = w.ptr({ kind: 'operand', index: 1 }, 'pw');
  const slab = slabRows(K);
  const slabBytes = slab * K * 4;
  const sp = norm ? w.ptr({ kind: 'scratch', slot: 0, bytes: slabBytes, perThread: true }, 'pxs') : '';
  const fusion = bindFusion(w, node, opts);
  w.line(`const R: i32 = ${w.dim(dimProduct(x.type.shape.slice(0, -1)))};`);
  // A prompt chunk: the packed-panel GEMM (gemm.ts); fewer rows (decode): the tile loop below.
  emitGemm(w, { ...fusion, x: xp, wp, weights: floatPanel(expectPlainFloat(wt)), K, norm });
  if (norm) w.line(`const xs = ${sp} + (<usize>tid) * ${slabBytes};`);
  emitTiles(w, {
    ...fusion, wp,
    micro: {
      rowBytes: K * elemBytes(wt),
      rowPtrs: (r, row) => [norm
        ? `const xr${r} = xs + (<usize>(${row} - s0)) * ${K * 4};`
        : `const xr${r} = ${xp} + (<usize>(${row})) * ${K * 4};`],
      body: (rows, cols) => microKernel(wt, K, rows, cols),
      wideBody: () => wideGemv(wt, K),
    },
    prologue: norm && {
      rows: slab,
      emit: (kw) => {
        kw.line('for (let r = s0; r < s1; r++) {', `const D: i32 = ${K};`,
          `const xr = ${xp} + (<usize>r) * ${K * 4}, yr = xs + (<usize>(r - s0)) * ${K * 4};`);
        normalizeRow(kw, norm.kind, norm.eps);
        kw.line('}');
      },
    },
  });
  return [w.finish()];
}

/** The kernels of a (possibly fused) projection x · wᵀ of node's operands 0 and 1. */
export function emitProjection(node: Node, opts: ProjectionOptions = {}): WasmKernel[] {
  const [x, wv] = node.inputs;
  if (x.type.dtype !== 'f32') throw new Error(`x must be f32 (activations), got ${x.type.dtype}`);
  if (typeof wv.type.shape[0] !== 'number' || typeof wv.type.shape[1] !== 'number') {
    throw new Error('matmul weights must have a static shape');
  }
  return isQuantized(wv.type.dtype) ? emitQuantProjection(node, opts) : emitFloatProjection(node, opts);
}

function emitMatmul(node: Node): WasmKernel[] {
  return emitProjection(node, { bias: node.inputs.length > 2 ? 2 : undefined });
}

export const matmulEmitters: Record<string, (node: Node) => WasmKernel[]> = { matmul: emitMatmul };
