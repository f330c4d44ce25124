// Elementwise ops: binary arithmetic with numpy broadcasting, the unary-op helper (the unary ops
// live in activation.ts), and cast.
import type { Attrs, AttrSchema } from '../attrs.js';
import { isFloat } from '../dtype.js';
import { type OpDef, registerOp, type UnaryFunction, unaryFunctionOf } from '../op.js';
import { type HostTensor, tensor } from '../tensor.js';
import { typeToString } from '../types.js';
import { broadcastIndex, broadcastShapes, expectFloat, f32Type, fail, floats, outF32 } from './util.js';

function binary(name: string, summary: string, f: (a: number, b: number) => number, commutative: boolean): void {
  registerOp({
    name,
    summary,
    operands: ['lhs', 'rhs'],
    attrs: {},
    traits: commutative ? ['elementwise', 'commutative'] : ['elementwise'],
    infer([a, b]) {
      expectFloat(a, 'lhs');
      expectFloat(b, 'rhs');
      return [f32Type(broadcastShapes(a.shape, b.shape))];
    },
    evaluate([a, b]) {
      const shape = broadcastShapes(a.shape, b.shape) as number[];
      const x = floats(a), y = floats(b);
      const ia = broadcastIndex(a.shape, shape), ib = broadcastIndex(b.shape, shape);
      const out = new Float32Array(ia.length);
      for (let i = 0; i < out.length; i++) out[i] = f(x[ia[i]], y[ib[i]]);
      return [outF32(shape, out)];
    },
  });
}

binary('add', 'lhs + rhs', (a, b) => a + b, true);
binary('sub', 'lhs - rhs', (a, b) => a - b, false);
binary('mul', 'lhs * rhs', (a, b) => a * b, true);
binary('div', 'lhs / rhs', (a, b) => a / b, false);

/**
 * Registers a unary elementwise op computing one of `functions` (the row whose `when` the
 * attributes meet), f32 out. `check` validates attribute values beyond their types (returns a
 * message when they are unusable).
 */
export function unary(
  name: string,
  summary: string,
  attrs: AttrSchema,
  functions: readonly UnaryFunction[],
  check?: (a: Attrs) => string | undefined,
): OpDef {
  return registerOp({
    name,
    summary,
    operands: ['x'],
    attrs,
    traits: ['elementwise'],
    unaryFunctions: functions,
    infer([x], a) {
      expectFloat(x, 'x');
      const bad = check?.(a);
      if (bad) fail(bad);
      return [f32Type(x.shape)];
    },
    evaluate([x]: readonly HostTensor[], a) {
      const f = unaryFunctionOf(name, a);
      if (!f) throw new Error(`internal error: op '${name}' declares no unary function for ${JSON.stringify(a)}`);
      const src = floats(x);
      const out = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = f.reference(src[i], a);
      return [outF32(x.shape, out)];
    },
  });
}

// cast between the two activation types: ids to floats (e.g. an attention mask), floats to ids.
registerOp({
  name: 'cast',
  summary: 'converts f32 ↔ i32; float → int truncates toward zero, like torch .to(int32)',
  operands: ['x'],
  attrs: { dtype: { type: 'string', oneOf: ['f32', 'i32'] } },
  traits: ['elementwise'],
  infer([x], a) {
    if (!isFloat(x.dtype) && x.dtype !== 'i32') fail(`x must be a float or i32 tensor, got ${typeToString(x)}`);
    return [{ dtype: a.dtype as 'f32' | 'i32', shape: [...x.shape] }];
  },
  evaluate([x], a) {
    const src = x.dtype === 'i32' ? (x.data as Int32Array) : floats(x);
    if (a.dtype === 'f32') return [outF32(x.shape, Float32Array.from(src))];
    const out = new Int32Array(src.length);
    for (let i = 0; i < src.length; i++) {
      const v = Math.trunc(src[i]);
      // torch leaves these undefined; an oracle should say so rather than wrap silently.
      if (!(v >= -2147483648 && v <= 2147483647)) throw new Error(`cast: element ${i} (${src[i]}) does not fit in i32`);
      out[i] = v;
    }
    return [tensor('i32', x.shape, out)];
  },
});
