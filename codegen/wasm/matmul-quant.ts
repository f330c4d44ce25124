// matmul with GGUF block-quantized weights (one f16 scale d per block, and a min where x = d·q + m), integer dot
// products as llama.cpp does on CPUs. Two kernels with a barrier between:
//
// 1. quantize_act: every activation row is cut into blocks of the weight type's block size (32,
//    as llama.cpp's Q8_0; 256 for the super-block types, as its Q8_K) and each block quantized to
//    8 bits with its own scale d = max|x|/127 (q = round(x/d)); after all rows' blocks, each
//    block's record: scale, Σq, Σ_{q<0}|q| and, for types with sub-block mins, the sums of each
//    sub-block. The block is stored as the weight type's dot takes it (WASM_QUANT in loads.ts: i8,
//    the signed operand of the byte dots of quant-dot.ts; i16 for rows that still widen). The row's
//    tail block is zero-padded, as the weights' are.
// 2. the dot kernel, per weight block: the dtype's row of WASM_QUANT loads the weights and makes an
//    i32x4 whose lanes sum to the block's integer dot product (exact; signed weights through the
//    sign trick of _t_dot_q8, whose Σ_{x<0}|x| is added back from the record); a stored offset (q4_0's +8)
//    is removed once per block through zero·Σq_x, a min (q4_1's m) added through m·d_x·Σq_x, and
//    K-quant sub-block mins subtracted through dmin·d_x·Σ_j m_j·Σq_x,j. A super-block is walked in
//    its row's steps, whose sub-block scales multiply the integer sums. For four weight rows the four blocks' i32x4 sums
//    are summed across lanes into one i32x4 (still exact), converted and scaled by d_w·d_x into
//    one f32x4 accumulator of four outputs.
//    Tiles, thread split and the store hook are projection.ts's, as for float weights, for one
//    activation row (GEMV). From 2 rows the 32-element types run the integer GEMM of gemm-int8.ts
//    (4 weight rows × 4 activation rows per pass, each weight block unpacked once per pass); the
//    super-block types keep the tile loop, and prompt chunks from GEMM_MIN_ROWS on go to the
//    dequantizing GEMM (gemm.ts).
//
// The only approximation against the reference (which dequantizes weights and multiplies in f64)
// is the rounding of activations to 8 bits: |x − x̂| ≤ d_x/2 per element (and f32 rounding).
import { dimMul, dimProduct } from '../../ir/dim.js';
import { dtypeInfo, fieldOffset, type QuantDType } from '../../ir/dtype.js';
import type { Node } from '../../ir/graph.js';
import { KernelWriter, type WasmKernel } from './kernel.js';
import { emitGemm, GEMM_MIN_ROWS, gemmServes } from './gemm.js';
import { quantPanel } from './gemm-pack.js';
import { emitIntGemm, intGemmRows } from './gemm-int8.js';
import { blockMicroKernel, scales4 } from './gemm-int8-block.js';
import { ACT_NEGSUM, ACT_SUBSUMS, actBlockBytes, actRecordBytes, WASM_QUANT } from './loads.js';
import { normalized, rowStats } from './norm.js';
import { bindFusion, emitTiles, type ProjectionOptions, type Prologue } from './projection.js';

/** `op` folded over `xs` as a balanced tree: op(op(x0, x1), op(x2, x3)), … */
function pairwise(xs: readonly string[], op: string): string {
  if (xs.length === 1) return xs[0];
  const half = xs.length >> 1;
  return `${op}(${pairwise(xs.slice(0, half), op)}, ${pairwise(xs.slice(half), op)})`;
}

/**
 * Quantizes activation blocks; with a norm prologue, each row is normalised (no gain) on the way,
 * and threads split rows rather than blocks since a block needs its whole row's statistics.
 */
function emitQuantizeActivations(node: Node, dtype: QuantDType, nb: number, K: number, norm: Prologue | undefined, gemm: boolean): WasmKernel {
  const blockBytes = actBlockBytes(dtype), recordBytes = actRecordBytes(dtype);
  const { blockSize } = dtypeInfo(dtype);
  const V = [...Array(blockSize / 4).keys()]; // the block as f32x4 values v0, v1, …
  const x = node.inputs[0];
  const w = new KernelWriter('quantize_act');
  const xp = w.ptr({ kind: 'operand', index: 0 }, 'px');
  const R = dimProduct(x.type.shape.slice(0, -1));
  const qp = w.ptr({ kind: 'scratch', slot: 0, bytes: dimMul(R, nb * (blockBytes + recordBytes)), perThread: false }, 'pq');
  const rows = w.dim(R);
  const tail = K % blockSize;
  w.line(`const R: i32 = ${rows};`, `const scales = ${qp} + (<usize>R) * ${nb * blockBytes};`);
  // A prompt chunk the GEMM serves reads the f32 activations (gemm.ts): nothing to quantize.
  if (gemm) w.line(`if (R >= ${GEMM_MIN_ROWS}) return;`);
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
  w.line(`const src = ${xp} + ((<usize>r) * ${K} + (<usize>b) * ${blockSize}) * 4;`);
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
  for (const q of V) w.line(`const v${q} = ${load(q)};`);
  w.line(
    `let m = ${pairwise(V.map((q) => `f32x4.abs(v${q})`), 'f32x4.max')};`,
    'const amax = _t_hmax(m);',
    'const d: f32 = amax / 127.0;',
    'const id = f32x4.splat(amax > 0 ? <f32>127.0 / amax : <f32>0.0);',
    `const dst = ${qp} + (<usize>it) * ${blockBytes};`,
  );
  for (const q of V) w.line(`const q${q} = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v${q}, id)));`);
  if (WASM_QUANT[dtype].act === 'i16') {
    for (let q = 0; q < V.length; q += 2) w.line(`v128.store(dst, i16x8.narrow_i32x4_s(q${q}, q${q + 1}), ${q * 8});`);
  } else {
    // |q| ≤ 127: both narrowings are exact.
    for (let q = 0; q < V.length; q += 4) {
      w.line(`v128.store(dst, i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(q${q}, q${q + 1}), i16x8.narrow_i32x4_s(q${q + 2}, q${q + 3})), ${q * 4});`);
    }
  }
  w.line(
    `const rec = scales + (<usize>it) * ${recordBytes};`,
    `const qsum = ${pairwise(V.map((q) => `q${q}`), 'i32x4.add')};`,
    `const qneg = ${pairwise(V.map((q) => `i32x4.min_s(q${q}, i32x4.splat(0))`), 'i32x4.add')};`,
    'store<f32>(rec, d);',
    'store<f32>(rec, <f32>_t_ihsum(qsum), 4);',
    `store<i32>(rec, -_t_ihsum(qneg), ${ACT_NEGSUM});`,
  );
  // Sub-block sums, for types whose sub-blocks have mins: one i16 per `span` quants.
  const span = WASM_QUANT[dtype].subMins?.span;
  for (let g = 0; span && g < blockSize / span; g++) {
    w.line(`store<i16>(rec, <i16>_t_ihsum(${pairwise(V.slice((g * span) / 4, ((g + 1) * span) / 4).map((q) => `q${q}`), 'i32x4.add')}), ${ACT_SUBSUMS + 2 * g});`);
  }
  w.line('}');
  if (norm) w.line('}');
  return w.finish();
}

/** The bits of the f16 `field` (the scale d unless named) of the block at `blk` + `off` (a constant). */
function scaleBits(dtype: QuantDType, blk: string, off: number, field = 'd'): string {
  const at = off + fieldOffset(dtype, field);
  return at ? `load<u16>(${blk}, ${at})` : `load<u16>(${blk})`;
}

/**
 * Lines of a rows × cols block loop over `nb` blocks, leaving outputs o{r} (f32x4). With four weight
 * rows, their four f16 scales are widened together (one _t_h2f4 instead of four scalar
 * conversions) and scale the four rows' lane-summed integer dots at once. A single activation row keeps
 * its block in registers across the four weight rows. A super-block is walked in its row's steps,
 * each step's integer dots (sub-block scales applied) summed in i32 into t{r}{c} before the scale.
 */
function quantMicroKernel(dtype: QuantDType, nb: number, blockBytes: number, rows: 1 | 2, cols: 1 | 4, base = 'wr0'): string[] {
  if (cols === 4 && WASM_QUANT[dtype].units > 1) return superBlockRows(dtype, nb, blockBytes, rows);
  // Weight rows are consecutive: one pointer to row 0's block, constant offsets to the others.
  const rowBytes = nb * blockBytes;
  const R = [...Array(rows).keys()], C = [...Array(cols).keys()];
  const lines: string[] = [];
  const kernels = WASM_QUANT[dtype];
  const { zero, min, subMins, units } = kernels;
  const xVectors = actBlockBytes(dtype) / 16 / units; // v128s of activations per step
  /** A block's integer sum for activation row r, with the record's Σ_{x<0}|x| added for the sign trick. */
  const blockSum = (r: number, sum: string, lanes: 1 | 4) => (!kernels.negativeSum ? sum
    : lanes === 4 ? `i32x4.add(${sum}, v128.load32_splat(sr${r} + so, ${ACT_NEGSUM}))`
      : `i32x4.add(${sum}, v128.load32_zero(sr${r} + so, ${ACT_NEGSUM}))`);
  const record = actRecordBytes(dtype);
  // Four weight rows: each block's four integer dot products are summed across lanes first (exact
  // in i32), so one convert and one multiply-add per block update one f32x4 of four outputs.
  // One weight row: the block's i32x4 is converted and scaled as it is.
  if (cols === 4) for (const r of R) lines.push(`let a${r} = f32x4.splat(0.0);`);
  else for (const r of R) lines.push(`let a${r}0 = f32x4.splat(0.0);`);
  // Stored quants q + zero: Σ_b d_w·d_x·Σq_x per weight row (lanes), of which zero× is subtracted at the end.
  if (zero) for (const r of R) lines.push(`let corr${r} = f32x4.splat(0.0);`);
  // x = d·q + min: Σ_b min_w·d_x·Σq_x per weight row (lanes), added at the end.
  if (min) for (const r of R) lines.push(`let mins${r} = f32x4.splat(0.0);`);
  // x = d·sc·q − dmin·m: Σ_b dmin_w·d_x·Σ_j m_j·Σx_j per weight row (lanes), subtracted at the end.
  if (subMins) for (const r of R) lines.push(`let smin${r} = f32x4.splat(0.0);`);
  lines.push('let wo: usize = 0, xo: usize = 0, so: usize = 0;');
  lines.push(`for (let b = 0; b < ${nb}; b++) {`, `const wq = ${base} + wo;`);
  for (const r of R) lines.push(`const xq${r} = xr${r} + xo;`);
  /** Row r's activations of step u into locals (one activation row: loaded once for all weight rows). */
  const xvOf = (u: number) => (r: number, i: number) => (rows === 1 ? `x${r}_${i}` : `v128.load(xq${r}, ${(u * xVectors + i) * 16})`);
  const loadX = (u: number) => [
    ...(rows === 1 ? [`const ${[...Array(xVectors).keys()].map((i) => `x0_${i} = v128.load(xq0, ${(u * xVectors + i) * 16})`).join(', ')};`] : []),
    ...R.flatMap((r) => kernels.prepareX?.(r, xvOf(u), u) ?? []),
  ];
  if (cols === 4) {
    lines.push(`const dw = ${scales4(dtype, rowBytes, 0)};`);
    for (const r of R) lines.push(`const d${r} = f32x4.mul(dw, v128.load32_splat(sr${r} + so));`);
  } else {
    lines.push(`const dw = _t_h2f(<u32>${scaleBits(dtype, 'wq', 0)});`);
    for (const r of R) lines.push(`const d${r} = f32x4.splat(dw * load<f32>(sr${r} + so));`);
  }
  if (zero) for (const r of R) lines.push(`corr${r} = _t_madd(d${r}, f32x4.splat(load<f32>(sr${r} + so, 4)), corr${r});`);
  if (min) {
    lines.push(`const mw = ${cols === 4 ? scales4(dtype, rowBytes, 0, min) : `f32x4.splat(_t_h2f(<u32>${scaleBits(dtype, 'wq', 0, min)}))`};`);
    for (const r of R) lines.push(`mins${r} = _t_madd(f32x4.mul(mw, f32x4.splat(load<f32>(sr${r} + so))), f32x4.splat(load<f32>(sr${r} + so, 4)), mins${r});`);
  }
  const acc = (r: number) => (cols === 4 ? `a${r}` : `a${r}0`);
  if (units === 1) {
    lines.push(...loadX(0));
    const xv = xvOf(0);
    for (const c of C) {
      lines.push(...(kernels.block?.(c, 'wq', c * rowBytes) ?? []), ...kernels.weights(c, 'wq', c * rowBytes, 0));
      for (const r of R) {
        lines.push(...kernels.dot(r, c, xv, 0));
        if (cols === 1) lines.push(`a${r}0 = _t_madd(f32x4.convert_i32x4_s(${blockSum(r, `s${r}0`, 1)}), d${r}, a${r}0);`);
        else if (c === 1) lines.push(`const p${r}01 = _t_ihsum4_pair(s${r}0, s${r}1);`);
        else if (c === 3) {
          lines.push(`a${r} = _t_madd(f32x4.convert_i32x4_s(${blockSum(r, `_t_ihsum4_join(p${r}01, _t_ihsum4_pair(s${r}2, s${r}3))`, 4)}), d${r}, a${r});`);
        }
      }
    }
  } else {
    // Steps of a super-block, one weight row at a time, so that only its unpacked scales and sums
    // are live (four rows' at once spilled most of them); the activations are read again from L1
    // for each row. Integer sums t{r}{c} (and the sub-block mins' ms{r}{c}) over the whole block
    // are exact; with four rows they are folded pairwise as they complete, then scaled once.
    const xLoad = (u: number) => (r: number, i: number) => `v128.load(xq${r}, ${(u * xVectors + i) * 16})`;
    const dx = (r: number) => `v128.load32_splat(sr${r} + so)`;
    if (subMins) {
      const dmin = cols === 4 ? scales4(dtype, rowBytes, 0, subMins.field) : `f32x4.splat(_t_h2f(<u32>${scaleBits(dtype, 'wq', 0, subMins.field)}))`;
      lines.push(`const dminw = ${dmin};`);
    }
    /** Row r's four (or one) weight rows' sums `v` folded into `acc` with `scale`, once c is the last of them. */
    const fold = (v: string, c: number, r: number, scale: string, target: string, sum: (s: string, lanes: 1 | 4) => string): string[] => {
      if (cols === 1) return [`${target} = _t_madd(f32x4.convert_i32x4_s(${sum(`${v}${r}0`, 1)}), ${scale}, ${target});`];
      if (c === 1) return [`const ${v}p${r} = _t_ihsum4_pair(${v}${r}0, ${v}${r}1);`];
      if (c === 3) return [`${target} = _t_madd(f32x4.convert_i32x4_s(${sum(`_t_ihsum4_join(${v}p${r}, _t_ihsum4_pair(${v}${r}2, ${v}${r}3))`, 4)}), ${scale}, ${target});`];
      return [];
    };
    for (const c of C) {
      lines.push(...(kernels.block?.(c, 'wq', c * rowBytes) ?? []));
      for (const r of R) lines.push(`let t${r}${c} = i32x4.splat(0);`);
      const { rolled } = kernels;
      if (rolled) {
        const xStep = (r: number, i: number) => `v128.load(xq${r} + (<usize>u) * ${xVectors * 16}, ${i * 16})`;
        lines.push(`for (let u = 0; u < ${units}; u++) {`, ...rolled.weights(c, 'wq', c * rowBytes, 'u'));
        for (const r of R) lines.push(...rolled.dot(r, c, xStep, 'u'), `t${r}${c} = i32x4.add(t${r}${c}, s${r}${c});`);
        lines.push('}');
      }
      for (let u = 0; !rolled && u < units; u++) {
        lines.push('{', ...R.flatMap((r) => kernels.prepareX?.(r, xLoad(u), u) ?? []), ...kernels.weights(c, 'wq', c * rowBytes, u));
        for (const r of R) lines.push(...kernels.dot(r, c, xLoad(u), u), `t${r}${c} = i32x4.add(t${r}${c}, s${r}${c});`);
        lines.push('}');
      }
      for (const r of R) {
        lines.push(...fold('t', c, r, `d${r}`, acc(r), (sum, lanes) => blockSum(r, sum, lanes)));
        if (subMins) {
          lines.push(...subMins.dot(r, c, (rr, i) => `v128.load(sr${rr} + so, ${ACT_SUBSUMS + 16 * i})`));
          lines.push(...fold('ms', c, r, `f32x4.mul(dminw, ${dx(r)})`, `smin${r}`, (sum) => sum));
        }
      }
    }
  }
  lines.push(`wo += ${blockBytes}; xo += ${actBlockBytes(dtype)}; so += ${record};`, '}');
  for (const r of R) {
    lines.push(cols === 4 ? `let o${r} = a${r};` : `let o${r} = f32x4.splat(_t_hsum(a${r}0));`);
    if (zero) lines.push(`o${r} = f32x4.sub(o${r}, f32x4.mul(corr${r}, f32x4.splat(${zero.toFixed(1)})));`);
    if (min) lines.push(`o${r} = f32x4.add(o${r}, mins${r});`);
    if (subMins) lines.push(`o${r} = f32x4.sub(o${r}, ${cols === 4 ? `smin${r}` : `f32x4.splat(_t_hsum(smin${r}))`});`);
  }
  return lines;
}

/**
 * Four weight rows of a super-block type, one after the other in a loop: the one-row kernel over
 * the whole row, its result put in lane c. Four rows unrolled together kept every row's unpacked
 * scales, quants and sums live at once, and V8 (16 vector registers) spilled about half of them;
 * the activations (a few KiB) are read from L1 once per weight row instead.
 */
function superBlockRows(dtype: QuantDType, nb: number, blockBytes: number, rows: 1 | 2): string[] {
  const R = [...Array(rows).keys()];
  return [
    ...R.map((r) => `let q${r} = f32x4.splat(0.0);`),
    'for (let c = 0; c < 4; c++) {',
    `const wrc = wr0 + (<usize>c) * ${nb * blockBytes};`,
    'const lane = i32x4.eq(i32x4.splat(c), i32x4(0, 1, 2, 3));',
    '{',
    ...quantMicroKernel(dtype, nb, blockBytes, rows, 1, 'wrc'),
    ...R.map((r) => `q${r} = v128.bitselect(o${r}, q${r}, lane);`),
    '}',
    '}',
    ...R.map((r) => `let o${r} = q${r};`),
  ];
}

function emitQuantDot(node: Node, nb: number, opts: ProjectionOptions): WasmKernel {
  const [x, wv] = node.inputs;
  const dtype = wv.type.dtype as QuantDType;
  const blockBytes = dtypeInfo(dtype).blockBytes;
  const actBytes = actBlockBytes(dtype), record = actRecordBytes(dtype);
  const w = new KernelWriter(`matmul_${dtype}`);
  const Rd = dimProduct(x.type.shape.slice(0, -1));
  const qp = w.ptr({ kind: 'scratch', slot: 0, bytes: dimMul(Rd, nb * (actBytes + record)), perThread: false }, 'pq');
  const wp = w.ptr({ kind: 'operand', index: 1 }, 'pw');
  const fusion = bindFusion(w, node, opts);
  w.line(`const R: i32 = ${w.dim(Rd)};`, `const scales = ${qp} + (<usize>R) * ${nb * actBytes};`);
  const K = wv.type.shape[1] as number;
  const rowPtrs = (r: number, row: string) => [`const xr${r} = ${qp} + (<usize>(${row})) * ${nb * actBytes}, sr${r} = scales + (<usize>(${row})) * ${nb * record};`];
  const intRows = intGemmRows(dtype, fusion.n, fusion.parts);
  // Several rows: the integer GEMM (gemm-int8.ts) where it serves the type, else a prompt chunk's
  // panels dequantized to f32 for the packed-panel GEMM (gemm.ts), from the f32 activations.
  if (intRows) emitIntGemm(w, { ...fusion, wp, rowBytes: nb * blockBytes, rows: intRows, rowPtrs, body: (rows) => blockMicroKernel(dtype, nb, blockBytes, rows) });
  else emitGemm(w, { ...fusion, x: w.ptr({ kind: 'operand', index: 0 }, 'px'), wp, weights: quantPanel(dtype), K, norm: opts.norm });
  emitTiles(w, {
    ...fusion, wp,
    micro: {
      rowBytes: nb * blockBytes,
      rowPtrs,
      body: (rows, cols) => quantMicroKernel(dtype, nb, blockBytes, rows, cols),
      // No 8-row GEMV: with the byte dots, 8 rows at once spilled (30 instructions per row-block against 21.5 for 4).
    },
  });
  return w.finish();
}

/** Quantize the activations (normalising them first for a norm prologue), then the integer dot kernel. */
export function emitQuantProjection(node: Node, opts: ProjectionOptions): WasmKernel[] {
  const w = node.inputs[1].type;
  const K = w.shape[1] as number;
  const dtype = w.dtype as QuantDType;
  const nb = Math.ceil(K / dtypeInfo(dtype).blockSize);
  const dequantizing = !intGemmRows(dtype, w.shape[0] as number, opts.parts ?? 1) && gemmServes(opts.parts ?? 1, dtype);
  return [emitQuantizeActivations(node, dtype, nb, K, opts.norm, dequantizing), emitQuantDot(node, nb, opts)];
}
