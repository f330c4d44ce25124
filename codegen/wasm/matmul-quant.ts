// matmul with GGUF block-quantized weights (q8_0, q4_0), integer dot products as llama.cpp does on
// CPUs. Two kernels with a barrier between:
//
// 1. quantize_act: every activation row is cut into 32-element blocks and each block quantized
//    to 8 bits with its own scale d = max|x|/127 (q = round(x/d)); after all rows' blocks, each
//    block's scale and Σq. For q8_0 weights the block is stored already widened to i16 (64 bytes),
//    so the dot kernel never re-widens activations; for q4_0 it stays i8 (32 bytes), the operand
//    of _t_dot_q4. The row's tail block is zero-padded, as the weights' are.
// 2. the dot kernel, per weight block:
//    - q8_0: the 32 weights are widened to four i16x8 vectors and multiplied with the activation
//      block by i32x4.dot_i16x8_s (pmaddwd: 8 products, summed in pairs, exact in i32);
//    - q4_0: the 16 bytes of nibbles (each q + 8, in 0..15) go to _t_dot_q4 (module.ts), which
//      with relaxed SIMD multiplies bytes directly (i8 × u7 dot products: pmaddubsw) and else
//      widens like q8_0; the +8 bias is removed once per block through 8·Σq_x.
//    For four weight rows the four blocks' i32x4 sums are summed across lanes into one i32x4
//    (still exact), converted and scaled by d_w·d_x into one f32x4 accumulator of four outputs.
//    Tiles, thread split and the store hook are projection.ts's, as for float weights.
//
// The only approximation against the reference (which dequantizes weights and multiplies in f64)
// is the rounding of activations to 8 bits: |x − x̂| ≤ d_x/2 per element.
import { dimMul, dimProduct } from '../../ir/dim.js';
import { dtypeInfo } from '../../ir/dtype.js';
import type { Node } from '../../ir/graph.js';
import { KernelWriter, type WasmKernel } from './kernel.js';
import { normalized, rowStats } from './norm.js';
import { bindFusion, emitTiles, type ProjectionOptions, type Prologue } from './projection.js';

type QuantType = 'q8_0' | 'q4_0';

const QBLOCK = 32;
/** Bytes per quantized activation block: 32 i16 for q8_0 weights, 32 i8 for q4_0. */
const actBlockBytes = (dtype: QuantType): number => (dtype === 'q8_0' ? 64 : 32);
/** Per block, after all rows' blocks: the scale d_x and Σq_x (both f32; the sum is exact). */
const ACT_SCALE_BYTES = 8;

/**
 * Quantizes activation blocks; with a norm prologue, each row is normalised (no gain) on the way,
 * and threads split rows rather than blocks since a block needs its whole row's statistics.
 */
function emitQuantizeActivations(node: Node, dtype: QuantType, nb: number, K: number, norm: Prologue | undefined): WasmKernel {
  const blockBytes = actBlockBytes(dtype);
  const x = node.inputs[0];
  const w = new KernelWriter('quantize_act');
  const xp = w.ptr({ kind: 'operand', index: 0 }, 'px');
  const R = dimProduct(x.type.shape.slice(0, -1));
  const qp = w.ptr({ kind: 'scratch', slot: 0, bytes: dimMul(R, nb * (blockBytes + ACT_SCALE_BYTES)), perThread: false }, 'pq');
  const rows = w.dim(R);
  const tail = K % QBLOCK;
  w.line(`const R: i32 = ${rows};`, `const scales = ${qp} + (<usize>R) * ${nb * blockBytes};`);
  if (norm) {
    w.line(
      'const r0 = _t_split(R, tid, nthreads), r1 = _t_split(R, tid + 1, nthreads);',
      'for (let r = r0; r < r1; r++) {',
      `const D: i32 = ${K};`,
      `const xr = ${xp} + (<usize>r) * ${K * 4};`,
    );
    rowStats(w, norm.kind, norm.eps);
    w.line(`for (let b = 0; b < ${nb}; b++) {`, `const it = r * ${nb} + b;`);
  } else {
    w.line(
      `const items = R * ${nb};`,
      'const it0 = _t_split(items, tid, nthreads), it1 = _t_split(items, tid + 1, nthreads);',
      'for (let it = it0; it < it1; it++) {',
      `const r = it / ${nb};`,
      `const b = it - r * ${nb};`,
    );
  }
  w.line(`const src = ${xp} + ((<usize>r) * ${K} + (<usize>b) * ${QBLOCK}) * 4;`);
  // The row's last block holds only \`tail\` elements: lanes past them are zero (after normalising).
  const keep = (n: number, v: string) => (norm?.kind === 'layer' ? `v128.and(${v}, i32x4(${[0, 1, 2, 3].map((l) => (l < n ? -1 : 0)).join(', ')}))` : v);
  const normed = (v: string) => (norm ? normalized(norm.kind, v) : v);
  const partial = (q: number) => {
    const n = tail - q * 4;
    if (n >= 4) return normed(`v128.load(src, ${q * 16})`);
    return n <= 0 ? 'f32x4.splat(0.0)' : keep(n, normed(`_t_lanes(src + ${q * 16}, ${n}, 0.0)`));
  };
  const load = (q: number) => (tail === 0
    ? normed(`v128.load(src, ${q * 16})`)
    : `(b == ${nb - 1} ? ${partial(q)} : ${normed(`v128.load(src, ${q * 16})`)})`);
  for (let q = 0; q < 8; q++) w.line(`const v${q} = ${load(q)};`);
  w.line(
    'let m = f32x4.max(f32x4.max(f32x4.max(f32x4.abs(v0), f32x4.abs(v1)), f32x4.max(f32x4.abs(v2), f32x4.abs(v3))),',
    '  f32x4.max(f32x4.max(f32x4.abs(v4), f32x4.abs(v5)), f32x4.max(f32x4.abs(v6), f32x4.abs(v7))));',
    'const amax = _t_hmax(m);',
    'const d: f32 = amax / 127.0;',
    'const id = f32x4.splat(amax > 0 ? <f32>127.0 / amax : <f32>0.0);',
    `const dst = ${qp} + (<usize>it) * ${blockBytes};`,
  );
  for (let q = 0; q < 8; q++) w.line(`const q${q} = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v${q}, id)));`);
  if (dtype === 'q8_0') {
    for (let q = 0; q < 8; q += 2) w.line(`v128.store(dst, i16x8.narrow_i32x4_s(q${q}, q${q + 1}), ${q * 8});`);
  } else {
    // |q| ≤ 127: both narrowings are exact.
    for (let q = 0; q < 8; q += 4) {
      w.line(`v128.store(dst, i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(q${q}, q${q + 1}), i16x8.narrow_i32x4_s(q${q + 2}, q${q + 3})), ${q * 4});`);
    }
  }
  w.line(
    'const qsum = i32x4.add(i32x4.add(i32x4.add(q0, q1), i32x4.add(q2, q3)), i32x4.add(i32x4.add(q4, q5), i32x4.add(q6, q7)));',
    `store<f32>(scales + (<usize>it) * ${ACT_SCALE_BYTES}, d);`,
    `store<f32>(scales + (<usize>it) * ${ACT_SCALE_BYTES}, <f32>_t_ihsum(qsum), 4);`,
    '}',
  );
  if (norm) w.line('}');
  return w.finish();
}

/** Widens the q8_0 weight block at `blk` + `off` (weight row c) into four i16x8 values w{c}_0..3 (elements 0–7, …, 24–31). */
function widenQ8(c: number, blk: string, off: number): string[] {
  return [
    `const lo${c} = v128.load(${blk}, ${off + 2}), hi${c} = v128.load(${blk}, ${off + 18});`,
    `const w${c}_0 = i16x8.extend_low_i8x16_s(lo${c}), w${c}_1 = i16x8.extend_high_i8x16_s(lo${c});`,
    `const w${c}_2 = i16x8.extend_low_i8x16_s(hi${c}), w${c}_3 = i16x8.extend_high_i8x16_s(hi${c});`,
  ];
}

/** The i32x4 whose lanes sum to activation row r's block · weight row c's block. */
function blockDot(dtype: QuantType, r: number, c: number, xv: (r: number, i: number) => string): string[] {
  if (dtype === 'q4_0') return [`const s${r}${c} = _t_dot_q4(${xv(r, 0)}, ${xv(r, 1)}, qs${c});`];
  return [
    `const s${r}${c} = i32x4.add(`,
    `  i32x4.add(i32x4.dot_i16x8_s(w${c}_0, ${xv(r, 0)}), i32x4.dot_i16x8_s(w${c}_1, ${xv(r, 1)})),`,
    `  i32x4.add(i32x4.dot_i16x8_s(w${c}_2, ${xv(r, 2)}), i32x4.dot_i16x8_s(w${c}_3, ${xv(r, 3)})));`,
  ];
}

/**
 * Lines of a rows × cols block loop over `nb` blocks, leaving outputs o{r} (f32x4). With four weight
 * rows, their four f16 scales are widened together (one _t_h2f4 instead of four scalar
 * conversions) and scale the four rows' lane-summed integer dots at once. A single activation row keeps
 * its block in registers across the four weight rows.
 */
function quantMicroKernel(dtype: QuantType, nb: number, blockBytes: number, rows: 1 | 2, cols: 1 | 4): string[] {
  // Weight rows are consecutive: one pointer to row 0's block, constant offsets to the others.
  const rowBytes = nb * blockBytes;
  const R = [...Array(rows).keys()], C = [...Array(cols).keys()];
  const lines: string[] = [];
  const xVectors = actBlockBytes(dtype) / 16;
  const q4 = dtype === 'q4_0';
  // Four weight rows: each block's four integer dot products are summed across lanes first (exact
  // in i32), so one convert and one multiply-add per block update one f32x4 of four outputs.
  // One weight row: the block's i32x4 is converted and scaled as it is.
  if (cols === 4) for (const r of R) lines.push(`let a${r} = f32x4.splat(0.0);`);
  else for (const r of R) lines.push(`let a${r}0 = f32x4.splat(0.0);`);
  // q4_0: Σ_b d_w·d_x·Σq_x per weight row (lanes), of which 8× is subtracted at the end.
  if (q4) for (const r of R) lines.push(`let corr${r} = f32x4.splat(0.0);`);
  lines.push('let wo: usize = 0, xo: usize = 0, so: usize = 0;');
  lines.push(`for (let b = 0; b < ${nb}; b++) {`, 'const wq = wr0 + wo;');
  for (const r of R) {
    lines.push(`const xq${r} = xr${r} + xo;`);
    if (rows === 1) lines.push(`const ${[...Array(xVectors).keys()].map((i) => `x${r}_${i} = v128.load(xq${r}, ${i * 16})`).join(', ')};`);
  }
  const xv = (r: number, i: number) => (rows === 1 ? `x${r}_${i}` : `v128.load(xq${r}, ${i * 16})`);
  if (cols === 4) {
    lines.push(
      'const dw = _t_h2f4(i32x4.replace_lane(i32x4.replace_lane(i32x4.replace_lane(i32x4.splat(<i32>load<u16>(wq)),',
      `  1, <i32>load<u16>(wq, ${rowBytes})), 2, <i32>load<u16>(wq, ${2 * rowBytes})), 3, <i32>load<u16>(wq, ${3 * rowBytes})));`,
    );
    for (const r of R) lines.push(`const d${r} = f32x4.mul(dw, f32x4.splat(load<f32>(sr${r} + so)));`);
  } else {
    lines.push('const dw = _t_h2f(<u32>load<u16>(wq));');
    for (const r of R) lines.push(`const d${r} = f32x4.splat(dw * load<f32>(sr${r} + so));`);
  }
  if (q4) for (const r of R) lines.push(`corr${r} = _t_madd(d${r}, f32x4.splat(load<f32>(sr${r} + so, 4)), corr${r});`);
  for (const c of C) {
    lines.push(...(q4 ? [`const qs${c} = v128.load(wq, ${c * rowBytes + 2});`] : widenQ8(c, 'wq', c * rowBytes)));
    for (const r of R) {
      lines.push(...blockDot(dtype, r, c, xv));
      if (cols === 1) lines.push(`a${r}0 = _t_madd(f32x4.convert_i32x4_s(s${r}0), d${r}, a${r}0);`);
      else if (c === 1) lines.push(`const p${r}01 = _t_ihsum4_pair(s${r}0, s${r}1);`);
      else if (c === 3) {
        lines.push(`a${r} = _t_madd(f32x4.convert_i32x4_s(_t_ihsum4_join(p${r}01, _t_ihsum4_pair(s${r}2, s${r}3))), d${r}, a${r});`);
      }
    }
  }
  lines.push(`wo += ${blockBytes}; xo += ${actBlockBytes(dtype)}; so += ${ACT_SCALE_BYTES};`, '}');
  for (const r of R) {
    lines.push(cols === 4 ? `let o${r} = a${r};` : `let o${r} = f32x4.splat(_t_hsum(a${r}0));`);
    if (q4) lines.push(`o${r} = f32x4.sub(o${r}, f32x4.mul(corr${r}, f32x4.splat(8.0)));`);
  }
  return lines;
}

/**
 * q8_0, one activation row × 8 consecutive weight rows (GEMV): the 4-row block loop twice over in
 * one pass, so each block of x (in registers) serves 8 rows and twice as many weight streams are in
 * flight. Leaves o0 (rows 0–3) and o0_1 (rows 4–7).
 */
function q8WideGemv(nb: number): string[] {
  const blockBytes = dtypeInfo('q8_0').blockBytes, rowBytes = nb * blockBytes;
  const xVectors = actBlockBytes('q8_0') / 16;
  const lines = ['let a0 = f32x4.splat(0.0), a1 = f32x4.splat(0.0);',
    'let wo: usize = 0, xo: usize = 0, so: usize = 0;',
    `for (let b = 0; b < ${nb}; b++) {`, 'const wq = wr0 + wo;', 'const xq0 = xr0 + xo;',
    `const ${[...Array(xVectors).keys()].map((i) => `x0_${i} = v128.load(xq0, ${i * 16})`).join(', ')};`,
    'const sx = f32x4.splat(load<f32>(sr0 + so));'];
  for (const g of [0, 1]) {
    const [s0, s1, s2, s3] = [0, 1, 2, 3].map((c) => `<i32>load<u16>(wq, ${(4 * g + c) * rowBytes})`);
    lines.push(`const d${g} = f32x4.mul(_t_h2f4(i32x4.replace_lane(i32x4.replace_lane(i32x4.replace_lane(i32x4.splat(${s0}), 1, ${s1}), 2, ${s2}), 3, ${s3})), sx);`);
    for (let c = 4 * g; c < 4 * g + 4; c++) {
      lines.push(...widenQ8(c, 'wq', c * rowBytes), ...blockDot('q8_0', 0, c, (r, i) => `x${r}_${i}`));
      if (c % 4 === 1) lines.push(`const p${g}01 = _t_ihsum4_pair(s0${c - 1}, s0${c});`);
      if (c % 4 === 3) lines.push(`a${g} = _t_madd(f32x4.convert_i32x4_s(_t_ihsum4_join(p${g}01, _t_ihsum4_pair(s0${c - 1}, s0${c}))), d${g}, a${g});`);
    }
  }
  lines.push(`wo += ${blockBytes}; xo += ${actBlockBytes('q8_0')}; so += ${ACT_SCALE_BYTES};`, '}', 'let o0 = a0, o0_1 = a1;');
  return lines;
}

function emitQuantDot(node: Node, nb: number, opts: ProjectionOptions): WasmKernel {
  const [x, wv] = node.inputs;
  const dtype = wv.type.dtype as QuantType;
  const blockBytes = dtypeInfo(dtype).blockBytes;
  const actBytes = actBlockBytes(dtype);
  const w = new KernelWriter(`matmul_${dtype}`);
  const Rd = dimProduct(x.type.shape.slice(0, -1));
  const qp = w.ptr({ kind: 'scratch', slot: 0, bytes: dimMul(Rd, nb * (actBytes + ACT_SCALE_BYTES)), perThread: false }, 'pq');
  const wp = w.ptr({ kind: 'operand', index: 1 }, 'pw');
  const fusion = bindFusion(w, node, opts);
  w.line(`const R: i32 = ${w.dim(Rd)};`, `const scales = ${qp} + (<usize>R) * ${nb * actBytes};`);
  emitTiles(w, {
    ...fusion, wp,
    micro: {
      rowBytes: nb * blockBytes,
      rowPtrs: (r, row) => [`const xr${r} = ${qp} + (<usize>(${row})) * ${nb * actBytes}, sr${r} = scales + (<usize>(${row})) * ${nb * ACT_SCALE_BYTES};`],
      body: (rows, cols) => quantMicroKernel(dtype, nb, blockBytes, rows, cols),
      // q8_0 GEMVs take 8 weight rows at once (more streams in flight: ~15-25 % faster from memory);
      // q4_0's, bound by unpacking nibbles, gained nothing from it.
      ...(dtype === 'q8_0' ? { wideBody: () => q8WideGemv(nb) } : {}),
    },
  });
  return w.finish();
}

/** Quantize the activations (normalising them first for a norm prologue), then the integer dot kernel. */
export function emitQuantProjection(node: Node, opts: ProjectionOptions): WasmKernel[] {
  const K = node.inputs[1].type.shape[1] as number;
  const nb = Math.ceil(K / QBLOCK);
  return [emitQuantizeActivations(node, node.inputs[1].type.dtype as QuantType, nb, K, opts.norm), emitQuantDot(node, nb, opts)];
}
