// The integer GEMM of the quantized projections (matmul-quant.ts) with 32-element block weights
// for several activation rows: the decode step of a batch of sequences (continuous batching: 2…16
// rows) and prompt chunks. Activations are the 8-bit blocks quantize_act wrote; weights stay
// quantized.
//
// Work is cut into (4 product columns) × (up to ROWS_PER_TILE activation rows) tiles, column-block
// major, claimed by the threads in guided runs from a shared counter, so threads split the output
// columns and a thread streams its weight rows once per tile. Inside a tile the micro-kernel takes
// MR activation rows at a time against four weight rows: each weight block is loaded and unpacked
// once for MR rows (the GEMV tile loop, projection.ts, takes 2), then the rest in smaller passes.
// A last, partial column block (product columns not a multiple of 4) is computed as the four
// columns ending at the part's end, of which only the new ones are stored (lanes = 1); a part
// narrower than 4 columns keeps the tile loop.
//
// Fused projections hook in as in the tile loop: parts combine product columns c, c + m, …, each
// part's four outputs (bias added) handed to the store together.
import type { QuantDType } from '../../ir/dtype.js';
import type { KernelWriter } from './kernel.js';
import { loadF32x4 } from './loads.js';
import type { Tiles } from './projection.js';

/** Activation rows from which a projection runs the integer GEMM (1: the GEMV tile loop). */
export const INT_GEMM_MIN_ROWS = 2;

/** Activation rows per tile: a decode batch is one tile row; a prompt chunk re-reads each weight row once per 32 rows. */
const ROWS_PER_TILE = 32;

export interface IntGemmSpec extends Pick<Tiles, 'n' | 'parts' | 'bias' | 'store' | 'wp'> {
  /** Bytes of one weight row. */
  readonly rowBytes: number;
  /** Activation rows per micro-kernel pass. */
  readonly rows: number;
  /** Lines that point micro-kernel row `r` at activation row `row` (an i32 expression): xr{r}, sr{r}. */
  rowPtrs(r: number, row: string): string[];
  /** Lines leaving o0…o{rows−1} (f32x4: four outputs each) for the four weight rows from wr0 on. */
  body(rows: number): string[];
}

/**
 * Activation rows per micro-kernel pass (MR) for the weight types the integer GEMM serves, at
 * every row count from INT_GEMM_MIN_ROWS. Measured per kernel (BENCHMARKS.md, session 11, integer
 * GEMM; 1 thread, CPU time): at 128 rows it matches or beats the dequantizing GEMM (gemm.ts) for
 * the 32-element types (q8_0 +3–5 %, q4_1 +1–8 %, q4_0 and q5_0 even), and beats the GEMV tile loop
 * at 8 rows (q8_0 +13 %, q4_0 +7 %); MR 2, 4 and 6 measured alike. The super-block types are not
 * served: their one-weight-row walk at 4 rows ran no faster than the tile loop's 2 (q4_k 28.0 vs
 * 28.3 GFLOP/s, q6_k 23.3 vs 21.0) and at 0.5–0.65 of the dequantizing GEMM at 128 rows, while
 * its four row-count variants made a Q4_K_M module a third larger (cold open 7.0 s → 9.5 s).
 */
const INT_GEMM_ROWS: Partial<Record<QuantDType, number>> = { q8_0: 4, q4_0: 4, q4_1: 4, q5_0: 4, q5_1: 4, iq4_nl: 4 };

/**
 * Rows per pass of the integer GEMM for `n` product columns of `dtype` weights in `parts` parts,
 * or undefined where it does not serve them (other types, or parts under 4 columns wide: the tile
 * loop, and the dequantizing GEMM where it serves the type).
 */
export function intGemmRows(dtype: QuantDType, n: number, parts: number): number | undefined {
  return n / parts >= 4 ? INT_GEMM_ROWS[dtype] : undefined;
}

/**
 * Writes `if (R >= INT_GEMM_MIN_ROWS) { …the GEMM…; return; }` into a projection
 * kernel that has an i32 `R` (activation rows) in scope.
 */
export function emitIntGemm(w: KernelWriter, g: IntGemmSpec): void {
  const { parts, rows: MR } = g;
  const m = g.n / parts;
  if (m < 4) throw new Error(`internal error: the integer GEMM needs parts at least 4 columns wide, got ${m}`);
  const P = [...Array(parts).keys()];
  const ctr = w.ptr({ kind: 'counter' }, 'ictr');
  const claim = `_t_claim_guided(${ctr}, items, nthreads, 1)`;
  /** `rows` activation rows from row r: every part's four columns from c0, then the stores from n0. */
  const tile = (rows: number): string[] => {
    const I = [...Array(rows).keys()];
    const lines = ['{', ...I.flatMap((i) => g.rowPtrs(i, i ? `r + ${i}` : 'r'))];
    lines.push(...I.map((i) => `let ${P.map((p) => `v${p}_${i} = f32x4.splat(0.0)`).join(', ')};`));
    for (const p of P) {
      const col = p ? `c0 + ${p * m}` : 'c0';
      lines.push('{', `const wr0 = ${g.wp} + (<usize>(${col})) * ${g.rowBytes};`, ...g.body(rows));
      for (const i of I) lines.push(`v${p}_${i} = ${g.bias ? `f32x4.add(o${i}, ${loadF32x4(g.bias.dtype, g.bias.ptr, col)})` : `o${i}`};`);
      lines.push('}');
    }
    for (const i of I) {
      const row = i ? `r + ${i}` : 'r';
      lines.push('if (c0 == n0) {', ...g.store(row, 'n0', P.map((p) => `v${p}_${i}`), 4), '} else {');
      // The part's last columns: lanes from n0 − c0 on are new.
      for (let lane = 1; lane < 4; lane++) {
        lines.push(`if (c0 + ${lane} >= n0) {`, ...P.map((p) => `const u${p} = f32x4.splat(f32x4.extract_lane(v${p}_${i}, ${lane}));`),
          ...g.store(row, `c0 + ${lane}`, P.map((p) => `u${p}`), 1), '}');
      }
      lines.push('}');
    }
    lines.push('}');
    return lines;
  };
  w.line(
    `if (R >= ${INT_GEMM_MIN_ROWS}) {`,
    `const nrc = (R + ${ROWS_PER_TILE - 1}) / ${ROWS_PER_TILE};`,
    `const items = ${Math.ceil(m / 4)} * nrc;`,
    `for (let it0 = ${claim}; it0 < items; it0 = ${claim}) {`,
    'const it1 = min(it0 + _t_guided_size(it0, items, nthreads, 1), items);',
    'for (let it = it0; it < it1; it++) {',
    'const cb = it / nrc;',
    'const n0 = cb << 2;',
    `const c0 = min(n0, ${m - 4});`,
    `const r0 = (it - cb * nrc) * ${ROWS_PER_TILE};`,
    `const r1 = min(r0 + ${ROWS_PER_TILE}, R);`,
    'let r = r0;',
    `for (; r + ${MR} <= r1; r += ${MR}) {`, ...tile(MR), '}',
  );
  // The rows left (fewer than MR) in passes of powers of two (3 = 2 + 1): fewer copies of the
  // micro-kernel than one per remainder (a q4_0 module was 19 % larger with 3, 2 and 1).
  for (let rows = 2 ** Math.floor(Math.log2(MR - 1)); MR > 1 && rows >= 1; rows >>= 1) w.line(`if (r1 - r >= ${rows}) {`, ...tile(rows), `r += ${rows};`, '}');
  w.line('}', '}', 'return;', '}');
}
