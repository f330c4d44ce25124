// matmul_lora on the CPU (ir/ops/lora.ts): the base projection with the low-rank side path in its
// store. Two launches:
//  1. down: t[row, q] = scales[(row,) slot(q)] · factor(q) · Σ_i x[row, i] · a[q, i] into node
//     scratch (rows × R floats, R the stacked rank), split over (row, q) items. The scales are read
//     from their tensor every step, so switching adapters rewrites 4·N bytes and nothing else;
//     per-row scales [rows, N] give each row of a batched step its own sequence's adapters.
//  2. the projection (any weight type, matmul.ts / matmul-quant.ts) whose store adds, for each
//     4-column tile of a row, t[row, :] · b[col + c, :] before writing y: the side path costs R
//     multiply-adds per output and never writes a separate product.
// A rank row whose multiplier is 0 skips its dot, and a row whose adapters are all off skips the
// side path in the store: a step without active adapters costs a few scale loads per tile. No
// scale is ever baked into the code.
import { dimMul, dimProduct } from '../../ir/dim.js';
import type { DType } from '../../ir/dtype.js';
import type { Node } from '../../ir/graph.js';
import { f32Lit, KernelWriter, type WasmKernel } from './kernel.js';
import { elemBytes, loadF32, loadF32x4 } from './loads.js';
import { emitProjection } from './matmul.js';
import type { StoreFactory } from './projection.js';

/** Operands of matmul_lora (ir/ops/lora.ts). */
const X = 0, A = 2, B = 3, SCALES = 4, BIAS = 5;
/**
 * The scratch slot of t: clear of the projection kernels' own (quantized activation blocks 0, the
 * prefill GEMM's panels and tiles 5–8, gemm.ts), since t must live through them.
 */
const T_SLOT = 15;

/** Each stacked block: its first rank row, its end, its slot in scales and its factor. */
export function loraBlocks(node: Node): { start: number; end: number; slot: number; factor: number }[] {
  const ranks = node.attrs.ranks as number[], slots = node.attrs.slots as number[], factors = node.attrs.factors as number[];
  let at = 0;
  return ranks.map((r, j) => ({ start: at, end: (at += r), slot: slots[j], factor: factors[j] }));
}

/** Adapters per row of scales (its last axis), and whether each row of x has its own. */
function scalesLayout(node: Node): { adapters: number; perRow: boolean } {
  const shape = node.inputs[SCALES].type.shape;
  return { adapters: shape[shape.length - 1] as number, perRow: shape.length === 2 };
}

/** The address of row `row`'s scales: the only row when they are shared. */
function scalesRow(node: Node, ps: string, row: string): string {
  const { adapters, perRow } = scalesLayout(node);
  return perRow ? `${ps} + (<usize>(${row})) * ${adapters * 4}` : ps;
}

/** True when any adapter of the node's blocks is on for `row` (its scales at `sr`). */
function rowActive(node: Node, sr: string): string {
  const slots = [...new Set(loraBlocks(node).map((b) => b.slot))];
  return slots.map((slot) => `load<f32>(${sr}, ${slot * 4}) != 0.0`).join(' || ');
}

/** Lines setting `m` to the multiplier of rank row `q`: its block's scale (at `sr`) times its factor. */
function multiplier(node: Node, sr: string): string[] {
  const blocks = loraBlocks(node);
  const lines = ['let m: f32 = 0.0;'];
  blocks.forEach((b, j) => {
    const value = `load<f32>(${sr}, ${b.slot * 4}) * ${f32Lit(b.factor)}`;
    if (blocks.length === 1) lines.push(`m = ${value};`);
    else lines.push(`${j ? 'else ' : ''}if (q < ${b.end}) m = ${value};`);
  });
  return lines;
}

/** Dot product of `n` f32 at `xp` with `n` elements of type `dt` at `yp`, into the f32 local `out`. */
function dotLines(n: number, xp: string, yp: string, dt: DType, out: string): string[] {
  const n4 = n & ~3;
  return [
    'let dacc = f32x4.splat(0.0);',
    `for (let i: i32 = 0; i < ${n4}; i += 4) dacc = _t_madd(v128.load(${xp} + ((<usize>i) << 2)), ${loadF32x4(dt, yp, 'i')}, dacc);`,
    `let ${out}: f32 = _t_hsum(dacc);`,
    ...(n4 < n ? [`for (let i: i32 = ${n4}; i < ${n}; i++) ${out} += load<f32>(${xp} + ((<usize>i) << 2)) * ${loadF32(dt, yp, 'i')};`] : []),
  ];
}

function downKernel(node: Node): WasmKernel {
  const [x, , a] = node.inputs;
  const K = a.type.shape[1] as number, R = a.type.shape[0] as number;
  const rows = dimProduct(x.type.shape.slice(0, -1));
  const w = new KernelWriter(`lora_down_${a.type.dtype}`);
  const px = w.ptr({ kind: 'operand', index: X }, 'px');
  const pa = w.ptr({ kind: 'operand', index: A }, 'pa');
  const ps = w.ptr({ kind: 'operand', index: SCALES }, 'ps');
  const pt = w.ptr({ kind: 'scratch', slot: T_SLOT, bytes: dimMul(rows, R * 4), perThread: false }, 'pt');
  w.line(
    `const items: i32 = ${w.dim(rows)} * ${R};`,
    'const it0 = _t_split(items, tid, nthreads), it1 = _t_split(items, tid + 1, nthreads);',
    'for (let it = it0; it < it1; it++) {',
    `const row = it / ${R}, q = it - row * ${R};`,
    `const sr = ${scalesRow(node, ps, 'row')};`,
    ...multiplier(node, 'sr'),
    // An adapter that is off adds nothing: its rows of t are 0 without reading x or a.
    'let s: f32 = 0.0;',
    'if (m != 0.0) {',
    `const xr = ${px} + (<usize>row) * ${K * 4}, ar = ${pa} + (<usize>q) * ${K * elemBytes(a.type.dtype)};`,
    ...dotLines(K, 'xr', 'ar', a.type.dtype, 'd'),
    's = d * m;',
    '}',
    `store<f32>(${pt} + ((<usize>it) << 2), s);`,
    '}',
  );
  return w.finish();
}

/**
 * The projection's store: y = acc + t[row, :] · b[col.., :] (acc has the bias already); a row whose
 * adapters are all off stores acc as it is, reading neither t nor b.
 */
function loraStore(node: Node): StoreFactory {
  return (w) => {
    const [x, wt, a, b] = node.inputs;
    const R = a.type.shape[0] as number, n = wt.type.shape[0] as number, bt = b.type.dtype;
    const rows = dimProduct(x.type.shape.slice(0, -1));
    const pb = w.ptr({ kind: 'operand', index: B }, 'plb');
    const ps = w.ptr({ kind: 'operand', index: SCALES }, 'pls');
    const pt = w.ptr({ kind: 'scratch', slot: T_SLOT, bytes: dimMul(rows, R * 4), perThread: false }, 'pt');
    const py = w.ptr({ kind: 'result', index: 0 }, 'py');
    const R4 = R & ~3;
    const at = (row: string, col: string) => `${py} + ((<usize>(${row})) * ${n} + <usize>(${col})) * 4`;
    return (row, col, [acc], lanes) => {
      const lines = ['{', `const sr = ${scalesRow(node, ps, row)};`];
      if (lanes === 1) {
        lines.push('let side: f32 = 0.0;', `if (${rowActive(node, 'sr')}) {`, `const tr = ${pt} + (<usize>(${row})) * ${R * 4};`,
          `const br = ${pb} + (<usize>(${col})) * ${R * elemBytes(bt)};`, ...dotLines(R, 'tr', 'br', bt, 'd'), 'side = d;', '}',
          `store<f32>(${at(row, col)}, f32x4.extract_lane(${acc}, 0) + side);`, '}');
        return lines;
      }
      // Four rows of b (columns col…col+3 of y) against t's row: four chains, one horizontal sum.
      lines.push('let side = f32x4.splat(0.0);', `if (${rowActive(node, 'sr')}) {`, `const tr = ${pt} + (<usize>(${row})) * ${R * 4};`,
        `const br = ${pb} + (<usize>(${col})) * ${R * elemBytes(bt)};`, 'let d0 = f32x4.splat(0.0), d1 = d0, d2 = d0, d3 = d0;',
        `for (let q: i32 = 0; q < ${R4}; q += 4) {`, 'const tv = v128.load(tr + ((<usize>q) << 2));');
      for (let c = 0; c < 4; c++) lines.push(`d${c} = _t_madd(tv, ${loadF32x4(bt, 'br', `q + ${c * R}`)}, d${c});`);
      lines.push('}', 'side = _t_hsum4(d0, d1, d2, d3);');
      for (let q = R4; q < R; q++) {
        const bq = [0, 1, 2, 3].map((c) => loadF32(bt, 'br', String(c * R + q)));
        lines.push(`side = _t_madd(f32x4.splat(load<f32>(tr, ${q * 4})), f32x4.replace_lane(f32x4.replace_lane(f32x4.replace_lane(f32x4.splat(${bq[0]}), 1, ${bq[1]}), 2, ${bq[2]}), 3, ${bq[3]}), side);`);
      }
      lines.push('}', `v128.store(${at(row, col)}, f32x4.add(${acc}, side));`, '}');
      return lines;
    };
  };
}

function emitMatmulLora(node: Node): WasmKernel[] {
  return [downKernel(node), ...emitProjection(node, { bias: node.inputs.length > BIAS ? BIAS : undefined, store: loraStore(node) })];
}

export const loraEmitters: Record<string, (node: Node) => WasmKernel[]> = { matmul_lora: emitMatmulLora };
