// The tile loop every matmul kernel runs (float weights: matmul.ts; block-quantized: matmul-quant.ts)
// and the store hook that turns it into the fused projections (fused-matmul.ts).
//
// Work is cut into (4 result columns) × (up to ROW_CHUNK activation rows) tiles, ordered column-block
// major and claimed by the threads in contiguous runs from a shared counter (guided: long runs
// first, shorter ones as the work runs out), so a thread streams its slices of the weights once
// per ROW_CHUNK rows (GEMV, S = 1: exactly once) and a slowed thread simply claims less. Inside a
// tile the kind's micro-kernel computes 2 activation rows × 4 weight rows at a time (then a last
// single row), leaving one f32x4 `o` of 4 outputs per row; a partial last column block goes one
// weight row at a time. A single activation row (GEMV, the decode step) may take two column
// blocks at once with a `wide` micro-kernel: 8 weight rows share each load of x.
//
// Fused projections hook in before the store. With `parts` > 1 output column c combines product
// columns c, c + M, … (M = N / parts, ir/ops/fused.ts), so a tile runs its micro-kernel once per part
// on weight rows c + k·M and hands the parts' vectors acc0… to the store together: the product is
// never written out. A row prologue (norm_matmul's normalisation into per-thread scratch) visits
// the same tiles slab by slab (up to a few hundred rows), so each slab is prepared once per thread.
import type { DType } from '../../ir/dtype.js';
import type { Node } from '../../ir/graph.js';
import type { KernelWriter } from './kernel.js';
import { loadF32, loadF32x4 } from './loads.js';
import type { NormKind } from './norm.js';

/** Activation rows per tile. */
export const ROW_CHUNK = 16;

/** What one kind of matmul (float or quantized weights) supplies to the tile loop. */
export interface MicroKernel {
  /** Bytes of one weight row. */
  readonly rowBytes: number;
  /** Lines that point micro-kernel row `r` (0 or 1) at activation row `row` (an i32 expression). */
  rowPtrs(r: number, row: string): string[];
  /** Lines leaving o0…o(rows−1) (f32x4: 4 outputs, or 1 in every lane) for weight rows at wr0…wr(cols−1). */
  body(rows: 1 | 2, cols: 1 | 4): string[];
  /**
   * Optional 1 × 8 body (GEMV: 8 weight rows share each load of x): lines leaving o0 for weight
   * rows wr0…wr3 and o0_1 for wr4…wr7.
   */
  wideBody?(): string[];
}

/**
 * Lines that store result row `row`, columns col…col+lanes−1, given each part's f32x4 `acc[k]`
 * (bias already added). With lanes = 1 only lane 0 counts.
 */
export type Store = (row: string, col: string, acc: readonly string[], lanes: 4 | 1) => string[];

/** Makes a kernel's store, registering the bindings it reads and writes with `w`. */
export type StoreFactory = (w: KernelWriter) => Store;

/** A norm_matmul prologue: each row normalised (no gain) before the product. */
export interface Prologue {
  readonly kind: NormKind;
  readonly eps: number;
}

/** How a node's projection is fused; the defaults give plain matmul. */
export interface ProjectionOptions {
  /** node.inputs index of the bias [n], if any. */
  readonly bias?: number;
  /** Column blocks combined per output (ir/ops/fused.ts). Default 1. */
  readonly parts?: number;
  readonly norm?: Prologue;
  /** Default: the product into result 0. */
  readonly store?: StoreFactory;
}

export interface Tiles {
  /** Weight rows (product columns). */
  readonly n: number;
  readonly parts: number;
  /** The local holding the weights' address. */
  readonly wp: string;
  readonly micro: MicroKernel;
  readonly bias?: { readonly ptr: string; readonly dtype: DType };
  readonly store: Store;
  /**
   * Prepares this thread's copy of the activation rows [s0, s1) (a slab of up to `rows` rows, a
   * multiple of ROW_CHUNK) before the first of its tiles that reads them (and reorders the tiles
   * slab by slab).
   */
  readonly prologue?: { readonly rows: number; emit(w: KernelWriter): void };
}

/** Binds a projection kernel's bias and store (after its own operands): the fusion half of `Tiles`. */
export function bindFusion(w: KernelWriter, node: Node, opts: ProjectionOptions): Pick<Tiles, 'n' | 'parts' | 'bias' | 'store'> {
  const n = node.inputs[1].type.shape[0] as number;
  const parts = opts.parts ?? 1;
  const bias = opts.bias !== undefined ? { ptr: w.ptr({ kind: 'operand', index: opts.bias }, 'pb'), dtype: node.inputs[opts.bias].type.dtype } : undefined;
  const store = (opts.store ?? ((kw) => plainStore(kw, n / parts)))(w);
  return { n, parts, bias, store };
}

/** The plain product: result 0 is [rows, n]. */
export function plainStore(w: KernelWriter, m: number): Store {
  const yp = w.ptr({ kind: 'result', index: 0 }, 'py');
  return (row, col, [acc], lanes) => [lanes === 4
    ? `v128.store(${yp} + ((<usize>(${row})) * ${m} + <usize>(${col})) * 4, ${acc});`
    : `store<f32>(${yp} + ((<usize>(${row})) * ${m} + <usize>(${col})) * 4, f32x4.extract_lane(${acc}, 0));`];
}

/** Writes the tile loop; expects an i32 `R` (activation rows) in scope. */
export function emitTiles(w: KernelWriter, t: Tiles): void {
  const { micro, parts } = t;
  if (t.n % parts !== 0) throw new Error(`${parts} parts do not divide ${t.n} columns`);
  const m = t.n / parts;
  const P = [...Array(parts).keys()];
  const col = (base: string, p: number) => (p ? `${base} + ${p * m}` : base);
  const biasOf = (c: string, cols: 1 | 4) => (!t.bias ? ''
    : cols === 4 ? loadF32x4(t.bias.dtype, t.bias.ptr, c) : `f32x4.splat(${loadF32(t.bias.dtype, t.bias.ptr, c)})`);
  /** Part p of rows × cols outputs at product column `base` + p·m, into acc{p}_{r} (and acc{p}_0_1 for cols 8). */
  const part = (p: number, rows: 1 | 2, cols: 1 | 4 | 8, base: string): string[] => {
    const first = col(base, p);
    const lines = ['{'];
    for (let c = 0; c < cols; c++) lines.push(`const wr${c} = ${t.wp} + (<usize>(${first} + ${c})) * ${micro.rowBytes};`);
    lines.push(...(cols === 8 ? micro.wideBody!() : micro.body(rows, cols)));
    const withBias = (o: string, c0: string, n: 1 | 4) => (t.bias ? `f32x4.add(${o}, ${biasOf(c0, n)})` : o);
    if (cols === 8) {
      lines.push(`acc${p}_0 = ${withBias('o0', first, 4)};`, `acc${p}_0_1 = ${withBias('o0_1', `${first} + 4`, 4)};`);
    } else {
      for (let r = 0; r < rows; r++) lines.push(`acc${p}_${r} = ${withBias(`o${r}`, first, cols)};`);
    }
    lines.push('}');
    return lines;
  };
  /** rows × cols outputs at result row `row`, column `base`: every part, then the store. */
  const outputs = (rows: 1 | 2, cols: 1 | 4, row: string, base: string): string[] => {
    const lines: string[] = [];
    for (let r = 0; r < rows; r++) lines.push(...micro.rowPtrs(r, r ? `${row} + ${r}` : row));
    for (let r = 0; r < rows; r++) lines.push(`let ${P.map((p) => `acc${p}_${r} = f32x4.splat(0.0)`).join(', ')};`);
    for (const p of P) lines.push(...part(p, rows, cols, base));
    for (let r = 0; r < rows; r++) lines.push('{', ...t.store(r ? `${row} + ${r}` : row, base, P.map((p) => `acc${p}_${r}`), cols), '}');
    return lines;
  };
  /** One activation row × 8 product columns at `base` (two column blocks), for every part, then two stores. */
  const outputs8 = (row: string, base: string): string[] => [
    ...micro.rowPtrs(0, row),
    `let ${P.map((p) => `acc${p}_0 = f32x4.splat(0.0), acc${p}_0_1 = f32x4.splat(0.0)`).join(', ')};`,
    ...P.flatMap((p) => part(p, 1, 8, base)),
    '{', ...t.store(row, base, P.map((p) => `acc${p}_0`), 4), '}',
    '{', ...t.store(row, `${base} + 4`, P.map((p) => `acc${p}_0_1`), 4), '}',
  ];
  /** The tile at column block n0 and rows [r0, r1), inside a loop whose counter `next` runs to `end`. */
  const tileIn = (next: string, end: string): string[] => {
    const tile: string[] = [];
    if (micro.wideBody && m >= 8) {
      // A single activation row (R = 1: one row chunk, so the counter steps column blocks) takes
      // this thread's next column block too, when it has one.
      tile.push(`if (R == 1 && ${next} + 1 < ${end} && n0 + 8 <= ${m}) {`, ...outputs8('r0', 'n0'), `${next}++;`, 'continue;', '}');
    }
    tile.push(...narrowTile);
    return tile;
  };
  const narrowTile: string[] = [];
  if (m >= 4) {
    narrowTile.push(`if (n0 + 4 <= ${m}) {`,
      'let r = r0;',
      'for (; r + 2 <= r1; r += 2) {', ...outputs(2, 4, 'r', 'n0'), '}',
      'if (r < r1) {', ...outputs(1, 4, 'r', 'n0'), '}',
      'continue;',
      '}');
  }
  if (m % 4 !== 0) {
    // The last, partial column block: one weight row (per part) at a time.
    narrowTile.push(`for (let n = n0; n < ${m}; n++) {`, 'for (let r = r0; r < r1; r++) {', ...outputs(1, 1, 'r', 'n'), '}', '}');
  }
  // Threads claim runs of tiles from a shared counter (_t_claim_guided) rather than taking fixed
  // shares: a thread the host deschedules for a moment, or one that runs slower, then takes fewer
  // tiles instead of holding the others at the barrier. Runs hold an even number of tiles so that
  // a single row's pairs of column blocks (outputs8) stay within one.
  const ctr = w.ptr({ kind: 'counter' }, 'pctr');
  // Opens the loop over this thread's runs [it0, it1) (at least 2 tiles: an even number).
  const claim = `_t_claim_guided(${ctr}, items, nthreads, 2)`;
  const claimRuns = [
    `for (let it0 = ${claim}; it0 < items; it0 = ${claim}) {`,
    'const it1 = min(it0 + _t_guided_size(it0, items, nthreads, 2), items);',
  ];
  w.line(
    `const nrc = (R + ${ROW_CHUNK - 1}) / ${ROW_CHUNK};`,
    `const ncb = ${Math.ceil(m / 4)};`,
    'const items = ncb * nrc;',
  );
  if (!t.prologue) {
    // Column-block major: a run streams its weight rows once per row chunk.
    w.line(
      ...claimRuns,
      'for (let it = it0; it < it1; it++) {',
      'const cb = it / nrc;',
      'const n0 = cb << 2;',
      `const r0 = (it - cb * nrc) * ${ROW_CHUNK};`,
      `const r1 = min(r0 + ${ROW_CHUNK}, R);`,
      ...tileIn('it', 'it1'),
      '}',
      '}',
    );
    return;
  }
  // Slab major, then column-block major inside a slab: a thread prepares a slab (the prologue,
  // into its own scratch) once for all the tiles of it that it claims, and streams the weights
  // once per slab, not once per 16 activation rows (from L3 whenever a layer's weights exceed L2).
  const slab = t.prologue.rows;
  if (slab % ROW_CHUNK !== 0) throw new Error(`a prologue slab of ${slab} rows is not a multiple of ${ROW_CHUNK}`);
  const perSlab = slab / ROW_CHUNK;
  w.line(
    'let prepared = -1;',
    'let s0 = 0, s1 = 0;',
    ...claimRuns,
    'for (let it = it0; it < it1; it++) {',
    `const sc = it / (ncb * ${perSlab});`,
    `const slabChunks = min(${perSlab}, nrc - sc * ${perSlab});`,
    `const local = it - sc * ncb * ${perSlab};`,
    'const cb = local / slabChunks;',
    'const n0 = cb << 2;',
    `const r0 = (sc * ${perSlab} + local - cb * slabChunks) * ${ROW_CHUNK};`,
    `const r1 = min(r0 + ${ROW_CHUNK}, R);`,
    'if (sc != prepared) {',
    `s0 = sc * ${slab};`,
    `s1 = min(s0 + ${slab}, R);`,
  );
  t.prologue.emit(w);
  w.line('prepared = sc;', '}', ...tileIn('it', 'it1'), '}', '}');
}
