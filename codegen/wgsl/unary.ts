// The unary elementwise ops as WGSL functions, shared by the unary kernels and fused programs.
import type { Attrs } from '../../ir/attrs.js';
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
