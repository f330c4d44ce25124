// Elementwise ops: binary arithmetic with numpy broadcasting, and unary activations.
import type { Attrs, AttrSchema } from '../attrs.js';
import { registerOp } from '../op.js';
import type { HostTensor } from '../tensor.js';
import { broadcastIndex, broadcastShapes, expectFloat, f32Type, floats, outF32 } from './util.js';

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

/** Registers a unary elementwise op: y = f(x, attrs). */
export function unary(name: string, summary: string, attrs: AttrSchema, f: (x: number, a: Attrs) => number): void {
  registerOp({
    name,
    summary,
    operands: ['x'],
    attrs,
    traits: ['elementwise'],
    infer([x]) {
      expectFloat(x, 'x');
      return [f32Type(x.shape)];
    },
    evaluate([x]: readonly HostTensor[], a) {
      const src = floats(x);
      const out = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = f(src[i], a);
      return [outF32(x.shape, out)];
    },
  });
}

unary('silu', 'x · sigmoid(x)', {}, (x) => x / (1 + Math.exp(-x)));
