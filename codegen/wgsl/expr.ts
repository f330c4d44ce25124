// Elementwise programs (ir/ops/program.ts: `silu(x0) * x1`, matmul epilogues over acc0…) as WGSL
// expressions. Every operator and function rounds to f32 in WGSL as in the reference; functions
// become the same WGSL helpers the standalone unary kernels use.
import type { Attrs } from '../../ir/attrs.js';
import { type Expr, parseProgram, PROGRAM_FNS } from '../../ir/ops/program.js';
import { f32Lit } from './builder.js';
import { ERF_WGSL, SIGMOID_WGSL, TANH_WGSL } from './math.js';

/** A unary op as a WGSL function `fn <name>(v: f32) -> f32`, with the helpers it needs. */
export function unaryFunction(name: string, op: string, a: Attrs): { fn: string; helpers: string[] } {
  const def = (expr: string, helpers: string[] = []) => ({ fn: `fn ${name}(v: f32) -> f32 { return ${expr}; }`, helpers });
  switch (op) {
    case 'silu': return def('v * sigmoid_f32(v)', [SIGMOID_WGSL]);
    case 'sigmoid': return def('sigmoid_f32(v)', [SIGMOID_WGSL]);
    case 'gelu':
      return a.approximate === 'tanh'
        ? def(`0.5 * v * (1.0 + tanh_f32(${f32Lit(Math.sqrt(2 / Math.PI))} * (v + ${f32Lit(0.044715)} * v * v * v)))`, [TANH_WGSL])
        : def(`0.5 * v * (1.0 + erf_f32(v * ${f32Lit(Math.SQRT1_2)}))`, [ERF_WGSL]);
    case 'tanh': return def('tanh_f32(v)', [TANH_WGSL]);
    case 'exp': return def('exp(v)');
    // select, not max: the reference maps NaN to 0, and WGSL leaves max(NaN, 0) open.
    case 'relu': return def('select(0.0, v, v > 0.0)');
    case 'neg': return def('-v');
    case 'softcap': {
      const cap = a.cap as number;
      return def(`${f32Lit(cap)} * tanh_f32(v / ${f32Lit(cap)})`, [TANH_WGSL]);
    }
    case 'scale': return def(`v * ${f32Lit(a.factor as number)}`);
    default: throw new Error(`'${op}' is not a unary elementwise op`);
  }
}

export interface ProgramWgsl {
  /** The program as one WGSL f32 expression. */
  readonly expr: string;
  /** Function definitions it calls (deduplicated, in order). */
  readonly helpers: readonly string[];
}

/**
 * Compiles program text to a WGSL expression. `variable` gives the WGSL for `x<k>` / `acc<k>`;
 * `index` is a u32 expression in scope (used to build non-constant inf/nan, which WGSL refuses as
 * constants).
 */
export function programToWgsl(src: string, variable: (space: 'x' | 'acc', index: number) => string, index: string): ProgramWgsl {
  const helpers: string[] = [];
  const fns = new Map<string, string>();
  const need = (h: readonly string[]) => { for (const x of h) if (!helpers.includes(x)) helpers.push(x); };
  const literal = (v: number): string => {
    if (Number.isFinite(v)) return `f32(${f32Lit(v)})`;
    const bits = Number.isNaN(v) ? '0x7fc00000u' : v > 0 ? '0x7f800000u' : '0xff800000u';
    return `bitcast<f32>(${bits} | (${index} & 0u))`;
  };
  const go = (e: Expr): string => {
    switch (e.kind) {
      case 'num': return literal(e.value);
      case 'var': return variable(e.space, e.index);
      case 'neg': return `(-${go(e.arg)})`;
      case 'bin': return `(${go(e.lhs)} ${e.op} ${go(e.rhs)})`;
      case 'call': {
        const fn = PROGRAM_FNS[e.fn];
        if (!fn) throw new Error(`program ${JSON.stringify(src)}: unknown function '${e.fn}'`);
        const attrs: Record<string, number | string> = { ...(fn.attrs as Record<string, string> | undefined) };
        fn.literals.forEach((name, k) => {
          const arg = e.args[k + 1];
          if (arg?.kind !== 'num') throw new Error(`program ${JSON.stringify(src)}: ${e.fn}'s argument '${name}' must be a number`);
          attrs[name] = arg.value;
        });
        const key = `${fn.op}:${JSON.stringify(attrs)}`;
        let name = fns.get(key);
        if (!name) {
          name = `p_${e.fn}_${fns.size}`;
          fns.set(key, name);
          const u = unaryFunction(name, fn.op, attrs);
          need(u.helpers);
          need([u.fn]);
        }
        return `${name}(${go(e.args[0])})`;
      }
    }
  };
  const expr = go(parseProgram(src));
  return { expr, helpers };
}
