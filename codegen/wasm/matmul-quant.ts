// matmul with GGUF block-quantized weights (q8_0, q4_0), integer dot products as llama.cpp does on
// CPUs. Two kernels with a barrier between:
//
// 1. quantize_act: every activation row is cut into 32-element blocks and each block quantized
//    to 8 bits with its own scale d = max|x|/127 (q = round(x/d)), stored already widened to i16
//    (64 bytes a block; after all rows' blocks, each block's scale and Σq), so the dot kernel
//    never re-widens activations. The row's tail block is zero-padded, as the weights' are.
// 2. the dot kernel: per weight block, the 32 weights are widened to four i16x8 vectors (q4_0:
//    nibbles split off in 16-bit lanes; their +8 bias is removed once per block through Σq_x),
//    multiplied with the activation block by
//    i32x4.dot_i16x8_s (pmaddwd: 8 products, summed in pairs, exact in i32); for four weight rows
//    the four blocks' i32x4 sums are summed across lanes into one i32x4 (still exact), converted
//    and scaled by d_w·d_x into one f32x4 accumulator of four outputs. Tiles, thread split
//    and the store hook are projection.ts's, as for float weights.
//
// The only approximation against the reference (which dequantizes weights and multiplies in f64)
// is the rounding of activations to 8 bits: |x − x̂| ≤ d_x/2 per element.
import { dimMul, dimProduct } from '../../ir/dim.js';
import type { Node } from '../../ir/graph.js';
import { KernelWriter, type WasmKernel } from './kernel.js';
import { normalized, rowStats } from './norm.js';
import { bindFusion, emitTiles, type ProjectionOptions, type Prologue } from './projection.js';

const QBLOCK = 32;
/** Bytes per quantized activation block: 32 i16. */
const ACT_BLOCK_BYTES = 64;
/** Per block, after all rows' blocks: the scale d_x and Σq_x (both f32; the sum is exact). */
const ACT_SCALE_BYTES = 8;

/**
 * Quantizes activation blocks; with a norm prologue, each row is normalised (no gain) on the way,
 * and threads split rows rather than blocks since a block needs its whole row's statistics.
 */
function emitQuantizeActivations(node: Node, nb: number, K: number, norm: Prologue | undefined): WasmKernel {
  const x = node.inputs[0];
  const w = new KernelWriter('quantize_act');
  const xp = w.ptr({ kind: 'operand', index: 0 }, 'px');
  const R = dimProduct(x.type.shape.slice(0, -1));
  const qp = w.ptr({ kind: 'scratch', slot: 0, bytes: dimMul(R, nb * (ACT_BLOCK_BYTES + ACT_SCALE_BYTES)), perThread: false }, 'pq');
  const rows = w.dim(R);
  const tail = K % QBLOCK;
  w.line(`const R: i32 = ${rows};`, `const scales = ${qp} + (<usize>R) * ${nb * ACT_BLOCK_BYTES};`);
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
    `const dst = ${qp} + (<usize>it) * ${ACT_BLOCK_BYTES};`,
  );
  for (let q = 0; q < 8; q++) w.line(`const q${q} = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v${q}, id)));`);
  for (let q = 0; q < 8; q += 2) w.line(`v128.store(dst, i16x8.narrow_i32x4_s(q${q}, q${q + 1}), ${q * 8});`);
  w.line(
    'const qsum = i32x4.add(i32x4.add(i32x4.add(q0, q1), i32x4.add(q2, q3)), i32x4.add(i32x4.add(q4, q5), i32x4.add(q6, q7)));',
    `store<f32>(scales + (<usize>it) * ${ACT_SCALE_BYTES}, d);`,
    `store<f32>(scales + (<usize>it) * ${ACT_SCALE_BYTES}, <f32>_t_ihsum(qsum), 4);`,
    '}',
  );
  if (norm) w.line('}');
  return w.finish();
}

/**
 * Widens weight block `blk` of weight row c into four i16x8 values w{c}_0..3 (elements 0–7, …,
 * 24–31). q4_0 bytes are widened first and split into nibbles in 16-bit lanes (x86 has no byte
 * shift): low nibbles are elements 0–15, high nibbles 16–31, each stored as q + 8. With
 * `centered` false the +8 stays in, and the caller subtracts 8·Σx per block instead (cheaper:
 * once per block for four rows rather than four subtractions per row).
 */
function widenWeights(dtype: 'q8_0' | 'q4_0', c: number, blk: string, centered: boolean): string[] {
  const v = (i: number) => `w${c}_${i}`;
  if (dtype === 'q8_0') {
    return [
      `const lo${c} = v128.load(${blk}, 2), hi${c} = v128.load(${blk}, 18);`,
      `const ${v(0)} = i16x8.extend_low_i8x16_s(lo${c}), ${v(1)} = i16x8.extend_high_i8x16_s(lo${c});`,
      `const ${v(2)} = i16x8.extend_low_i8x16_s(hi${c}), ${v(3)} = i16x8.extend_high_i8x16_s(hi${c});`,
    ];
  }
  const center = (e: string) => (centered ? `i16x8.sub(${e}, i16x8.splat(8))` : e);
  return [
    `const qs${c} = v128.load(${blk}, 2);`,
    `const e${c}_0 = i16x8.extend_low_i8x16_u(qs${c}), e${c}_1 = i16x8.extend_high_i8x16_u(qs${c});`,
    `const ${v(0)} = ${center(`v128.and(e${c}_0, i16x8.splat(0x0f))`)}, ${v(1)} = ${center(`v128.and(e${c}_1, i16x8.splat(0x0f))`)};`,
    `const ${v(2)} = ${center(`i16x8.shr_u(e${c}_0, 4)`)}, ${v(3)} = ${center(`i16x8.shr_u(e${c}_1, 4)`)};`,
  ];
}

/**
 * Lines of a rows × cols block loop over `nb` blocks, leaving outputs o{r} (f32x4). With four weight
 * rows, their four f16 scales are widened together (one _t_h2f4 instead of four scalar
 * conversions) and scale the four rows' lane-summed integer dots at once. A single activation row keeps
 * its widened block in registers across the four weight rows.
 */
function quantMicroKernel(dtype: 'q8_0' | 'q4_0', nb: number, blockBytes: number, rows: 1 | 2, cols: 1 | 4): string[] {
  const R = [...Array(rows).keys()], C = [...Array(cols).keys()];
  const lines: string[] = [];
  const deferCentering = dtype === 'q4_0' && cols === 4;
  // Four weight rows: each block's four integer dot products are summed across lanes first (exact
  // in i32), so one convert and one multiply-add per block update one f32x4 of four outputs.
  // One weight row: the block's i32x4 is converted and scaled as it is.
  if (cols === 4) for (const r of R) lines.push(`let a${r} = f32x4.splat(0.0);`);
  else for (const r of R) lines.push(`let a${r}0 = f32x4.splat(0.0);`);
  // Σ_b d_w·d_x·8·Σq_x for the four weight rows (lanes), subtracted at the end (q4_0).
  if (deferCentering) for (const r of R) lines.push(`let corr${r} = f32x4.splat(0.0);`);
  lines.push('let wo: usize = 0, xo: usize = 0, so: usize = 0;');
  lines.push(`for (let b = 0; b < ${nb}; b++) {`);
  for (const r of R) {
    lines.push(`const xq${r} = xr${r} + xo;`);
    if (rows === 1) lines.push(`const x${r}_0 = v128.load(xq${r}), x${r}_1 = v128.load(xq${r}, 16), x${r}_2 = v128.load(xq${r}, 32), x${r}_3 = v128.load(xq${r}, 48);`);
  }
  const xv = (r: number, i: number) => (rows === 1 ? `x${r}_${i}` : `v128.load(xq${r}, ${i * 16})`);
  if (cols === 4) {
    lines.push(
      'const dw = _t_h2f4(i32x4.replace_lane(i32x4.replace_lane(i32x4.replace_lane(i32x4.splat(<i32>load<u16>(wr0 + wo)),',
      '  1, <i32>load<u16>(wr1 + wo)), 2, <i32>load<u16>(wr2 + wo)), 3, <i32>load<u16>(wr3 + wo)));',
    );
    for (const r of R) lines.push(`const d${r} = f32x4.mul(dw, f32x4.splat(load<f32>(sr${r} + so)));`);
    if (deferCentering) for (const r of R) lines.push(`corr${r} = f32x4.add(corr${r}, f32x4.mul(d${r}, f32x4.splat(load<f32>(sr${r} + so, 4))));`);
  } else {
    lines.push('const dw = _t_h2f(<u32>load<u16>(wr0 + wo));');
    for (const r of R) lines.push(`const d${r} = f32x4.splat(dw * load<f32>(sr${r} + so));`);
  }
  for (const c of C) {
    lines.push(...widenWeights(dtype, c, `wr${c} + wo`, !deferCentering));
    for (const r of R) {
      lines.push(
        `const s${r}${c} = i32x4.add(`,
        `  i32x4.add(i32x4.dot_i16x8_s(w${c}_0, ${xv(r, 0)}), i32x4.dot_i16x8_s(w${c}_1, ${xv(r, 1)})),`,
        `  i32x4.add(i32x4.dot_i16x8_s(w${c}_2, ${xv(r, 2)}), i32x4.dot_i16x8_s(w${c}_3, ${xv(r, 3)})));`,
      );
      if (cols === 1) lines.push(`a${r}0 = _t_madd(f32x4.convert_i32x4_s(s${r}0), d${r}, a${r}0);`);
      else if (c === 1) lines.push(`const p${r}01 = _t_ihsum4_pair(s${r}0, s${r}1);`);
      else if (c === 3) {
        lines.push(`a${r} = _t_madd(f32x4.convert_i32x4_s(_t_ihsum4_join(p${r}01, _t_ihsum4_pair(s${r}2, s${r}3))), d${r}, a${r});`);
      }
    }
  }
  lines.push(`wo += ${blockBytes}; xo += ${ACT_BLOCK_BYTES}; so += ${ACT_SCALE_BYTES};`, '}');
  for (const r of R) {
    lines.push(cols === 4 ? `let o${r} = a${r};` : `let o${r} = f32x4.splat(_t_hsum(a${r}0));`);
    if (deferCentering) lines.push(`o${r} = f32x4.sub(o${r}, f32x4.mul(corr${r}, f32x4.splat(8.0)));`);
  }
  return lines;
}

function emitQuantDot(node: Node, nb: number, opts: ProjectionOptions): WasmKernel {
  const [x, wv] = node.inputs;
  const dtype = wv.type.dtype as 'q8_0' | 'q4_0';
  const blockBytes = dtype === 'q8_0' ? 34 : 18;
  const w = new KernelWriter(`matmul_${dtype}`);
  const Rd = dimProduct(x.type.shape.slice(0, -1));
  const qp = w.ptr({ kind: 'scratch', slot: 0, bytes: dimMul(Rd, nb * (ACT_BLOCK_BYTES + ACT_SCALE_BYTES)), perThread: false }, 'pq');
  const wp = w.ptr({ kind: 'operand', index: 1 }, 'pw');
  const fusion = bindFusion(w, node, opts);
  w.line(`const R: i32 = ${w.dim(Rd)};`, `const scales = ${qp} + (<usize>R) * ${nb * ACT_BLOCK_BYTES};`);
  emitTiles(w, {
    ...fusion, wp,
    micro: {
      rowBytes: nb * blockBytes,
      rowPtrs: (r, row) => [`const xr${r} = ${qp} + (<usize>(${row})) * ${nb * ACT_BLOCK_BYTES}, sr${r} = scales + (<usize>(${row})) * ${nb * ACT_SCALE_BYTES};`],
      body: (rows, cols) => quantMicroKernel(dtype, nb, blockBytes, rows, cols),
    },
  });
  return w.finish();
}

/** Quantize the activations (normalising them first for a norm prologue), then the integer dot kernel. */
export function emitQuantProjection(node: Node, opts: ProjectionOptions): WasmKernel[] {
  const K = node.inputs[1].type.shape[1] as number;
  const nb = Math.ceil(K / QBLOCK);
  return [emitQuantizeActivations(node, nb, K, opts.norm), emitQuantDot(node, nb, opts)];
}
