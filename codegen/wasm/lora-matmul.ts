// matmul_lora on the CPU (ir/ops/lora.ts): the base projection with the low-rank side path in its
// store. Two launches:
//  1. down: t[row, q] = scales[slot(q)] · factor(q) · Σ_i x[row, i] · a[q, i] into node scratch
//     (rows × R floats, R the stacked rank), split over (row, q) items. The scales are read from
//     their tensor every step, so switching adapters rewrites 4·N bytes and nothing else.
//  2. the projection (any weight type, matmul.ts / matmul-quant.ts) whose store adds, for each
//     4-column tile of a row, t[row, :] · b[col + c, :] before writing y: the side path costs R
//     multiply-adds per output and never writes a separate product.
// A block whose scale is 0 still runs (its t is 0): the side path's cost does not depend on which
// adapters are active, and no scale is ever baked into the code.
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

/** Lines setting `m` to the multiplier of rank row `q`: its block's scale times its factor. */
function multiplier(node: Node, ps: string): string[] {
  const blocks = loraBlocks(node);
  const lines = ['let m: f32 = 0.0;'];
  blocks.forEach((b, j) => {
    const value = `load<f32>(${ps}, ${b.slot * 4}) * ${f32Lit(b.factor)}`;
    if (blocks.length === 1) lines.push(`m = ${value};`);
    else lines.push(`${j ? 'else ' : ''}if (q < ${b.end}) m = ${value};`);
  });
  return lines;
}

/** Dot product of `n` f32 at `xp` with `n` elements of type `dt` at `yp`, into the f32 local `s`. */
function dotLines(n: number, xp: string, yp: string, dt: DType): string[] {
  const n4 = n & ~3;
  return [
    'let acc = f32x4.splat(0.0);',
    `for (let i: i32 = 0; i < ${n4}; i += 4) acc = _t_madd(v128.load(${xp} + ((<usize>i) << 2)), ${loadF32x4(dt, yp, 'i')}, acc);`,
    'let s: f32 = _t_hsum(acc);',
    ...(n4 < n ? [`for (let i: i32 = ${n4}; i < ${n}; i++) s += load<f32>(${xp} + ((<usize>i) << 2)) * ${loadF32(dt, yp, 'i')};`] : []),
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
    `const xr = ${px} + (<usize>row) * ${K * 4}, ar = ${pa} + (<usize>q) * ${K * elemBytes(a.type.dtype)};`,
    ...dotLines(K, 'xr', 'ar', a.type.dtype),
    ...multiplier(node, ps),
    `store<f32>(${pt} + ((<usize>it) << 2), s * m);`,
    '}',
  );
  return w.finish();
}

/** The projection's store: y = acc + t[row, :] · b[col.., :] (acc has the bias already). */
function loraStore(node: Node): StoreFactory {
  return (w) => {
    const [x, wt, a, b] = node.inputs;
    const R = a.type.shape[0] as number, n = wt.type.shape[0] as number, bt = b.type.dtype;
    const rows = dimProduct(x.type.shape.slice(0, -1));
    const pb = w.ptr({ kind: 'operand', index: B }, 'plb');
    const pt = w.ptr({ kind: 'scratch', slot: T_SLOT, bytes: dimMul(rows, R * 4), perThread: false }, 'pt');
    const py = w.ptr({ kind: 'result', index: 0 }, 'py');
    const R4 = R & ~3;
    const at = (row: string, col: string) => `${py} + ((<usize>(${row})) * ${n} + <usize>(${col})) * 4`;
    return (row, col, [acc], lanes) => {
      const lines = [`const tr = ${pt} + (<usize>(${row})) * ${R * 4};`];
      if (lanes === 1) {
        lines.push(`const br = ${pb} + (<usize>(${col})) * ${R * elemBytes(bt)};`, ...dotLines(R, 'tr', 'br', bt),
          `store<f32>(${at(row, col)}, f32x4.extract_lane(${acc}, 0) + s);`);
        return lines;
      }
      // Four rows of b (columns col…col+3 of y) against t's row: four chains, one horizontal sum.
      lines.push(`const br = ${pb} + (<usize>(${col})) * ${R * elemBytes(bt)};`, 'let d0 = f32x4.splat(0.0), d1 = d0, d2 = d0, d3 = d0;',
        `for (let q: i32 = 0; q < ${R4}; q += 4) {`, 'const tv = v128.load(tr + ((<usize>q) << 2));');
      for (let c = 0; c < 4; c++) lines.push(`d${c} = _t_madd(tv, ${loadF32x4(bt, 'br', `q + ${c * R}`)}, d${c});`);
      lines.push('}', 'let side = _t_hsum4(d0, d1, d2, d3);');
      for (let q = R4; q < R; q++) {
        const bq = [0, 1, 2, 3].map((c) => loadF32(bt, 'br', String(c * R + q)));
        lines.push(`side = _t_madd(f32x4.splat(load<f32>(tr, ${q * 4})), f32x4.replace_lane(f32x4.replace_lane(f32x4.replace_lane(f32x4.splat(${bq[0]}), 1, ${bq[1]}), 2, ${bq[2]}), 3, ${bq[3]}), side);`);
      }
      lines.push(`v128.store(${at(row, col)}, f32x4.add(${acc}, side));`);
      return lines;
    };
  };
}

function emitMatmulLora(node: Node): WasmKernel[] {
  return [downKernel(node), ...emitProjection(node, { bias: node.inputs.length > BIAS ? BIAS : undefined, store: loraStore(node) })];
}

export const loraEmitters: Record<string, (node: Node) => WasmKernel[]> = { matmul_lora: emitMatmulLora };
