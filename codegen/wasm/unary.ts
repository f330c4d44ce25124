// Unary elementwise kernels (activations, scalings) and cast: one flat pass, four lanes at a time,
// threads taking equal runs of 16-element units. The scalar tail goes through the same vector
// function on a splatted lane, so tail and body compute identical values.
import type { Attrs } from '../../ir/attrs.js';
import { dimProduct } from '../../ir/dim.js';
import type { Node } from '../../ir/graph.js';
import { f32Lit, KernelWriter, type WasmKernel } from './kernel.js';
import { elemBytes, loadF32, loadF32x4 } from './loads.js';

/** The f32x4 → f32x4 expression of each activation of the value named `v` (a local: it may be read twice). */
const ACTIVATIONS: Record<string, (v: string, a: Attrs) => string> = {
  silu: (v) => `f32x4.div(${v}, f32x4.add(f32x4.splat(1.0), _t_exp4(f32x4.neg(${v}))))`,
  gelu: (v, a) => (a.approximate === 'tanh' ? `_t_gelu_tanh4(${v})` : `_t_gelu_erf4(${v})`),
  tanh: (v) => `_t_tanh4(${v})`,
  sigmoid: (v) => `_t_sigmoid4(${v})`,
  exp: (v) => `_t_exp4(${v})`,
  // pmax(v, 0) is `0 < v ? v : 0`: NaN and −0 give 0, as the reference's `x > 0 ? x : 0`.
  relu: (v) => `f32x4.pmax(${v}, f32x4.splat(0.0))`,
  neg: (v) => `f32x4.neg(${v})`,
  softcap: (v, a) => `f32x4.mul(f32x4.splat(${f32Lit(a.cap as number)}), _t_tanh4(f32x4.div(${v}, f32x4.splat(${f32Lit(a.cap as number)}))))`,
  scale: (v, a) => `f32x4.mul(${v}, f32x4.splat(${f32Lit(a.factor as number)}))`,
};

/** The f32x4 expression of unary op `op` applied to the local `v` (shared with fused programs). */
export function activation(op: string, a: Attrs, v: string): string {
  const f = ACTIVATIONS[op];
  if (!f) throw new Error(`no vector form of '${op}' (have: ${Object.keys(ACTIVATIONS).join(', ')})`);
  return f(v, a);
}

export const UNARY_OPS = Object.keys(ACTIVATIONS);

/** Opens the loop over this thread's share of `n` elements: defines `i0`, `i1`. */
function flatShare(w: KernelWriter, n: string): void {
  w.line(`const units = (${n} + 15) >> 4;`,
    `const i0 = _t_split(units, tid, nthreads) << 4;`,
    `const i1 = min(_t_split(units, tid + 1, nthreads) << 4, ${n});`);
}

function emitActivation(node: Node): WasmKernel[] {
  const x = node.inputs[0];
  const f = activation(node.op, node.attrs, 'v');
  const w = new KernelWriter(`unary_${node.op}`);
  const xp = w.ptr({ kind: 'operand', index: 0 }, 'x');
  const yp = w.ptr({ kind: 'result', index: 0 }, 'y');
  const n = w.dim(dimProduct(x.type.shape));
  flatShare(w, n);
  w.line(
    'let i = i0;',
    'for (; i + 4 <= i1; i += 4) {',
    `const v = ${loadF32x4(x.type.dtype, xp, 'i')};`,
    `v128.store(${yp} + ((<usize>i) << 2), ${f});`,
    '}',
    'for (; i < i1; i++) {',
    `const v = f32x4.splat(${loadF32(x.type.dtype, xp, 'i')});`,
    `store<f32>(${yp} + ((<usize>i) << 2), f32x4.extract_lane(${f}, 0));`,
    '}',
  );
  return [w.finish()];
}

/** cast: floats ↔ i32; float → int truncates toward zero (saturating: the reference throws there). */
function emitCast(node: Node): WasmKernel[] {
  const x = node.inputs[0];
  const to = node.attrs.dtype as 'f32' | 'i32';
  const from = x.type.dtype;
  const w = new KernelWriter('cast');
  const xp = w.ptr({ kind: 'operand', index: 0 }, 'x');
  const yp = w.ptr({ kind: 'result', index: 0 }, 'y');
  const n = w.dim(dimProduct(x.type.shape));
  flatShare(w, n);
  if (from === to) {
    const bytes = elemBytes(from);
    w.line(`if (i1 > i0) _t_copy(${yp} + (<usize>i0) * ${bytes}, ${xp} + (<usize>i0) * ${bytes}, (<usize>(i1 - i0)) * ${bytes});`);
    return [w.finish()];
  }
  let vec: string, scalar: string;
  if (from === 'i32') {
    vec = `f32x4.convert_i32x4_s(v128.load(${xp} + ((<usize>i) << 2)))`;
    scalar = `<f32>load<i32>(${xp} + ((<usize>i) << 2))`;
  } else if (to === 'i32') {
    vec = `i32x4.trunc_sat_f32x4_s(${loadF32x4(from, xp, 'i')})`;
    scalar = `i32x4.extract_lane(i32x4.trunc_sat_f32x4_s(f32x4.splat(${loadF32(from, xp, 'i')})), 0)`;
  } else {
    vec = loadF32x4(from, xp, 'i');
    scalar = loadF32(from, xp, 'i');
  }
  w.line(
    'let i = i0;',
    `for (; i + 4 <= i1; i += 4) v128.store(${yp} + ((<usize>i) << 2), ${vec});`,
    `for (; i < i1; i++) store<${to}>(${yp} + ((<usize>i) << 2), ${scalar});`,
  );
  return [w.finish()];
}

export const unaryEmitters: Record<string, (node: Node) => WasmKernel[]> = {
  ...Object.fromEntries(UNARY_OPS.map((op) => [op, emitActivation])),
  cast: emitCast,
};
