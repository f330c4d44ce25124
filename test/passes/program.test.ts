// The elementwise program language of fused ops: canonical printing that reads back as the same
// tree, clear errors that the verifier passes on, and evaluation that equals the ops it stands for.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { findProgramFunction, getOp, programFunctionNames } from '../../ir/op.js';
import '../../ir/ops/index.js';
import { type Expr, evaluateProgram, formatProgram, parseProgram } from '../../ir/ops/program.js';
import { parseGraph } from '../../ir/parser.js';
import { f32, type HostTensor } from '../../ir/tensor.js';
import { verifyGraph } from '../../ir/verifier.js';

describe('program text', () => {
  it('prints canonically, with the fewest parentheses', () => {
    for (const src of ['silu(x0) * x1', 'x0 + acc0', '-(x0 + x1)', 'x0 - (x1 - x2)', 'x0 / (x1 * x2)', '(x0 + x1) * x2', 'softcap(acc0, 2)', 'x0 * -0.5', 'gelu_tanh(acc1) * acc0', 'x0 - -inf', 'nan', '-x0 * x1', '-(x0 * x1)', 'x0 * 1e+21', 'x0 - -0.0']) {
      expect(formatProgram(parseProgram(src))).toBe(src);
    }
    expect(formatProgram(parseProgram(' ( x0 )+((x1))*3 '))).toBe('x0 + x1 * 3');
    expect(formatProgram(parseProgram('x0 + (x1 + x2)'))).toBe('x0 + (x1 + x2)');
    expect(formatProgram(parseProgram('(x0 + x1) + x2'))).toBe('x0 + x1 + x2');
  });

  // Every function the registry declares: those of one argument, and softcap for a literal one.
  const oneArgument = programFunctionNames().filter((name) => findProgramFunction(name)!.literals.length === 0);
  const arbExpr: fc.Arbitrary<Expr> = fc.letrec<{ e: Expr }>((tie) => ({
    e: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.record({ kind: fc.constant('var' as const), space: fc.constantFrom('x' as const, 'acc' as const), index: fc.nat(3) }),
      fc.record({ kind: fc.constant('num' as const), value: fc.oneof(fc.double(), fc.constantFrom(-0, 0.1, 2, 1e-7)) }),
      fc.record({ kind: fc.constant('neg' as const), arg: tie('e') }).filter((x) => x.arg.kind !== 'num'),
      fc.record({ kind: fc.constant('bin' as const), op: fc.constantFrom('+' as const, '-' as const, '*' as const, '/' as const), lhs: tie('e'), rhs: tie('e') }),
      fc.record({ kind: fc.constant('call' as const), fn: fc.constantFrom(...oneArgument), arg: tie('e') }).map(({ fn, arg }): Expr => ({ kind: 'call', fn, args: [arg] })),
      fc.record({ x: tie('e'), cap: fc.double({ min: 0.1, max: 50, noNaN: true }) }).map(({ x, cap }): Expr => ({ kind: 'call', fn: 'softcap', args: [x, { kind: 'num', value: cap }] })),
    ),
  })).e;

  it('reads back every printed tree as the same tree (property)', () => {
    fc.assert(fc.property(arbExpr, (e) => {
      const text = formatProgram(e);
      const back = parseProgram(text);
      expect(formatProgram(back)).toBe(text);
      expect(JSON.stringify(back, (_, v) => (Object.is(v, -0) ? '-0' : Number.isNaN(v) ? 'NaN' : v))).toBe(JSON.stringify(e, (_, v) => (Object.is(v, -0) ? '-0' : Number.isNaN(v) ? 'NaN' : v)));
    }), { numRuns: 500 });
  });

  it('says what is wrong, and where', () => {
    expect(() => parseProgram('foo(x0)')).toThrow(`program "foo(x0)": unknown function 'foo' (known: ${programFunctionNames().join(', ')}) at column 1`);
    expect(() => parseProgram('x0 + y')).toThrow(/unknown variable 'y' \(operands are x0, x1, …; a matmul epilogue also has acc0, acc1, …\) at column 6/);
    expect(() => parseProgram('silu(x0, x1)')).toThrow(/silu takes 1 argument\(s\), got 2 at column 1/);
    expect(() => parseProgram('softcap(x0, x1)')).toThrow(/softcap's argument 2 \(cap\) must be a number/);
    expect(() => parseProgram('x0 +')).toThrow(/expected a number, a variable, a function call or \(, found the end at column 5/);
    expect(() => parseProgram('x0 x1')).toThrow(/expected an operator or the end, found 'x1' at column 4/);
    expect(() => parseProgram('x0 ^ 2')).toThrow(/unexpected character '\^' at column 4/);
    expect(() => parseProgram('(x0')).toThrow(/expected '\)', found the end/);
    expect(() => parseProgram('x01')).toThrow(/unknown variable 'x01'/);
  });
});

describe('programs in graphs', () => {
  const graph = (body: string) => parseGraph(`graph @t<S>(%a: f32[S, 4], %b: f32[4]) {\n  param %w: f32[8, 4] = "w"\n${body}\n}\n`);

  it('the verifier rejects unknown functions, unused operands and variables out of range', () => {
    expect(() => verifyGraph(graph('  %y = fused_elementwise(%a) {program = "swish(x0)"} : f32[S, 4]\n  output y = %y'))).toThrow(/unknown function 'swish' \(known: [^)]*\bsilu\b/);
    expect(() => verifyGraph(graph('  %y = fused_elementwise(%a, %b) {program = "silu(x0)"} : f32[S, 4]\n  output y = %y'))).toThrow(/operand x1 is not used/);
    expect(() => verifyGraph(graph('  %y = fused_elementwise(%a) {program = "acc0 + x0"} : f32[S, 4]\n  output y = %y'))).toThrow(/acc0 is out of range \(there are no accumulator/);
    expect(() => verifyGraph(graph('  %y = matmul_ep(%a, %w) {epilogue = "silu(acc1)", parts = 2} : f32[S, 4]\n  output y = %y'))).not.toThrow();
    expect(() => verifyGraph(graph('  %y = matmul_ep(%a, %w) {epilogue = "silu(acc2)", parts = 2} : f32[S, 4]\n  output y = %y'))).toThrow(/acc2 is out of range \(there are acc0…acc1\)/);
    expect(() => verifyGraph(graph('  %y = matmul_ep(%a, %w, %b) {epilogue = "acc0 + x0", parts = 2} : f32[S, 4]\n  output y = %y'))).not.toThrow();
    expect(() => verifyGraph(graph('  %y = matmul_ep(%a, %w, %a) {epilogue = "acc0 + x0", parts = 1} : f32[S, 8]\n  output y = %y'))).toThrow(/epilogue operand x0 f32\[S, 4\] does not broadcast to the result \[S, 8\]/);
  });

  it('evaluate exactly as the ops they stand for (every op rounds to f32)', () => {
    const x = f32([5], [-3, -0.5, 0, 0.7, 4]), y = f32([5], [1, 2, -1, 0.25, 3]);
    const op = (name: string, args: HostTensor[], attrs = {}) => getOp(name).evaluate(args, attrs, { dims: {} })[0];
    const want = op('sub', [op('add', [op('mul', [op('silu', [x]), y]), op('softcap', [x], { cap: 1.5 })]), op('scale', [op('gelu', [y], { approximate: 'tanh' })], { factor: 1 / 3 })]);
    const got = evaluateProgram(parseProgram('silu(x0) * x1 + softcap(x0, 1.5) - gelu_tanh(x1) * 0.3333333333333333'), 5, [x.data as Float32Array, y.data as Float32Array]);
    expect(Array.from(got)).toEqual(Array.from(want.data as Float32Array));
  });
});
