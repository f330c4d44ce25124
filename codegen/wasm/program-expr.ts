// Elementwise programs (ir/ops/program.ts: `silu(x0) * x1`, matmul epilogues over acc0…) as
// AssemblyScript f32x4 code. Each operator and call becomes one `const`, so a value the program
// uses twice (or a function that reads its argument twice, like silu) is computed once. Operators
// round to f32 as the reference's ops do; functions are the vector forms the standalone unary
// kernels use (unary.ts), so a fused chain computes what the unfused kernels computed.
import { type BinaryOp, type Expr, parseProgram, resolveCall } from '../../ir/ops/program.js';
import { f32Lit } from './kernel.js';
import { activation } from './unary.js';

export interface ProgramCode {
  /** Statements defining the temporaries, in order. */
  readonly lines: readonly string[];
  /** The f32x4 expression of the program's value (a temporary's name). */
  readonly value: string;
}

const VECTOR_OP: Record<BinaryOp, string> = { '+': 'f32x4.add', '-': 'f32x4.sub', '*': 'f32x4.mul', '/': 'f32x4.div' };
const FOLD: Record<BinaryOp, (a: number, b: number) => number> = { '+': (a, b) => a + b, '-': (a, b) => a - b, '*': (a, b) => a * b, '/': (a, b) => a / b };

/** An f32 AS literal for any value, ±∞, NaN and −0 included (programs may hold them). */
function literal(x: number): string {
  if (Number.isNaN(x)) return '<f32>NaN';
  if (x === Infinity) return '<f32>Infinity';
  if (x === -Infinity) return '<f32>-Infinity';
  if (Object.is(Math.fround(x), -0)) return '<f32>-0.0';
  return f32Lit(x);
}

/**
 * Compiles program text to f32x4 statements. `variable` gives the f32x4 expression of `x<k>` or
 * `acc<k>` (each is read into a temporary once); temporaries are named `<prefix><n>`.
 */
export function programToAs(src: string, variable: (space: 'x' | 'acc', index: number) => string, prefix = '_e'): ProgramCode {
  const lines: string[] = [];
  const vars = new Map<string, string>();
  const fresh = (e: string): string => {
    const name = `${prefix}${lines.length}`;
    lines.push(`const ${name} = ${e};`);
    return name;
  };
  // A literal stays a number until it meets a tensor value (the reference folds literal-only arithmetic).
  type Val = number | string;
  const vec = (v: Val): string => (typeof v === 'number' ? fresh(`f32x4.splat(${literal(v)})`) : v);
  const go = (e: Expr): Val => {
    switch (e.kind) {
      case 'num': return e.value;
      case 'var': {
        const key = `${e.space}${e.index}`;
        let name = vars.get(key);
        if (!name) vars.set(key, (name = fresh(variable(e.space, e.index))));
        return name;
      }
      case 'neg': {
        const a = go(e.arg);
        return typeof a === 'number' ? Math.fround(-a) : fresh(`f32x4.neg(${a})`);
      }
      case 'bin': {
        const a = go(e.lhs), b = go(e.rhs);
        if (typeof a === 'number' && typeof b === 'number') return Math.fround(FOLD[e.op](a, b));
        return fresh(`${VECTOR_OP[e.op]}(${vec(a)}, ${vec(b)})`);
      }
      case 'call': {
        const { op, attrs } = resolveCall(e, src);
        return fresh(activation(op, attrs, vec(go(e.args[0]))));
      }
    }
  };
  const value = vec(go(parseProgram(src)));
  return { lines, value };
}
