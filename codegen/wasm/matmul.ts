// matmul y[r, n] = Σ_k x[r, k] · w[n, k] (+ bias[n]) with float weights (f32, f16, bf16; the
// block-quantized ones are in matmul-quant.ts).
//
// Work is cut into (4 weight rows) × (up to 16 activation rows) tiles, ordered weight-block major
// and split into equal contiguous runs per thread, so a thread streams its own slice of the
// weights once per 16 rows (GEMV, S = 1: exactly once). Inside a tile a register-blocked
// micro-kernel computes 2 activation rows × 4 weight rows: per 4 k it loads 2 + 4 vectors for 8
// multiply-adds into 8 accumulators (14 of the 16 xmm registers). Four accumulators are then
// reduced to one vector of 4 outputs (_t_hsum4) and stored at once.
import { dimProduct } from '../../ir/dim.js';
import type { DType } from '../../ir/dtype.js';
import { isQuantized } from '../../ir/dtype.js';
import type { Node } from '../../ir/graph.js';
import { KernelWriter, type WasmKernel } from './kernel.js';
import { elemBytes, loadF32, loadF32x4 } from './loads.js';
import { emitQuantMatmul, ROW_CHUNK } from './matmul-quant.js';

/**
 * Code for a rows × 4 (or rows × 1) micro-kernel; x rows at xr0.., weight rows at wr0... A single
 * activation row (GEMV) has too few accumulators to hide the 4-cycle add latency, so it runs two
 * interleaved sets over alternating groups of 4 k (8 independent chains) and merges them at the end.
 */
function microKernel(wt: DType, K: number, rows: 1 | 2, cols: 1 | 4): string[] {
  const R = [...Array(rows).keys()], C = [...Array(cols).keys()];
  const sets = rows === 1 ? [0, 1] : [0];
  const acc = (r: number, c: number, s: number) => `a${r}${c}${s ? `_${s}` : ''}`;
  const lines: string[] = [];
  for (const s of sets) for (const r of R) lines.push(`let ${C.map((c) => `${acc(r, c, s)} = f32x4.splat(0.0)`).join(', ')};`);
  const step = 4 * sets.length;
  const body = (k: string, s: number) => {
    for (const r of R) lines.push(`const x${r}_${s} = v128.load(xr${r} + ((<usize>(${k})) << 2));`);
    for (const c of C) lines.push(`const w${c}_${s} = ${loadF32x4(wt, `wr${c}`, k)};`);
    for (const r of R) for (const c of C) lines.push(`${acc(r, c, s)} = _t_madd(x${r}_${s}, w${c}_${s}, ${acc(r, c, s)});`);
  };
  const main = Math.floor(K / step) * step;
  lines.push(`for (let k = 0; k < ${main}; k += ${step}) {`);
  for (const s of sets) body(s ? `k + ${4 * s}` : 'k', s);
  lines.push('}');
  if (main + 4 <= K) { lines.push('{'); body(String(main), 0); lines.push('}'); }
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
    lines.push(`{ const wk = ${wvec};`);
    for (const r of R) lines.push(`o${r} = _t_madd(f32x4.splat(load<f32>(xr${r}, ${k * 4})), wk, o${r});`);
    lines.push('}');
  }
  return lines;
}

function emitFloatMatmul(node: Node): WasmKernel[] {
  const [x, wv, bias] = node.inputs;
  const [N, K] = wv.type.shape as number[];
  const wt = wv.type.dtype;
  if (x.type.dtype !== 'f32') throw new Error(`x must be f32 (activations), got ${x.type.dtype}`);
  const wb = elemBytes(wt);
  const w = new KernelWriter(`matmul_${wt}`);
  const xp = w.ptr({ kind: 'operand', index: 0 }, 'px');
  const wp = w.ptr({ kind: 'operand', index: 1 }, 'pw');
  const bp = bias ? w.ptr({ kind: 'operand', index: 2 }, 'pb') : '';
  const yp = w.ptr({ kind: 'result', index: 0 }, 'py');
  const R = w.dim(dimProduct(x.type.shape.slice(0, -1)));
  const addBias = (o: string, n: string, cols: 1 | 4) => bias
    ? `${o} = f32x4.add(${o}, ${cols === 4 ? loadF32x4(bias.type.dtype, bp, n) : `f32x4.splat(${loadF32(bias.type.dtype, bp, n)})`});`
    : '';
  w.line(
    `const R: i32 = ${R};`,
    `const nrc = (R + ${ROW_CHUNK - 1}) / ${ROW_CHUNK};`,
    `const items = ${Math.ceil(N / 4)} * nrc;`,
    'const it0 = _t_split(items, tid, nthreads), it1 = _t_split(items, tid + 1, nthreads);',
    'for (let it = it0; it < it1; it++) {',
    'const cb = it / nrc;',
    'const n0 = cb << 2;',
    `const r0 = (it - cb * nrc) * ${ROW_CHUNK};`,
    `const r1 = min(r0 + ${ROW_CHUNK}, R);`,
  );
  if (N >= 4) {
    w.line(`if (n0 + 4 <= ${N}) {`);
    for (let c = 0; c < 4; c++) w.line(`const wr${c} = ${wp} + (<usize>(n0 + ${c})) * ${K * wb};`);
    w.line('let r = r0;', 'for (; r + 2 <= r1; r += 2) {',
      `const xr0 = ${xp} + (<usize>r) * ${K * 4}, xr1 = xr0 + ${K * 4};`);
    w.line(...microKernel(wt, K, 2, 4));
    w.line(addBias('o0', 'n0', 4), addBias('o1', 'n0', 4),
      `v128.store(${yp} + ((<usize>r) * ${N} + <usize>n0) * 4, o0);`,
      `v128.store(${yp} + ((<usize>r + 1) * ${N} + <usize>n0) * 4, o1);`,
      '}',
      'if (r < r1) {',
      `const xr0 = ${xp} + (<usize>r) * ${K * 4};`);
    w.line(...microKernel(wt, K, 1, 4));
    w.line(addBias('o0', 'n0', 4), `v128.store(${yp} + ((<usize>r) * ${N} + <usize>n0) * 4, o0);`, '}');
    w.line('continue;', '}');
  }
  if (N % 4 !== 0) {
    // The last, partial weight block: one weight row at a time.
    w.line(`for (let n = n0; n < ${N}; n++) {`, `const wr0 = ${wp} + (<usize>n) * ${K * wb};`,
      'for (let r = r0; r < r1; r++) {', `const xr0 = ${xp} + (<usize>r) * ${K * 4};`);
    w.line(...microKernel(wt, K, 1, 1));
    w.line(addBias('o0', 'n', 1), `store<f32>(${yp} + ((<usize>r) * ${N} + <usize>n) * 4, f32x4.extract_lane(o0, 0));`, '}', '}');
  }
  w.line('}');
  return [w.finish()];
}

function emitMatmul(node: Node): WasmKernel[] {
  const wt = node.inputs[1].type.dtype;
  if (typeof node.inputs[1].type.shape[0] !== 'number' || typeof node.inputs[1].type.shape[1] !== 'number') {
    throw new Error('matmul weights must have a static shape');
  }
  if (isQuantized(wt)) return emitQuantMatmul(node);
  return emitFloatMatmul(node);
}

export const matmulEmitters: Record<string, (node: Node) => WasmKernel[]> = { matmul: emitMatmul };
