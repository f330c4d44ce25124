// Elementwise programs (ir/ops/program.ts: `silu(x0) * x1`, matmul epilogues over acc0…) as WGSL
// expressions. Every operator and function rounds to f32 in WGSL as in the reference; functions
// become the same WGSL helpers the standalone unary kernels use.
import { type Expr, parseProgram, resolveCall } from '../../ir/ops/program.js';
import { f32Lit } from './builder.js';
import { unaryFunction } from './unary.js';

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
        const { op, attrs } = resolveCall(e, src);
        const key = `${op}:${JSON.stringify(attrs)}`;
        let name = fns.get(key);
        if (!name) {
          name = `p_${e.fn}_${fns.size}`;
          fns.set(key, name);
          const u = unaryFunction(name, op, attrs);
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
