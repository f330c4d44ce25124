// Reductions: argmax over the last axis (first maximum on ties) and masked mean pooling.
import { dimProduct } from '../../ir/dim.js';
import type { Node } from '../../ir/graph.js';
import { KernelWriter, type WasmKernel } from './kernel.js';
import { loadF32 } from './loads.js';

/**
 * Lines that leave in `best` (i32) the first index of the maximum of row `xr`'s elements
 * [lo, hi) (hi > lo), and its value in `bl` (f32). Each lane of four independent sets (so that
 * the compare-select chains overlap: one set is latency-bound at ~5 cycles per vector) keeps the
 * first maximum of its own subsequence (strict >); the sets and then the lanes are merged
 * preferring the larger value, then the smaller index, and the tail continues with strict >, so
 * ties resolve to the first index as in the reference. Rows holding NaN are not supported.
 */
function scanMax(xr: string, lo: string, hi: string): string[] {
  const SETS = [0, 1, 2, 3];
  /** Lines that merge set `b` into set `a` lane-wise (larger value, then smaller index). */
  const mergeSets = (a: string, b: string) => [
    `{ const take = v128.or(f32x4.gt(bv${b}, bv${a}), v128.and(f32x4.eq(bv${b}, bv${a}), i32x4.lt_s(bi${b}, bi${a})));`,
    `bv${a} = v128.bitselect(bv${b}, bv${a}, take); bi${a} = v128.bitselect(bi${b}, bi${a}, take); }`,
  ];
  const lines = [
    `let best = ${lo};`,
    `let bl = load<f32>(${xr} + ((<usize>best) << 2));`,
    `let i = ${lo} + 1;`,
    `if (${hi} - ${lo} >= 16) {`,
    `const first = ${xr} + ((<usize>(${lo})) << 2);`,
    ...SETS.map((k) => `let bv${k} = v128.load(first, ${k * 16}), bi${k} = i32x4.add(i32x4(${4 * k}, ${4 * k + 1}, ${4 * k + 2}, ${4 * k + 3}), i32x4.splat(${lo}));`),
    `let idx = i32x4.add(i32x4(16, 17, 18, 19), i32x4.splat(${lo}));`,
    `for (i = ${lo} + 16; i + 16 <= ${hi}; i += 16) {`,
    `const at = ${xr} + ((<usize>i) << 2);`,
    ...SETS.flatMap((k) => [
      `{ const v = v128.load(at, ${k * 16});`,
      `const gt = f32x4.gt(v, bv${k});`,
      `bv${k} = v128.bitselect(v, bv${k}, gt);`,
      `bi${k} = v128.bitselect(${k ? `i32x4.add(idx, i32x4.splat(${4 * k}))` : 'idx'}, bi${k}, gt); }`,
    ]),
    'idx = i32x4.add(idx, i32x4.splat(16));',
    '}',
    ...mergeSets('0', '1'), ...mergeSets('2', '3'), ...mergeSets('0', '2'),
    'bl = f32x4.extract_lane(bv0, 0);',
    'best = i32x4.extract_lane(bi0, 0);',
  ];
  for (let l = 1; l < 4; l++) {
    lines.push(`{ const v = f32x4.extract_lane(bv0, ${l}), j = i32x4.extract_lane(bi0, ${l});`,
      'if (v > bl || (v == bl && j < best)) { bl = v; best = j; } }');
  }
  lines.push('}', `for (; i < ${hi}; i++) { const v = load<f32>(${xr} + ((<usize>i) << 2)); if (v > bl) { bl = v; best = i; } }`);
  return lines;
}

/** Bytes between two threads' partial results (a cache line each, so they share none). */
const PARTIAL_STRIDE = 64;

/**
 * argmax over the last axis. Threads take whole rows, except for a single long row (greedy
 * decoding's logits: one row of the vocabulary), which they split into contiguous ranges: each
 * thread publishes its range's (maximum, first index), and the last to finish (the work counter
 * as a ticket) merges them in range order, so the first maximum still wins. At stories15M's 32000
 * logits that took the pass from ~11 µs on one thread to 8.5–9 µs (the classifier's claims leave
 * half of each range in the other core's cache).
 */
function emitArgmax(node: Node): WasmKernel[] {
  const x = node.inputs[0];
  if (x.type.dtype !== 'f32') throw new Error(`argmax reads f32 activations, got ${x.type.dtype}`);
  const shape = x.type.shape;
  const w = new KernelWriter('argmax');
  const xp = w.ptr({ kind: 'operand', index: 0 }, 'px');
  const yp = w.ptr({ kind: 'result', index: 0 }, 'py');
  const pp = w.ptr({ kind: 'scratch', slot: 0, bytes: PARTIAL_STRIDE, perThread: true }, 'pp');
  const ctr = w.ptr({ kind: 'counter' }, 'pctr');
  const D = w.dim(shape[shape.length - 1]);
  const R = w.dim(dimProduct(shape.slice(0, -1)));
  w.line(
    `const D: i32 = ${D}, R: i32 = ${R};`,
    'if (R == 1 && nthreads > 1 && D >= nthreads * 256) {',
    // Ranges in whole vectors of 16, the last thread taking the remainder.
    'const lo = _t_split(D >> 4, tid, nthreads) << 4;',
    'const hi = tid == nthreads - 1 ? D : _t_split(D >> 4, tid + 1, nthreads) << 4;',
    ...scanMax(xp, 'lo', 'hi'),
    `const mine = ${pp} + (<usize>tid) * ${PARTIAL_STRIDE};`,
    'store<f32>(mine, bl);',
    'store<i32>(mine, best, 4);',
    // The ticket's atomic read-modify-write orders the stores above before the merge reads them.
    `if (_t_claim(${ctr}) == nthreads - 1) {`,
    `let top = load<f32>(${pp}), at = load<i32>(${pp}, 4);`,
    'for (let t = 1; t < nthreads; t++) {',
    `const v = load<f32>(${pp} + (<usize>t) * ${PARTIAL_STRIDE});`,
    `if (v > top) { top = v; at = load<i32>(${pp} + (<usize>t) * ${PARTIAL_STRIDE}, 4); }`,
    '}',
    `store<i32>(${yp}, at);`,
    '}',
    'return;',
    '}',
    'const r0 = _t_split(R, tid, nthreads), r1 = _t_split(R, tid + 1, nthreads);',
    'for (let r = r0; r < r1; r++) {',
    `const xr = ${xp} + (<usize>r) * (<usize>D) * 4;`,
    ...scanMax('xr', '0', 'D'),
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
