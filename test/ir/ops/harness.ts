// Runs single ops through the builder (type inference) and the reference interpreter (which checks
// each result's shape against the inferred type), so every test exercises infer and evaluate together.
import { type AttrValue, type Dim, type DType, GraphBuilder, type HostTensor, sym, typeToString } from '../../../ir/index.js';
import { interpret } from '../../../runtime/reference/interpreter.js';

/** Symbols every test graph declares. */
export const SYMBOLS = ['B', 'S', 'P', 'T', 'N'] as const;
export const S = sym('S'), P = sym('P'), T = sym('T'), B = sym('B'), N = sym('N');

export interface RunOptions {
  /** Declared operand shapes (symbolic); default: each tensor's own static shape. */
  readonly shapes?: readonly (readonly Dim[] | undefined)[];
  /** Symbol values the input shapes do not fix. */
  readonly dims?: Readonly<Record<string, number>>;
}

/** Evaluates `op` on the given tensors and returns all of its results. */
export function runOp(op: string, operands: readonly HostTensor[], attrs: Record<string, AttrValue> = {}, opts: RunOptions = {}): HostTensor[] {
  const b = new GraphBuilder('t', [...SYMBOLS]);
  const ins = operands.map((t, i) => b.input(`x${i}`, t.dtype, opts.shapes?.[i] ?? t.shape));
  const outs = b.ops(op, ins, attrs);
  outs.forEach((v, i) => b.output(`y${i}`, v));
  const g = b.finish();
  const res = interpret(g, {
    inputs: Object.fromEntries(operands.map((t, i) => [`x${i}`, t])),
    params: () => { throw new Error('no params in op tests'); },
    dims: opts.dims,
  });
  return outs.map((_, i) => res.outputs[`y${i}`]);
}

/** The single result of `op`. */
export function run1(op: string, operands: readonly HostTensor[], attrs: Record<string, AttrValue> = {}, opts: RunOptions = {}): HostTensor {
  return runOp(op, operands, attrs, opts)[0];
}

/** The result types `op` infers for operands of these types, printed (`f32[S, 4]`). */
export function inferOp(op: string, types: readonly (readonly [DType, readonly Dim[]])[], attrs: Record<string, AttrValue> = {}): string[] {
  const b = new GraphBuilder('t', [...SYMBOLS]);
  const ins = types.map(([dtype, shape], i) => b.input(`x${i}`, dtype, shape));
  return b.ops(op, ins, attrs).map((v) => typeToString(v.type));
}

/** Plain numbers of a tensor, for toEqual/toBeCloseTo comparisons. */
export function values(t: HostTensor): number[] {
  return Array.from(t.data as ArrayLike<number>);
}

/** Asserts elementwise closeness with an absolute tolerance and a readable failure. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol = 1e-6): void {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} ≠ expected ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    if (!(Math.abs(actual[i] - expected[i]) <= atol)) {
      throw new Error(`element ${i}: got ${actual[i]}, expected ${expected[i]} (|Δ| = ${Math.abs(actual[i] - expected[i])} > ${atol})`);
    }
  }
}
