// Reductions: argmax over the last axis (first maximum on ties) and masked mean pooling.
import { dimProduct } from '../../ir/dim.js';
import type { Node } from '../../ir/graph.js';
import { KernelWriter, type WasmKernel } from './kernel.js';
import { loadF32 } from './loads.js';

/**
 * Each lane of four independent sets (so that the compare-select chains overlap: one set is
 * latency-bound at ~5 cycles per vector) keeps the first maximum of its own subsequence (strict >);
 * the sets and then the lanes are merged preferring the larger value, then the smaller index, and
 * the tail continues with strict >, so ties resolve to the first index as in the reference. Rows
 * holding NaN are not supported.
 */
function emitArgmax(node: Node): WasmKernel[] {
  const x = node.inputs[0];
  if (x.type.dtype !== 'f32') throw new Error(`argmax reads f32 activations, got ${x.type.dtype}`);
  const shape = x.type.shape;
  const w = new KernelWriter('argmax');
  const xp = w.ptr({ kind: 'operand', index: 0 }, 'px');
  const yp = w.ptr({ kind: 'result', index: 0 }, 'py');
  const D = w.dim(shape[shape.length - 1]);
  const R = w.dim(dimProduct(shape.slice(0, -1)));
  const SETS = [0, 1, 2, 3];
  /** Lines that merge set `b` into set `a` lane-wise (larger value, then smaller index). */
  const mergeSets = (a: string, b: string) => [
    `{ const take = v128.or(f32x4.gt(bv${b}, bv${a}), v128.and(f32x4.eq(bv${b}, bv${a}), i32x4.lt_s(bi${b}, bi${a})));`,
    `bv${a} = v128.bitselect(bv${b}, bv${a}, take); bi${a} = v128.bitselect(bi${b}, bi${a}, take); }`,
  ];
  w.line(
    `const D: i32 = ${D};`,
    `const r0 = _t_split(${R}, tid, nthreads), r1 = _t_split(${R}, tid + 1, nthreads);`,
    'for (let r = r0; r < r1; r++) {',
    `const xr = ${xp} + (<usize>r) * (<usize>D) * 4;`,
    'let best = 0;',
    'let i = 0;',
    'if (D >= 16) {',
    ...SETS.map((k) => `let bv${k} = v128.load(xr, ${k * 16}), bi${k} = i32x4(${4 * k}, ${4 * k + 1}, ${4 * k + 2}, ${4 * k + 3});`),
    'let idx = i32x4(16, 17, 18, 19);',
    'for (i = 16; i + 16 <= D; i += 16) {',
    'const at = xr + ((<usize>i) << 2);',
    ...SETS.flatMap((k) => [
      `{ const v = v128.load(at, ${k * 16});`,
      `const gt = f32x4.gt(v, bv${k});`,
      `bv${k} = v128.bitselect(v, bv${k}, gt);`,
      `bi${k} = v128.bitselect(${k ? `i32x4.add(idx, i32x4.splat(${4 * k}))` : 'idx'}, bi${k}, gt); }`,
    ]),
    'idx = i32x4.add(idx, i32x4.splat(16));',
    '}',
    ...mergeSets('0', '1'), ...mergeSets('2', '3'), ...mergeSets('0', '2'),
    'let bl: f32 = f32x4.extract_lane(bv0, 0);',
    'best = i32x4.extract_lane(bi0, 0);',
  );
  for (let l = 1; l < 4; l++) {
    w.line(`{ const v = f32x4.extract_lane(bv0, ${l}), j = i32x4.extract_lane(bi0, ${l});`,
      'if (v > bl || (v == bl && j < best)) { bl = v; best = j; } }');
  }
  w.line(
    '} else { i = 1; }',
    'for (; i < D; i++) if (load<f32>(xr + ((<usize>i) << 2)) > load<f32>(xr + ((<usize>best) << 2))) best = i;',
    `store<i32>(${yp} + ((<usize>r) << 2), best);`,
    '}',
  );
  return [w.finish()];
}

/** Σ_s h[b, s, :]·mask[b, s] / max(Σ_s mask[b, s], 1e-9); threads split (batch, 64-column chunk). */
function emitMeanPool(node: Node): WasmKernel[] {
  const [h, mask] = node.inputs;
  const [Bd, Sd, Dd] = h.type.shape;
  const w = new KernelWriter('mean_pool');
  const hp = w.ptr({ kind: 'operand', index: 0 }, 'ph');
  const mp = w.ptr({ kind: 'operand', index: 1 }, 'pm');
  const yp = w.ptr({ kind: 'result', index: 0 }, 'py');
  const maskAt = (i: string) => (mask.type.dtype === 'i32' ? `<f32>load<i32>(${mp} + ((<usize>(${i})) << 2))` : loadF32(mask.type.dtype, mp, i));
  const hAt = (i: string) => loadF32(h.type.dtype, hp, i);
  w.line(
    `const S: i32 = ${w.dim(Sd)}, D: i32 = ${w.dim(Dd)};`,
    'const nch = (D + 63) >> 6;',
    `const items = ${w.dim(Bd)} * nch;`,
    'const it0 = _t_split(items, tid, nthreads), it1 = _t_split(items, tid + 1, nthreads);',
    'for (let it = it0; it < it1; it++) {',
    'const b = it / nch;',
    'const c0 = (it - b * nch) << 6, c1 = min(c0 + 64, D);',
    'let count: f64 = 0;',
    `for (let s = 0; s < S; s++) count += <f64>${maskAt('b * S + s')};`,
    'const denom = <f32>Math.max(count, 1e-9);',
    `const yr = ${yp} + (<usize>b) * (<usize>D) * 4;`,
    'for (let j = c0; j < c1; j++) {',
    'let acc: f32 = 0;',
    'for (let s = 0; s < S; s++) {',
    `const m = ${maskAt('b * S + s')};`,
    `if (m != 0) acc += ${hAt('(b * S + s) * D + j')} * m;`,
    '}',
    'store<f32>(yr + ((<usize>j) << 2), acc / denom);',
    '}',
    '}',
  );
  return [w.finish()];
}

export const reduceEmitters: Record<string, (node: Node) => WasmKernel[]> = {
  argmax: emitArgmax,
  mean_pool: emitMeanPool,
};
