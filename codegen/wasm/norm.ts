// Normalizations over the last axis: rms_norm (with Gemma's weight offset), layer_norm and
// l2_normalize, plus the gain-free row normalisation the fused projections use (norm_matmul).
// Threads split the rows; a row's sums use two f32x4 accumulators (independent add chains) and
// the final scale is formed in f64, as the reference does.
import { dimProduct } from '../../ir/dim.js';
import type { Node } from '../../ir/graph.js';
import { KernelWriter, type WasmKernel } from './kernel.js';
import { loadF32, loadF32x4 } from './loads.js';

export type NormKind = 'rms' | 'layer';

/** Opens the per-row loop: defines `D`, `row`, `xr` (row address) and `yr`. */
function rows(w: KernelWriter, node: Node, xp: string, yp: string): void {
  const shape = node.inputs[0].type.shape;
  const D = w.dim(shape[shape.length - 1]);
  const R = w.dim(dimProduct(shape.slice(0, -1)));
  w.line(
    `const D: i32 = ${D};`,
    `const r0 = _t_split(${R}, tid, nthreads), r1 = _t_split(${R}, tid + 1, nthreads);`,
    'for (let row = r0; row < r1; row++) {',
    `const xr = ${xp} + (<usize>row) * (<usize>D) * 4;`,
    `const yr = ${yp} + (<usize>row) * (<usize>D) * 4;`,
  );
}

/** Σ f(x_i) over the row into `name` (f32); `f` maps an f32x4 `v` (and is applied lane-wise to the tail). */
function rowSum(w: KernelWriter, name: string, f: (v: string) => string): void {
  w.line(
    'let s0 = f32x4.splat(0.0), s1 = f32x4.splat(0.0);',
    'let i = 0;',
    'for (; i + 8 <= D; i += 8) {',
    `const v0 = v128.load(xr + ((<usize>i) << 2)); const v1 = v128.load(xr + ((<usize>i) << 2), 16);`,
    `s0 = f32x4.add(s0, ${f('v0')}); s1 = f32x4.add(s1, ${f('v1')});`,
    '}',
    `for (; i + 4 <= D; i += 4) { const v0 = v128.load(xr + ((<usize>i) << 2)); s0 = f32x4.add(s0, ${f('v0')}); }`,
    `let ${name}: f32 = _t_hsum(f32x4.add(s0, s1));`,
    `for (; i < D; i++) { const v0 = f32x4.splat(load<f32>(xr + ((<usize>i) << 2))); ${name} += f32x4.extract_lane(${f('v0')}, 0); }`,
  );
}

/** y_i = g(x_i, i) over the row; `g` gets an f32x4 `v` and the index expression. */
function rowMap(w: KernelWriter, g: (v: string, i: string, lanes: 4 | 1) => string): void {
  w.line(
    'let j = 0;',
    `for (; j + 4 <= D; j += 4) { const v = v128.load(xr + ((<usize>j) << 2)); v128.store(yr + ((<usize>j) << 2), ${g('v', 'j', 4)}); }`,
    `for (; j < D; j++) { const v = f32x4.splat(load<f32>(xr + ((<usize>j) << 2))); store<f32>(yr + ((<usize>j) << 2), f32x4.extract_lane(${g('v', 'j', 1)}, 0)); }`,
  );
}

/** An f32x4 of the weight at index i (4 lanes, or one element splatted). */
function weight(dtype: Node['inputs'][number]['type']['dtype'], ptr: string, i: string, lanes: 4 | 1): string {
  return lanes === 4 ? loadF32x4(dtype, ptr, i) : `f32x4.splat(${loadF32(dtype, ptr, i)})`;
}

function expectF32Input(node: Node): void {
  if (node.inputs[0].type.dtype !== 'f32') throw new Error(`x must be f32 here (activations), got ${node.inputs[0].type.dtype}`);
}

/**
 * Lines that leave a row's statistics in scope for `normalized`: `inv` (f32x4 of 1/rms or 1/σ) and
 * `mv` (the mean; zero for rms). Needs `xr` and `D`.
 */
export function rowStats(w: KernelWriter, kind: NormKind, eps: number): void {
  w.line('let mv = f32x4.splat(0.0), inv = f32x4.splat(0.0);', '{');
  if (kind === 'layer') {
    w.line('{');
    rowSum(w, 'sum', (v) => v);
    w.line('mv = f32x4.splat(sum / <f32>D);', '}');
    // Two passes, as the reference: squared deviations from the mean do not cancel.
    rowSum(w, 'ss', (v) => `f32x4.mul(f32x4.sub(${v}, mv), f32x4.sub(${v}, mv))`);
  } else {
    rowSum(w, 'ss', (v) => `f32x4.mul(${v}, ${v})`);
  }
  w.line(`inv = f32x4.splat(<f32>(1.0 / Math.sqrt(<f64>ss / <f64>D + ${eps})));`, '}');
}

/** The normalised value (no gain) of the f32x4 `v`, with rowStats' results in scope. */
export function normalized(kind: NormKind, v: string): string {
  return kind === 'layer' ? `f32x4.mul(f32x4.sub(${v}, mv), inv)` : `f32x4.mul(${v}, inv)`;
}

/** Lines that write row `xr` (D elements) normalised without gain to `yr`: norm_matmul's prologue. */
export function normalizeRow(w: KernelWriter, kind: NormKind, eps: number): void {
  rowStats(w, kind, eps);
  rowMap(w, (v) => normalized(kind, v));
}

function emitRmsNorm(node: Node): WasmKernel[] {
  expectF32Input(node);
  const wt = node.inputs[1].type.dtype;
  const eps = node.attrs.eps as number, offset = node.attrs.offset as number;
  const w = new KernelWriter('rms_norm');
  const xp = w.ptr({ kind: 'operand', index: 0 }, 'px');
  const wp = w.ptr({ kind: 'operand', index: 1 }, 'pw');
  const yp = w.ptr({ kind: 'result', index: 0 }, 'py');
  rows(w, node, xp, yp);
  rowStats(w, 'rms', eps);
  const off = offset === 0 ? (x: string) => x : (x: string) => `f32x4.add(${x}, f32x4.splat(<f32>${offset}))`;
  rowMap(w, (v, i, lanes) => `f32x4.mul(${normalized('rms', v)}, ${off(weight(wt, wp, i, lanes))})`);
  w.line('}');
  return [w.finish()];
}

function emitLayerNorm(node: Node): WasmKernel[] {
  expectF32Input(node);
  const hasBias = node.inputs.length > 2;
  const eps = node.attrs.eps as number;
  const w = new KernelWriter('layer_norm');
  const xp = w.ptr({ kind: 'operand', index: 0 }, 'px');
  const wp = w.ptr({ kind: 'operand', index: 1 }, 'pw');
  const bp = hasBias ? w.ptr({ kind: 'operand', index: 2 }, 'pb') : '';
  const yp = w.ptr({ kind: 'result', index: 0 }, 'py');
  rows(w, node, xp, yp);
  rowStats(w, 'layer', eps);
  const wt = node.inputs[1].type.dtype;
  rowMap(w, (v, i, lanes) => {
    const scaled = `f32x4.mul(${normalized('layer', v)}, ${weight(wt, wp, i, lanes)})`;
    return hasBias ? `f32x4.add(${scaled}, ${weight(node.inputs[2].type.dtype, bp, i, lanes)})` : scaled;
  });
  w.line('}');
  return [w.finish()];
}

function emitL2Normalize(node: Node): WasmKernel[] {
  expectF32Input(node);
  const eps = node.attrs.eps as number;
  const w = new KernelWriter('l2_normalize');
  const xp = w.ptr({ kind: 'operand', index: 0 }, 'px');
  const yp = w.ptr({ kind: 'result', index: 0 }, 'py');
  rows(w, node, xp, yp);
  rowSum(w, 'ss', (v) => `f32x4.mul(${v}, ${v})`);
  w.line(`const denom = f32x4.splat(<f32>Math.max(Math.sqrt(<f64>ss), ${eps}));`);
  rowMap(w, (v) => `f32x4.div(${v}, denom)`);
  w.line('}');
  return [w.finish()];
}

export const normEmitters: Record<string, (node: Node) => WasmKernel[]> = {
  rms_norm: emitRmsNorm,
  layer_norm: emitLayerNorm,
  l2_normalize: emitL2Normalize,
};
