// Elementwise kernels over operands broadcast together (numpy rules, symbolic shapes): the binary
// ops and fused_elementwise programs.
//
// Axes are first simplified at emit time: result axes of literal size 1 are dropped, and adjacent
// axes where each operand is either fully present or fully broadcast are merged, so [S, H, D] +
// [S, H, D] becomes one flat run and [S, D] + [D] becomes rows of D with the rhs restarting. The
// innermost merged axis is then a contiguous run (or a splat) for each operand, done four lanes at
// a time; threads split the (outer index, 256-element chunk) pairs. The scalar tail runs the same
// vector code on splatted lanes, so tail and body compute identical values.
import { type Dim, dimMul } from '../../ir/dim.js';
import type { DType } from '../../ir/dtype.js';
import type { Node } from '../../ir/graph.js';
import { KernelWriter, type WasmKernel } from './kernel.js';
import { loadF32, loadF32x4 } from './loads.js';

const CHUNK = 256;

export interface Axis {
  size: Dim;
  /** Per operand: true when it is broadcast (has size 1) along this axis. */
  readonly bcast: readonly boolean[];
}

/** Result axes with size-1 axes dropped and runs of equal broadcast pattern merged. */
export function broadcastAxes(shapes: readonly (readonly Dim[])[], out: readonly Dim[]): Axis[] {
  const r = out.length;
  const padded = shapes.map((s) => [...Array<Dim>(r - s.length).fill(1), ...s]);
  const axes: Axis[] = [];
  for (let i = 0; i < r; i++) {
    if (out[i] === 1) continue;
    const bcast = padded.map((p) => p[i] === 1);
    const last = axes[axes.length - 1];
    if (last && last.bcast.every((b, k) => b === bcast[k])) last.size = dimMul(last.size, out[i]);
    else axes.push({ size: out[i], bcast });
  }
  return axes.length ? axes : [{ size: 1, bcast: shapes.map(() => false) }];
}

/**
 * The f32x4 result of one step from the operands' f32x4 values (named in `vs`): lines that define
 * temporaries, then the value.
 */
export type VectorBody = (vs: readonly string[]) => { readonly lines: readonly string[]; readonly value: string };

/** One kernel computing `body` over every element of node's (single) result, operands broadcast. */
export function emitBroadcast(node: Node, family: string, body: VectorBody): WasmKernel {
  const ops = node.inputs;
  const axes = broadcastAxes(ops.map((v) => v.type.shape), node.outputs[0].type.shape);
  const w = new KernelWriter(family);
  const ptrs = ops.map((_, k) => w.ptr({ kind: 'operand', index: k }, `p${k}`));
  const yp = w.ptr({ kind: 'result', index: 0 }, 'py');
  const sizes = axes.map((x) => w.dim(x.size));
  const inner = axes[axes.length - 1];
  const outer = axes.slice(0, -1);

  // Element stride of operand k along outer axis i (0 where broadcast).
  const stride = (k: number, i: number): string => {
    if (outer[i].bcast[k]) return '0';
    const rest = axes.slice(i + 1).filter((x) => !x.bcast[k]).map((x) => w.dim(x.size));
    return rest.length ? rest.map((s) => `(<i64>${s})`).join(' * ') : '1';
  };
  const outerCount = outer.length ? outer.map((_, i) => `(<i64>${sizes[i]})`).join(' * ') : '1';

  w.line(
    `const L: i32 = ${sizes[sizes.length - 1]};`,
    `const nch: i32 = (L + ${CHUNK - 1}) / ${CHUNK};`,
    `const items: i32 = <i32>(${outerCount}) * nch;`,
    'const it0 = _t_split(items, tid, nthreads), it1 = _t_split(items, tid + 1, nthreads);',
    'for (let item = it0; item < it1; item++) {',
    'const o = item / nch;',
    `const c0 = (item - o * nch) * ${CHUNK};`,
    `const c1 = min(c0 + ${CHUNK}, L);`,
    ops.map((_, k) => `let off${k}: i64 = 0;`).join(' '),
  );
  if (outer.length) {
    w.line('let rem = o;');
    for (let i = outer.length - 1; i >= 0; i--) {
      const adds = ops.map((_, k) => stride(k, i)).map((s, k) => (s === '0' ? '' : `off${k} += idx * ${s};`)).join(' ');
      w.line(`{ const q = rem / ${sizes[i]}; const idx = <i64>(rem - q * ${sizes[i]}); rem = q; ${adds} }`);
    }
  }
  const index = (k: number) => (inner.bcast[k] ? `<i32>off${k}` : `<i32>off${k} + j`);
  const load = (k: number, dtype: DType, lanes: 4 | 1) => (lanes === 4 && !inner.bcast[k]
    ? loadF32x4(dtype, ptrs[k], index(k))
    : `f32x4.splat(${loadF32(dtype, ptrs[k], index(k))})`);
  const step = (lanes: 4 | 1): string[] => {
    const vs = ops.map((_, k) => `v${k}`);
    const { lines, value } = body(vs);
    return [
      ...ops.map((v, k) => `const v${k} = ${load(k, v.type.dtype, lanes)};`),
      ...lines,
      lanes === 4
        ? `v128.store(ybase + ((<usize>j) << 2), ${value});`
        : `store<f32>(ybase + ((<usize>j) << 2), f32x4.extract_lane(${value}, 0));`,
    ];
  };
  w.line(
    `const ybase = ${yp} + (<usize>(<i64>o * <i64>L) << 2);`,
    'let j = c0;',
    'for (; j + 4 <= c1; j += 4) {', ...step(4), '}',
    'for (; j < c1; j++) {', ...step(1), '}',
    '}',
  );
  return w.finish();
}
