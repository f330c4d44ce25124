// Unary elementwise kernels (every op that declares a unary function: activations, scalings) and
// cast: one flat pass, four lanes at a time, threads taking equal runs of 16-element units. The scalar tail goes through the same vector
// function on a splatted lane, so tail and body compute identical values.
import type { Attrs } from '../../ir/attrs.js';
import { dimProduct } from '../../ir/dim.js';
import type { Node } from '../../ir/graph.js';
import { fillHoles, unaryFunctionOf } from '../../ir/op.js';
import { f32Lit, KernelWriter, type WasmKernel } from './kernel.js';
import { elemBytes, loadF32, loadF32x4 } from './loads.js';

/**
 * The f32x4 expression of unary op `op` applied to the f32x4 local `v` (it may be read twice),
 * from the op's unary function (ir/op.ts); shared with fused programs.
 */
export function activation(op: string, a: Attrs, v: string): string {
  const f = unaryFunctionOf(op, a);
  if (!f) throw new Error(`'${op}' is not a unary elementwise op: no vector form`);
  return fillHoles(f.wasm.expr, { ...f.constants, ...a }, f32Lit).replace(/\bv\b/g, () => v);
}

/** Opens the loop over this thread's share of `n` elements: defines `i0`, `i1`. */
function flatShare(w: KernelWriter, n: string): void {
  w.line(`const units = (${n} + 15) >> 4;`,
    `const i0 = _t_split(units, tid, nthreads) << 4;`,
    `const i1 = min(_t_split(units, tid + 1, nthreads) << 4, ${n});`);
}

/** The kernel of every op that declares a unary function (emit.ts asks the registry which). */
export function emitUnaryFunction(node: Node): WasmKernel[] {
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
  cast: emitCast,
};
