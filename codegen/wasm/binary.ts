// Binary elementwise kernels (add, sub, mul, div) with numpy broadcasting over symbolic shapes.
//
// Axes are first simplified at emit time: result axes of literal size 1 are dropped, and adjacent
// axes where each operand is either fully present or fully broadcast are merged, so [S, H, D] +
// [S, H, D] becomes one flat run and [S, D] + [D] becomes rows of D with the rhs restarting. The
// innermost merged axis is then a contiguous run (or a splat) for each operand, done four lanes at
// a time; threads split the (outer index, 256-element chunk) pairs.
import { type Dim, dimMul } from '../../ir/dim.js';
import type { Node } from '../../ir/graph.js';
import { KernelWriter, type WasmKernel } from './kernel.js';
import { loadF32, loadF32x4 } from './loads.js';

const OPS: Record<string, string> = { add: 'f32x4.add', sub: 'f32x4.sub', mul: 'f32x4.mul', div: 'f32x4.div' };
const CHUNK = 256;

interface Axis {
  size: Dim;
  /** Per operand: true when it is broadcast (has size 1) along this axis. */
  bcast: [boolean, boolean];
}

/** Result axes with size-1 axes dropped and runs of equal broadcast pattern merged. */
export function broadcastAxes(a: readonly Dim[], b: readonly Dim[], out: readonly Dim[]): Axis[] {
  const r = out.length;
  const pad = (s: readonly Dim[]) => [...Array<Dim>(r - s.length).fill(1), ...s];
  const pa = pad(a), pb = pad(b);
  const axes: Axis[] = [];
  for (let i = 0; i < r; i++) {
    if (out[i] === 1) continue;
    const bcast: [boolean, boolean] = [pa[i] === 1, pb[i] === 1];
    const last = axes[axes.length - 1];
    if (last && last.bcast[0] === bcast[0] && last.bcast[1] === bcast[1]) last.size = dimMul(last.size, out[i]);
    else axes.push({ size: out[i], bcast });
  }
  return axes.length ? axes : [{ size: 1, bcast: [false, false] }];
}

function emitBinary(node: Node): WasmKernel[] {
  const [a, b] = node.inputs;
  const axes = broadcastAxes(a.type.shape, b.type.shape, node.outputs[0].type.shape);
  const fn = OPS[node.op];
  const w = new KernelWriter(`binary_${node.op}`);
  const ap = w.ptr({ kind: 'operand', index: 0 }, 'pa');
  const bp = w.ptr({ kind: 'operand', index: 1 }, 'pb');
  const yp = w.ptr({ kind: 'result', index: 0 }, 'py');
  const sizes = axes.map((x) => w.dim(x.size));
  const inner = axes[axes.length - 1];
  const L = sizes[sizes.length - 1];
  const outer = axes.slice(0, -1);

  // Element strides of each operand along the outer axes (0 where broadcast).
  const strides = (k: 0 | 1): string[] => outer.map((_, i) => {
    if (outer[i].bcast[k]) return '0';
    const rest = axes.slice(i + 1).filter((x) => !x.bcast[k]).map((x) => w.dim(x.size));
    return rest.length ? rest.map((s) => `(<i64>${s})`).join(' * ') : '1';
  });
  const sa = strides(0), sb = strides(1);
  const outerCount = outer.length ? outer.map((_, i) => `(<i64>${sizes[i]})`).join(' * ') : '1';

  w.line(
    `const L: i32 = ${L};`,
    `const nch: i32 = (L + ${CHUNK - 1}) / ${CHUNK};`,
    `const items: i32 = <i32>(${outerCount}) * nch;`,
    'const it0 = _t_split(items, tid, nthreads), it1 = _t_split(items, tid + 1, nthreads);',
    'for (let item = it0; item < it1; item++) {',
    'const o = item / nch;',
    `const c0 = (item - o * nch) * ${CHUNK};`,
    `const c1 = min(c0 + ${CHUNK}, L);`,
    'let offA: i64 = 0, offB: i64 = 0;',
  );
  if (outer.length) {
    w.line('let rem = o;');
    for (let i = outer.length - 1; i >= 0; i--) {
      w.line(`{ const q = rem / ${sizes[i]}; const idx = <i64>(rem - q * ${sizes[i]}); rem = q;`,
        `offA += idx * ${sa[i]}; offB += idx * ${sb[i]}; }`);
    }
  }
  const ia = inner.bcast[0] ? '<i32>offA' : '<i32>offA + j';
  const ib = inner.bcast[1] ? '<i32>offB' : '<i32>offB + j';
  const vec = (k: 0 | 1, ptr: string, idx: string, dtype: typeof a.type.dtype) =>
    inner.bcast[k] ? `f32x4.splat(${loadF32(dtype, ptr, idx)})` : loadF32x4(dtype, ptr, idx);
  w.line(
    `const ybase = ${yp} + (<usize>(<i64>o * <i64>L) << 2);`,
    'let j = c0;',
    'for (; j + 4 <= c1; j += 4) {',
    `v128.store(ybase + ((<usize>j) << 2), ${fn}(${vec(0, ap, ia, a.type.dtype)}, ${vec(1, bp, ib, b.type.dtype)}));`,
    '}',
    'for (; j < c1; j++) {',
    `const r = ${fn}(f32x4.splat(${loadF32(a.type.dtype, ap, ia)}), f32x4.splat(${loadF32(b.type.dtype, bp, ib)}));`,
    'store<f32>(ybase + ((<usize>j) << 2), f32x4.extract_lane(r, 0));',
    '}',
    '}',
  );
  return [w.finish()];
}

export const binaryEmitters: Record<string, (node: Node) => WasmKernel[]> = Object.fromEntries(
  Object.keys(OPS).map((op) => [op, emitBinary]),
);
