// Elementwise programs: the tiny expression language carried by fused ops as a string attribute
// (`fused_elementwise {program = "silu(x0) * x1"}`, `matmul_ep {epilogue = "x0 + acc0"}`).
// Passes build programs from chains of elementwise ops, the reference interpreter evaluates them,
// and code generators compile the same text into kernels.
//
//   expr  := term (('+' | '-') term)*
//   term  := unary (('*' | '/') unary)*
//   unary := '-' unary | atom
//   atom  := number | 'inf' | 'nan' | var | fn '(' expr (',' expr)* ')' | '(' expr ')'
//   var   := 'x' digits      the k-th tensor operand of the op (broadcast to the result shape)
//          | 'acc' digits    a matmul epilogue's accumulator: block k of `parts` equal column blocks
//
// Semantics: every operator and function rounds its result to f32, exactly as the op it stands
// for does (`x0 * 0.5` is `scale {factor = 0.5}`, `silu(x0)` is `silu`), so a fused chain
// computes bit for bit what the unfused chain did. Literals are f64 and are not rounded.
// Functions are the unary functions registered ops declare (`program: { call }` in ir/op.ts's
// UnaryFunction), evaluated by the op's own reference code.
import type { Attrs, AttrValue } from '../attrs.js';
import { findProgramFunction, getOp, type ProgramFunction, programFunctionNames } from '../op.js';
import { tensor } from '../tensor.js';
import './activation.js';

export type BinaryOp = '+' | '-' | '*' | '/';

export type Expr =
  | { readonly kind: 'num'; readonly value: number }
  | { readonly kind: 'var'; readonly space: 'x' | 'acc'; readonly index: number }
  | { readonly kind: 'neg'; readonly arg: Expr }
  | { readonly kind: 'bin'; readonly op: BinaryOp; readonly lhs: Expr; readonly rhs: Expr }
  | { readonly kind: 'call'; readonly fn: string; readonly args: readonly Expr[] };

/**
 * The registered op and attributes a program call stands for (its literal arguments become the
 * op's attributes), as code generators need them; throws for an unknown function or a literal
 * argument that is not a number.
 */
export function resolveCall(e: Extract<Expr, { kind: 'call' }>, src: string): { readonly op: string; readonly attrs: Attrs } {
  const fn = findProgramFunction(e.fn);
  if (!fn) throw new Error(`program ${JSON.stringify(src)}: unknown function '${e.fn}'`);
  const attrs: Record<string, AttrValue> = { ...fn.attrs };
  fn.literals.forEach((name, k) => {
    const arg = e.args[k + 1];
    if (arg?.kind !== 'num') throw new Error(`program ${JSON.stringify(src)}: ${e.fn}'s argument '${name}' must be a number`);
    attrs[name] = arg.value;
  });
  return { op: fn.op, attrs };
}

export class ProgramError extends Error {
  constructor(readonly program: string, message: string, column?: number) {
    super(`program ${JSON.stringify(program)}: ${message}${column !== undefined ? ` at column ${column}` : ''}`);
    this.name = 'ProgramError';
  }
}

// ---- parsing ----

type Token = { kind: 'num'; value: number; at: number } | { kind: 'name'; text: string; at: number } | { kind: 'punct'; text: string; at: number } | { kind: 'end'; at: number };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) { i++; continue; }
    const num = /^(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?/.exec(src.slice(i));
    if (num) { out.push({ kind: 'num', value: Number(num[0]), at: i }); i += num[0].length; continue; }
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
    if (name) { out.push({ kind: 'name', text: name[0], at: i }); i += name[0].length; continue; }
    if ('+-*/(),'.includes(c)) { out.push({ kind: 'punct', text: c, at: i }); i++; continue; }
    throw new ProgramError(src, `unexpected character '${c}'`, i + 1);
  }
  out.push({ kind: 'end', at: src.length });
  return out;
}

function parse(src: string): Expr {
  const tokens = tokenize(src);
  let p = 0;
  const peek = () => tokens[p];
  const fail = (what: string, t: Token = peek()): never => {
    const found = t.kind === 'end' ? 'the end' : t.kind === 'num' ? `${t.value}` : `'${t.text}'`;
    throw new ProgramError(src, `expected ${what}, found ${found}`, t.at + 1);
  };
  const isPunct = (text: string) => {
    const t = peek();
    return t.kind === 'punct' && t.text === text;
  };
  const expect = (text: string) => {
    if (!isPunct(text)) fail(`'${text}'`);
    p++;
  };
  const binary = (next: () => Expr, ops: readonly BinaryOp[]): Expr => {
    let lhs = next();
    for (;;) {
      const t = peek();
      if (t.kind !== 'punct' || !(ops as readonly string[]).includes(t.text)) return lhs;
      p++;
      lhs = { kind: 'bin', op: t.text as BinaryOp, lhs, rhs: next() };
    }
  };
  const expr = (): Expr => binary(term, ['+', '-']);
  const term = (): Expr => binary(unary, ['*', '/']);
  const unary = (): Expr => {
    if (!isPunct('-')) return atom();
    p++;
    const arg = unary();
    // A negative literal is a literal (exact in f64), so `-0.5` prints and reads back the same.
    return arg.kind === 'num' ? { kind: 'num', value: -arg.value } : { kind: 'neg', arg };
  };
  const atom = (): Expr => {
    const t = peek();
    if (t.kind === 'num') { p++; return { kind: 'num', value: t.value }; }
    if (isPunct('(')) {
      p++;
      const e = expr();
      expect(')');
      return e;
    }
    if (t.kind !== 'name') return fail('a number, a variable, a function call or (');
    p++;
    if (t.text === 'inf') return { kind: 'num', value: Infinity };
    if (t.text === 'nan') return { kind: 'num', value: NaN };
    const v = /^(x|acc)(0|[1-9]\d*)$/.exec(t.text);
    if (v) return { kind: 'var', space: v[1] as 'x' | 'acc', index: Number(v[2]) };
    if (!isPunct('(')) throw new ProgramError(src, `unknown variable '${t.text}' (operands are x0, x1, …; a matmul epilogue also has acc0, acc1, …)`, t.at + 1);
    const fn = findProgramFunction(t.text);
    if (!fn) throw new ProgramError(src, `unknown function '${t.text}' (known: ${programFunctionNames().join(', ')})`, t.at + 1);
    p++;
    const args = [expr()];
    while (isPunct(',')) { p++; args.push(expr()); }
    expect(')');
    const want = 1 + fn.literals.length;
    if (args.length !== want) throw new ProgramError(src, `${t.text} takes ${want} argument(s), got ${args.length}`, t.at + 1);
    fn.literals.forEach((name, k) => {
      const a = args[k + 1];
      if (a.kind !== 'num') throw new ProgramError(src, `${t.text}'s argument ${k + 2} (${name}) must be a number`, t.at + 1);
    });
    return { kind: 'call', fn: t.text, args };
  };
  const e = expr();
  if (peek().kind !== 'end') fail('an operator or the end');
  return e;
}

const parsed = new Map<string, Expr>();

/** Parses a program (cached: graphs repeat the same few programs). Throws ProgramError. */
export function parseProgram(src: string): Expr {
  let e = parsed.get(src);
  if (!e) {
    e = parse(src);
    if (parsed.size > 4096) parsed.clear();
    parsed.set(src, e);
  }
  return e;
}

// ---- printing ----

function formatNumber(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (Object.is(x, -0)) return '-0.0';
  return String(x);
}

const PREC: Record<BinaryOp, number> = { '+': 1, '-': 1, '*': 2, '/': 2 };

/** The canonical text of a program: minimal parentheses, and the same tree when read back. */
export function formatProgram(e: Expr): string {
  const go = (x: Expr, min: number): string => {
    switch (x.kind) {
      case 'num': {
        const s = formatNumber(x.value);
        return s.startsWith('-') && min > 3 ? `(${s})` : s;
      }
      case 'var': return `${x.space}${x.index}`;
      case 'neg': return `-${go(x.arg, 3)}`;
      case 'call': return `${x.fn}(${x.args.map((a) => go(a, 0)).join(', ')})`;
      case 'bin': {
        const p = PREC[x.op];
        // Operators are left-associative: a right operand of equal precedence keeps its parentheses.
        const s = `${go(x.lhs, p)} ${x.op} ${go(x.rhs, p + 1)}`;
        return p < min ? `(${s})` : s;
      }
    }
  };
  return go(e, 0);
}

// ---- inspection and rewriting ----

/** Every variable the program reads, as `x0`, `acc1`, … (sorted, each once). */
export function programVars(e: Expr, into = new Set<string>()): Set<string> {
  if (e.kind === 'var') into.add(`${e.space}${e.index}`);
  else if (e.kind === 'neg') programVars(e.arg, into);
  else if (e.kind === 'bin') { programVars(e.lhs, into); programVars(e.rhs, into); }
  else if (e.kind === 'call') for (const a of e.args) programVars(a, into);
  return into;
}

/** Replaces variables (a pass composing programs renumbers operands this way). */
export function substituteVars(e: Expr, f: (v: Extract<Expr, { kind: 'var' }>) => Expr): Expr {
  switch (e.kind) {
    case 'num': return e;
    case 'var': return f(e);
    case 'neg': return { kind: 'neg', arg: substituteVars(e.arg, f) };
    case 'bin': return { ...e, lhs: substituteVars(e.lhs, f), rhs: substituteVars(e.rhs, f) };
    case 'call': return { ...e, args: e.args.map((a) => substituteVars(a, f)) };
  }
}

/**
 * Checks that a program reads only x0…x(operands−1) and acc0…acc(accs−1), and every operand.
 * Returns a message, or undefined when the program fits.
 */
export function checkProgram(src: string, operands: number, accs: number): string | undefined {
  let e: Expr;
  try {
    e = parseProgram(src);
  } catch (err) {
    return (err as Error).message;
  }
  const vars = programVars(e);
  for (const v of vars) {
    const [, space, n] = /^(x|acc)(\d+)$/.exec(v)!;
    const limit = space === 'x' ? operands : accs;
    if (Number(n) >= limit) {
      const have = space === 'x' ? `${operands} operand(s) after the fixed ones` : accs ? `acc0…acc${accs - 1}` : 'no accumulator (only matmul epilogues have one)';
      return `program ${JSON.stringify(src)}: ${v} is out of range (there are ${have})`;
    }
  }
  for (let k = 0; k < operands; k++) if (!vars.has(`x${k}`)) return `program ${JSON.stringify(src)}: operand x${k} is not used`;
  return undefined;
}

// ---- evaluation ----

/** A value while evaluating: a literal (f64) or one f32 value per result element. */
type Lane = number | Float32Array;

function unaryOp(fn: ProgramFunction, x: Float32Array, literals: readonly number[]): Float32Array {
  const attrs: Record<string, AttrValue> = { ...fn.attrs };
  fn.literals.forEach((name, k) => (attrs[name] = literals[k]));
  return getOp(fn.op).evaluate([tensor('f32', [x.length], x)], attrs, { dims: {} })[0].data as Float32Array;
}

const ARITH: Record<BinaryOp, (a: number, b: number) => number> = {
  '+': (a, b) => a + b,
  '-': (a, b) => a - b,
  '*': (a, b) => a * b,
  '/': (a, b) => a / b,
};

/**
 * Evaluates a program over `n` result elements. `x[k]` and `acc[k]` hold one value per element
 * (already broadcast to the result shape).
 */
export function evaluateProgram(e: Expr, n: number, x: readonly Float32Array[], acc: readonly Float32Array[] = []): Float32Array {
  const lanes = (l: Lane): Float32Array => (typeof l === 'number' ? new Float32Array(n).fill(l) : l);
  const go = (node: Expr): Lane => {
    switch (node.kind) {
      case 'num': return node.value;
      case 'var': return (node.space === 'x' ? x : acc)[node.index];
      case 'neg': {
        const a = go(node.arg);
        return typeof a === 'number' ? Math.fround(-a) : a.map((v) => -v);
      }
      case 'bin': {
        const a = go(node.lhs), b = go(node.rhs), f = ARITH[node.op];
        if (typeof a === 'number' && typeof b === 'number') return Math.fround(f(a, b));
        const out = new Float32Array(n);
        for (let i = 0; i < n; i++) out[i] = f(typeof a === 'number' ? a : a[i], typeof b === 'number' ? b : b[i]);
        return out;
      }
      case 'call': {
        const arg = go(node.args[0]);
        const literals = node.args.slice(1).map((a) => (a as { value: number }).value);
        const fn = findProgramFunction(node.fn)!;
        if (typeof arg === 'number') return unaryOp(fn, Float32Array.of(arg), literals)[0];
        return unaryOp(fn, arg, literals);
      }
    }
  };
  return lanes(go(e));
}
