// The fused projections (ir/ops/fused.ts, ir/ops/rope-matmul.ts) on the matmul kernels:
//  - matmul_ep / norm_matmul: the epilogue program runs in the tile loop's store (projection.ts),
//    on the 4 outputs of one row at a time: acc0… are the parts' f32x4 products (bias added), the
//    extra operands are read at the same result elements, broadcast as the op defines.
//  - norm_matmul's prologue normalises rows inside the kernel (matmul.ts, matmul-quant.ts).
//  - rope_matmul: the product (normalised, with bias) goes straight to the result, then a second
//    kernel rotates the rope_cols heads in place: a rotation pairs columns that other tiles own.
import { type Dim, dimMul, dimProduct } from '../../ir/dim.js';
import type { Node } from '../../ir/graph.js';
import type { KernelWriter, WasmKernel } from './kernel.js';
import { loadF32, loadF32x4 } from './loads.js';
import { emitProjection } from './matmul.js';
import type { NormKind } from './norm.js';
import { programToAs } from './program-expr.js';
import type { Prologue, StoreFactory } from './projection.js';
import { emitRopeKernel } from './rope.js';

/**
 * Lines defining `name`, the element offset of result row `row` in an operand of shape `shape`
 * broadcast to `out` (its last axis excluded). Leading axes are merged where the operand is all
 * present or all broadcast, so the usual cases are `row · m` and 0.
 */
function rowOffset(w: KernelWriter, shape: readonly Dim[], out: readonly Dim[], row: string, name: string): string[] {
  const rank = out.length;
  const pe = [...Array<Dim>(rank - shape.length).fill(1), ...shape];
  const groups: { size: Dim; present: boolean; stride: Dim }[] = [];
  let running: Dim = pe[rank - 1];
  for (let i = rank - 2; i >= 0; i--) {
    if (out[i] === 1) continue;
    const present = pe[i] !== 1;
    const top = groups[groups.length - 1];
    if (top && top.present === present) top.size = dimMul(top.size, out[i]);
    else groups.push({ size: out[i], present, stride: running });
    if (present) running = dimMul(running, pe[i]);
  }
  const used = groups.filter((g) => g.present);
  if (!used.length) return [`const ${name}: i32 = 0;`];
  if (groups.length === 1) return [`const ${name}: i32 = (${row}) * ${w.dim(groups[0].stride)};`];
  const lines = [`let ${name}: i32 = 0;`, `{ let rem: i32 = ${row};`];
  for (const g of groups) {
    const size = w.dim(g.size);
    lines.push(`{ const q = rem / ${size};${g.present ? ` ${name} += (rem - q * ${size}) * ${w.dim(g.stride)};` : ''} rem = q; }`);
  }
  lines.push('}');
  return lines;
}

/** The store of a fused projection: the epilogue program over acc0… and the extra operands. */
function epilogueStore(node: Node, extras: readonly number[], program: string): StoreFactory {
  return (w) => {
    const out = node.outputs[0].type.shape;
    const m = out[out.length - 1] as number;
    const xs = extras.map((op, j) => ({ ptr: w.ptr({ kind: 'operand', index: op }, `pe${j}`), v: node.inputs[op] }));
    const yp = w.ptr({ kind: 'result', index: 0 }, 'py');
    return (row, col, acc, lanes) => {
      const lines: string[] = [];
      const loads = xs.map(({ ptr, v }, j) => {
        const shape = v.type.shape;
        lines.push(...rowOffset(w, shape, out, row, `ro${j}`));
        const dtype = v.type.dtype;
        // An operand whose last axis is 1 (or absent) is the same for every column.
        const alongCols = shape.length > 0 && shape[shape.length - 1] !== 1;
        if (!alongCols) return `f32x4.splat(${loadF32(dtype, ptr, `ro${j}`)})`;
        return lanes === 4 ? loadF32x4(dtype, ptr, `ro${j} + ${col}`) : `f32x4.splat(${loadF32(dtype, ptr, `ro${j} + ${col}`)})`;
      });
      const code = programToAs(program, (space, index) => (space === 'acc' ? acc[index] : loads[index]));
      const at = `${yp} + ((<usize>(${row})) * ${m} + <usize>(${col})) * 4`;
      lines.push(...code.lines, lanes === 4 ? `v128.store(${at}, ${code.value});` : `store<f32>(${at}, f32x4.extract_lane(${code.value}, 0));`);
      return lines;
    };
  };
}

/** matmul_ep and norm_matmul: operands x, w, [bias], x0…; attributes bias, parts, epilogue. */
function emitEpilogueProjection(node: Node, norm?: Prologue): WasmKernel[] {
  const a = node.attrs;
  const bias = a.bias ? 2 : undefined;
  const extras = node.inputs.map((_, i) => i).filter((i) => i >= 2 && i !== bias);
  const program = a.epilogue as string;
  const plain = program === 'acc0' && extras.length === 0;
  return emitProjection(node, { bias, parts: a.parts as number, norm, store: plain ? undefined : epilogueStore(node, extras, program) });
}

function emitMatmulEp(node: Node): WasmKernel[] {
  return emitEpilogueProjection(node);
}

function emitNormMatmul(node: Node): WasmKernel[] {
  return emitEpilogueProjection(node, { kind: node.attrs.kind as NormKind, eps: node.attrs.eps as number });
}

/** The [start, end) column ranges cut into heads: each rotated head's first column, as static data. */
function headColumns(cols: readonly number[], hd: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < cols.length; i += 2) for (let c = cols[i]; c < cols[i + 1]; c += hd) out.push(c);
  return out;
}

function emitRopeMatmul(node: Node): WasmKernel[] {
  const a = node.attrs;
  const [x, w, pos] = node.inputs;
  const norm = a.norm === 'none' ? undefined : { kind: a.norm as NormKind, eps: a.eps as number };
  const product = emitProjection(node, { bias: node.inputs.length > 3 ? 3 : undefined, norm });
  const n = w.type.shape[0] as number;
  const hd = a.head_dim as number;
  const heads = headColumns(a.rope_cols as readonly number[], hd);
  const lead = x.type.shape.slice(0, -1);
  const result = { kind: 'result', index: 0 } as const;
  const rotate = emitRopeKernel(a, {
    family: 'rope_matmul',
    x: result,
    y: result,
    pos: { kind: 'operand', index: 2 },
    // pos is [S] for every batch row, or [B, S] like x's leading dims.
    perToken: pos.type.shape.length === lead.length,
    S: lead[lead.length - 1],
    tokens: dimProduct(lead),
    heads: heads.length,
    headDim: hd,
    setup: [`const COLS = memory.data<i32>([${heads.join(', ')}]);`],
    headAt: (bs, h) => `${bs} * ${n} + load<i32>(COLS + ((<usize>(${h})) << 2))`,
  });
  return [...product, rotate];
}

export const fusedMatmulEmitters: Record<string, (node: Node) => WasmKernel[]> = {
  matmul_ep: emitMatmulEp,
  norm_matmul: emitNormMatmul,
  rope_matmul: emitRopeMatmul,
};
