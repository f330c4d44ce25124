// The prefill GEMM: a matmul over many activation rows (a prompt chunk) as an outer-product
// micro-kernel on packed weight panels. A projection kernel (matmul.ts, matmul-quant.ts) runs this
// when its rows R reach gemmMinRows and its GEMV tile loop (projection.ts) otherwise, so decode
// (S = 1) keeps the GEMV paths; types the tile loop serves as well keep it at every R (TILE_PREFILL).
//
// Work items are (row slab) × (column panel) pairs, slab major, claimed by the threads in guided
// runs: both dimensions are split, so a short prompt still spreads over the columns and a long one
// over the rows too. For its item a thread packs the panel's weight rows K-major into its scratch
// (f32, one group of 12 columns per part, gemm-pack.ts) unless it holds that panel already, and,
// with a norm prologue, normalises the slab's rows into its scratch unless it holds that slab
// already. The micro-kernel then walks k once per MR rows and part: per k it loads the group's V
// vectors and splats MR activations, MR·V multiply-adds into MR·V accumulators (no horizontal
// sums), so the inner loop is loads and multiply-adds only.
//
// The tile is 3 rows × 3 vectors. V8 (TurboFan) issues every load of an iteration ahead of its
// multiply-adds, so the accumulators plus one iteration's loads must fit the 15 allocatable xmm
// registers: MR·V + MR + V ≤ 15, at most 9 accumulators (3 × 3), one more independent chain than
// the 8 of 4 × 2 or 2 × 4 (8 chains of a 4-cycle multiply-add on two pipes leave no slack: 3 × 3
// runs 3–5 % faster per core, BENCHMARKS.md session 11; 5-row and wider tiles spill). The parts of
// a fused projection (gate and up …) are walked one after the other over the same rows, each into
// its own columns of the tile buffer, so every parts count gets the 3 × 3 tile.
//
// Results go to a per-thread tile buffer (MR rows of parts × 12 columns), from which one loop hands
// each row's 4-column blocks of every part, with the bias added, to the projection's store hook
// (plain store, epilogue program): the fused projections work unchanged. A last, partial panel's
// columns are handed over one at a time (lanes = 1).
import type { DType } from '../../ir/dtype.js';
import type { KernelWriter } from './kernel.js';
import { loadF32, loadF32x4 } from './loads.js';
import { normalizeRow } from './norm.js';
import { GROUP_COLUMNS, GROUP_VECTORS, groupBytes, type PanelSource, packPanel } from './gemm-pack.js';
import type { Prologue, Store } from './projection.js';

/** Activation rows from which a projection runs the GEMM rather than the GEMV tile loop. */
export const GEMM_MIN_ROWS = 16;

/**
 * Rows from which f32 weights run the GEMM: their tile loop is near the FMA peak already, so the
 * GEMM's packing (one panel per slab) must be spread over more rows than for the types whose
 * tile loop is slow. Measured per core (session 11, time GEMM / tile loop): 16 rows 1.18–1.26,
 * 32 rows 0.97–0.98, 48–128 rows 0.93–1.06 (about ±3 % noise on that loaded machine).
 */
const F32_GEMM_MIN_ROWS = 32;

/** Activation rows from which a projection with these weights runs the GEMM (when gemmServes). */
export function gemmMinRows(weights: DType): number {
  return weights === 'f32' ? F32_GEMM_MIN_ROWS : GEMM_MIN_ROWS;
}

/** Largest `parts` the GEMM serves (each part adds a group to the panel and the tile buffer; more: the tile loop). */
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

/** The register tile: vectors per k (one part's group), activation rows per pass, columns per part in a panel. */
export function gemmTile(parts: number): { V: number; MR: number; cols: number } {
  if (!Number.isInteger(parts) || parts < 1 || parts > MAX_PARTS) throw new Error(`internal error: the GEMM serves 1…${MAX_PARTS} parts, got ${parts}`);
  return { V: GROUP_VECTORS, MR: 3, cols: GROUP_COLUMNS };
}

/**
 * Weight types whose GEMV tile loop (projection.ts: 2 × 4 dot-product tiles, integer dots over
 * 8-bit activations for the quantized ones) matches or beats the GEMM at prefill, so they keep it
 * at every R. Measured per kernel (BENCHMARKS.md, session 10, 1 thread, 128 rows, time GEMM / tile
 * loop): q8_0 1.04–1.17, q4_1 1.0–1.15, q4_0 0.95–1.0; the GEMM wins for f16/bf16 (0.23), q5_0
 * 0.80, iq4_nl 0.83, q4_k 0.80–0.87, q6_k 0.53, iq4_xs 0.30, and since its 3 × 3 tile (session 11)
 * for f32 too.
 */
const TILE_PREFILL: ReadonlySet<DType> = new Set<DType>(['q8_0', 'q4_0', 'q4_1']);

/** True when the GEMM serves a projection with these parts and weights (else: the tile loop at every R). */
export function gemmServes(parts: number, weights: DType): boolean {
  return parts <= MAX_PARTS && !TILE_PREFILL.has(weights);
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
 * k = 0…K−1 against one part's group at `gpk`, leaving the accumulators in the tile buffer at `gcg`
 * (row stride `tileRow` bytes).
 */
function microKernel(rows: number, V: number, K: number, tileRow: number): string[] {
  const I = [...Array(rows).keys()], J = [...Array(V).keys()];
  const acc = (i: number, j: number) => `a${i}_${j}`;
  const lines = [`let ${I.flatMap((i) => J.map((j) => `${acc(i, j)} = f32x4.splat(0.0)`)).join(', ')};`,
    'let xq = xr, pk = gpk;', `const xe = xr + ${K * 4};`,
    `for (; xq < xe; xq += 4, pk += ${V * 16}) {`,
    ...J.map((j) => `const w${j} = v128.load(pk${j ? `, ${j * 16}` : ''});`)];
  for (const i of I) {
    lines.push(`{ const xk = v128.load32_splat(xq${i ? `, ${i * K * 4}` : ''});`, ...J.map((j) => `${acc(i, j)} = _t_madd(xk, w${j}, ${acc(i, j)});`), '}');
  }
  lines.push('}');
  for (const i of I) for (const j of J) lines.push(`v128.store(gcg, ${acc(i, j)}, ${i * tileRow + j * 16});`);
  return lines;
}

/**
 * Writes `if (R >= gemmMinRows) { …the GEMM…; return; }` into a projection kernel that has an
 * i32 `R` (activation rows) in scope.
 */
export function emitGemm(w: KernelWriter, g: GemmSpec): void {
  const { K, parts } = g;
  if (!gemmServes(parts, g.weights.dtype)) return;
  const m = g.n / parts;
  const { V, MR, cols } = gemmTile(parts);
  const group = groupBytes(g.weights, K);
  const panelBytes = group * parts;
  const tileRow = parts * V * 16;
  const pp = w.ptr({ kind: 'scratch', slot: SLOT_PANEL, bytes: panelBytes, perThread: true }, 'gpanel');
  const stage = g.weights.stagingBytes ? w.ptr({ kind: 'scratch', slot: SLOT_STAGE, bytes: g.weights.stagingBytes, perThread: true }, 'gstage') : '';
  const tile = w.ptr({ kind: 'scratch', slot: SLOT_TILE, bytes: MR * tileRow, perThread: true }, 'gtile');
  const slab = slabRows(K, MR, g.norm !== undefined);
  const slabBytes = slab * K * 4;
  const sp = g.norm ? w.ptr({ kind: 'scratch', slot: SLOT_SLAB, bytes: slabBytes, perThread: true }, 'gslab') : '';
  const ctr = w.ptr({ kind: 'counter' }, 'gctr');
  w.line(
    `if (R >= ${gemmMinRows(g.weights.dtype)}) {`,
    `const gpp = ${pp} + (<usize>tid) * ${panelBytes};`,
    `const gct = ${tile} + (<usize>tid) * ${MR * tileRow};`,
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
  w.line('if (pn != packed) {', ...packPanel(g.weights, { wp: g.wp, K, m, parts, stage: 'gst' }), 'packed = pn;', '}');
  // The row loop: full MR-row passes, then one pass of the remaining rows.
  const xrOf = g.norm ? `gxs + (<usize>(r - s0)) * ${K * 4}` : `${g.x} + (<usize>r) * ${K * 4}`;
  w.line('for (let r = s0; r < s1; r += ' + MR + ') {', `const rows = min(${MR}, s1 - r);`, `const xr = ${xrOf};`);
  // Each part's group in turn: the same rows against the part's columns.
  w.line(parts > 1 ? `for (let p = 0; p < ${parts}; p++) {` : '{',
    parts > 1 ? `const gpk = gpp + (<usize>p) * ${group}, gcg = gct + (<usize>p) * ${V * 16};` : 'const gpk = gpp, gcg = gct;');
  w.line(`if (rows == ${MR}) {`, ...microKernel(MR, V, K, tileRow), '}');
  for (let rows = MR - 1; rows >= 1; rows--) w.line(`else if (rows == ${rows}) {`, ...microKernel(rows, V, K, tileRow), '}');
  w.line('}');
  w.line('for (let i = 0; i < rows; i++) {', 'const row = r + i;', `const ci = gct + (<usize>i) * ${tileRow};`);
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
