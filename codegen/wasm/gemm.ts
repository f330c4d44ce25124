// The prefill GEMM: a matmul over many activation rows (a prompt chunk) as an outer-product
// micro-kernel on packed weight panels. A projection kernel (matmul.ts, matmul-quant.ts) runs this
// when its rows R reach GEMM_MIN_ROWS and its GEMV tile loop (projection.ts) otherwise, so decode
// (S = 1) keeps the GEMV paths; types the tile loop serves as well keep it at every R (TILE_PREFILL).
//
// Work items are (row slab) × (column panel) pairs, slab major, claimed by the threads in guided
// runs: both dimensions are split, so a short prompt still spreads over the columns and a long one
// over the rows too. For its item a thread packs the panel's weight rows K-major into its scratch
// (f32, 4·V product columns at each k, gemm-pack.ts) unless it holds that panel already,
// and, with a norm prologue, normalises the slab's rows into its scratch unless it holds that slab
// already. The micro-kernel then walks k once per MR rows: per k it loads the panel's V vectors and
// splats MR activations, MR·V multiply-adds into MR·V accumulators (no horizontal sums), so the
// inner loop is loads and multiply-adds only.
//
// The tile (TILES) is 3 rows × 3 vectors for 1 and 3 parts, 4 × 2 and 2 × 4 for 2 and 4 (a part's
// columns come in whole vectors). V8 (TurboFan) issues every load of an iteration ahead of its
// multiply-adds, so the accumulators plus one iteration's loads must fit the 15 allocatable xmm
// registers: MR·V + MR + V ≤ 15, at most 9 accumulators (3 × 3), one more independent chain than
// 8 (8 chains of a 4-cycle multiply-add on two pipes leave no slack: 3 × 3 runs 3–5 % faster per
// core than 4 × 2, BENCHMARKS.md session 11; 5-row and wider tiles spill). A panel's 4·V lanes are
// split evenly over the parts, lane f holding column f mod C of part f div C, so the multiply-adds
// never depend on parts. (12 lanes over 2 or 4 parts was tried: the 2 columns a part then has past
// its 4-column block went through the store one at a time and cost more than the 9th chain gave.)
//
// Results go to a per-thread tile (MR rows of 4·V lanes), from which one loop hands each row's
// 4-column blocks of every part, with the bias added, to the projection's store hook (plain store,
// epilogue program): the fused projections work unchanged. A last, partial panel's columns are
// handed over one at a time (lanes = 1).
import type { DType } from '../../ir/dtype.js';
import type { KernelWriter } from './kernel.js';
import { loadF32, loadF32x4 } from './loads.js';
import { normalizeRow } from './norm.js';
import { type PanelSource, packPanel, panelRows } from './gemm-pack.js';
import type { Prologue, Store } from './projection.js';

/** Activation rows from which a projection runs the GEMM rather than the GEMV tile loop. */
export const GEMM_MIN_ROWS = 16;

/** Largest `parts` the GEMM serves (more parts than vectors the registers hold: the tile loop). */
const MAX_PARTS = 4;

/** Scratch slots of the GEMM (the GEMV paths use 0). */
const SLOT_PANEL = 5, SLOT_STAGE = 6, SLOT_SLAB = 7, SLOT_TILE = 8;

export interface GemmSpec {
  /** The local holding the activations' address ([R, K] f32). */
  readonly x: string;
  /** The local holding the weights' address. */
  readonly wp: string;
  readonly weights: PanelSource;
  /** In-features. */
  readonly K: number;
  /** Weight rows (product columns) and parts, bias and store: as the tile loop's (projection.ts). */
  readonly n: number;
  readonly parts: number;
  readonly bias?: { readonly ptr: string; readonly dtype: DType };
  readonly store: Store;
  readonly norm?: Prologue;
}

/**
 * The register tile per parts count: vectors per k (V, the panel's 4·V lanes split evenly over the
 * parts), activation rows per pass (MR), and columns per part in a panel (a multiple of 4).
 */
const TILES: Readonly<Record<number, { V: number; MR: number }>> = {
  1: { V: 3, MR: 3 },
  2: { V: 2, MR: 4 },
  3: { V: 3, MR: 3 },
  4: { V: 4, MR: 2 },
};

export function gemmTile(parts: number): { V: number; MR: number; cols: number } {
  const t = TILES[parts];
  if (!t) throw new Error(`internal error: the GEMM has no tile for ${parts} parts`);
  return { ...t, cols: (4 * t.V) / parts };
}

/**
 * Weight types whose GEMV tile loop (projection.ts: 2 × 4 dot-product tiles, integer dots over
 * 8-bit activations for the quantized ones) matches or beats the GEMM at prefill, so they keep it
 * at every R. Measured per kernel (BENCHMARKS.md, session 10, 1 thread, 128 rows, time GEMM / tile
 * loop): q8_0 1.04–1.17, q4_1 1.0–1.15, q4_0 0.95–1.0; the GEMM wins for f16/bf16 (0.23), q5_0
 * 0.80, iq4_nl 0.83, q4_k 0.80–0.87, q6_k 0.53, iq4_xs 0.30.
 */
const TILE_PREFILL: ReadonlySet<DType> = new Set<DType>(['q8_0', 'q4_0', 'q4_1']);

/**
 * f32's tile loop runs as fast as the 8-accumulator GEMM tiles (session 10: 1.03–1.08), so f32
 * takes the GEMM only where its tile holds 9 (3 × 3: 3–5 % faster per core, session 11).
 */
function f32Gains(parts: number): boolean {
  const { V, MR } = gemmTile(parts);
  return V * MR > 8;
}

/** True when the GEMM serves a projection with these parts and weights (else: the tile loop at every R). */
export function gemmServes(parts: number, weights: DType): boolean {
  return parts <= MAX_PARTS && !TILE_PREFILL.has(weights) && (weights !== 'f32' || f32Gains(parts));
}

/**
 * Rows per slab: 128 (each slab repacks its panels, so fewer rows pay more packing: at 20 rows a
 * slab, K = 5632 ran 25 % slower), or with a norm prologue as many as keep a thread's normalised
 * copy within 2 MiB.
 */
function slabRows(K: number, MR: number, norm: boolean): number {
  return norm ? Math.max(4 * MR, Math.min(128, Math.floor((2 << 20) / (K * 4) / MR) * MR)) : 128;
}

/**
 * Lines of the MR-row (or fewer) micro-kernel: rows `rows` of the tile at xr (row stride K·4),
 * k = 0…K−1 against the panel at `gpp`, leaving the accumulators in the tile buffer `gct`.
 */
function microKernel(rows: number, V: number, K: number): string[] {
  const I = [...Array(rows).keys()], J = [...Array(V).keys()];
  const acc = (i: number, j: number) => `a${i}_${j}`;
  const lines = [`let ${I.flatMap((i) => J.map((j) => `${acc(i, j)} = f32x4.splat(0.0)`)).join(', ')};`,
    'let xq = xr, pk = gpp;', `const xe = xr + ${K * 4};`,
    `for (; xq < xe; xq += 4, pk += ${V * 16}) {`,
    ...J.map((j) => `const w${j} = v128.load(pk${j ? `, ${j * 16}` : ''});`)];
  for (const i of I) {
    lines.push(`{ const xk = v128.load32_splat(xq${i ? `, ${i * K * 4}` : ''});`, ...J.map((j) => `${acc(i, j)} = _t_madd(xk, w${j}, ${acc(i, j)});`), '}');
  }
  lines.push('}');
  for (const i of I) for (const j of J) lines.push(`v128.store(gct, ${acc(i, j)}, ${(i * V + j) * 16});`);
  return lines;
}

/**
 * Writes `if (R >= GEMM_MIN_ROWS) { …the GEMM…; return; }` into a projection kernel that has an
 * i32 `R` (activation rows) in scope.
 */
export function emitGemm(w: KernelWriter, g: GemmSpec): void {
  const { K, parts } = g;
  if (!gemmServes(parts, g.weights.dtype)) return;
  const m = g.n / parts;
  const { V, MR, cols } = gemmTile(parts);
  const kRows = panelRows(g.weights, K);
  const panelBytes = kRows * V * 16;
  const pp = w.ptr({ kind: 'scratch', slot: SLOT_PANEL, bytes: panelBytes, perThread: true }, 'gpanel');
  const stage = g.weights.stagingBytes ? w.ptr({ kind: 'scratch', slot: SLOT_STAGE, bytes: g.weights.stagingBytes, perThread: true }, 'gstage') : '';
  const tile = w.ptr({ kind: 'scratch', slot: SLOT_TILE, bytes: MR * V * 16, perThread: true }, 'gtile');
  const slab = slabRows(K, MR, g.norm !== undefined);
  const slabBytes = slab * K * 4;
  const sp = g.norm ? w.ptr({ kind: 'scratch', slot: SLOT_SLAB, bytes: slabBytes, perThread: true }, 'gslab') : '';
  const ctr = w.ptr({ kind: 'counter' }, 'gctr');
  w.line(
    `if (R >= ${GEMM_MIN_ROWS}) {`,
    `const gpp = ${pp} + (<usize>tid) * ${panelBytes};`,
    `const gct = ${tile} + (<usize>tid) * ${MR * V * 16};`,
    ...(stage ? [`const gst = ${stage} + (<usize>tid) * ${g.weights.stagingBytes};`] : []),
    ...(sp ? [`const gxs = ${sp} + (<usize>tid) * ${slabBytes};`] : []),
    `const npan = ${Math.ceil(m / cols)};`,
    `const items = ((R + ${slab - 1}) / ${slab}) * npan;`,
    'let packed = -1, prepared = -1;',
    `for (let it0 = _t_claim_guided(${ctr}, items, nthreads, 1); it0 < items; it0 = _t_claim_guided(${ctr}, items, nthreads, 1)) {`,
    'const it1 = min(it0 + _t_guided_size(it0, items, nthreads, 1), items);',
    'for (let it = it0; it < it1; it++) {',
    'const sl = it / npan, pn = it - sl * npan;',
    `const s0 = sl * ${slab}, s1 = min(s0 + ${slab}, R);`,
    `const n0 = pn * ${cols};`,
  );
  if (g.norm) {
    w.line('if (sl != prepared) {', 'for (let r = s0; r < s1; r++) {', `const D: i32 = ${K};`,
      `const xr = ${g.x} + (<usize>r) * ${K * 4}, yr = gxs + (<usize>(r - s0)) * ${K * 4};`);
    normalizeRow(w, g.norm.kind, g.norm.eps);
    w.line('}', 'prepared = sl;', '}');
  }
  w.line('if (pn != packed) {', ...packPanel(g.weights, { wp: g.wp, K, m, V, cols, stage: 'gst' }), 'packed = pn;', '}');
  // The row loop: full MR-row passes, then one pass of the remaining rows.
  const xrOf = g.norm ? `gxs + (<usize>(r - s0)) * ${K * 4}` : `${g.x} + (<usize>r) * ${K * 4}`;
  w.line('for (let r = s0; r < s1; r += ' + MR + ') {', `const rows = min(${MR}, s1 - r);`, `const xr = ${xrOf};`);
  w.line(`if (rows == ${MR}) {`, ...microKernel(MR, V, K), '}');
  for (let rows = MR - 1; rows >= 1; rows--) w.line(`else if (rows == ${rows}) {`, ...microKernel(rows, V, K), '}');
  w.line('for (let i = 0; i < rows; i++) {', 'const row = r + i;', `const ci = gct + (<usize>i) * ${V * 16};`);
  w.line(...storeRow(g, m, cols));
  w.line('}', '}', '}', '}', 'return;', '}');
}

/**
 * Lines handing row `row` of the tile at `ci` (part p's column c at byte 4·(p·cols + c)) to the
 * store hook: 4-column blocks of every part as vectors; in a last, partial panel, columns at or past
 * m are skipped, the block that holds m's edge going over one column at a time.
 */
function storeRow(g: GemmSpec, m: number, cols: number): string[] {
  const P = [...Array(g.parts).keys()];
  const partial = m % cols !== 0;
  const pcol = (p: number, c: string) => (p ? `${c} + ${p * m}` : c);
  const colOf = (c: number) => (c ? `n0 + ${c}` : 'n0');
  const vectorAt = (p: number, c: number) => `v128.load(ci, ${(p * cols + c) * 4})`;
  const laneAt = (p: number, c: number) => `f32x4.splat(load<f32>(ci, ${(p * cols + c) * 4}))`;
  const withBias = (v: string, p: number, col: string, lanes: 1 | 4) => {
    if (!g.bias) return v;
    const b = lanes === 4 ? loadF32x4(g.bias.dtype, g.bias.ptr, pcol(p, col)) : `f32x4.splat(${loadF32(g.bias.dtype, g.bias.ptr, pcol(p, col))})`;
    return `f32x4.add(${v}, ${b})`;
  };
  const lines: string[] = [];
  for (let c = 0; c < cols; c += 4) {
    const col = colOf(c);
    const block = [...P.map((p) => `const v${p} = ${withBias(vectorAt(p, c), p, col, 4)};`), ...g.store('row', col, P.map((p) => `v${p}`), 4)];
    if (!partial) {
      lines.push('{', ...block, '}');
      continue;
    }
    lines.push(`if (${col} + 4 <= ${m}) {`, ...block, '} else {');
    for (let lane = 0; lane < 3; lane++) {
      const one = colOf(c + lane);
      lines.push(`if (${one} < ${m}) {`, ...P.map((p) => `const v${p} = ${withBias(laneAt(p, c + lane), p, one, 1)};`), ...g.store('row', one, P.map((p) => `v${p}`), 1), '}');
    }
    lines.push('}');
  }
  return lines;
}
