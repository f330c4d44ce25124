// The unary elementwise ops as WGSL functions, shared by the unary kernels and fused programs. The
// expressions come from each op's unary function (ir/op.ts); the helpers they name are here.
import type { Attrs } from '../../ir/attrs.js';
import { fillHoles, unaryFunctionOf } from '../../ir/op.js';
import { f32Lit } from './builder.js';
import { ERF_WGSL, SIGMOID_WGSL, TANH_WGSL } from './math.js';

/** The WGSL helpers a unary function's expression may call, by function name. */
const HELPERS: Readonly<Record<string, string>> = {
  erf_f32: ERF_WGSL,
  sigmoid_f32: SIGMOID_WGSL,
  tanh_f32: TANH_WGSL,
};

/** A unary op as a WGSL function `fn <name>(v: f32) -> f32`, with the helpers it needs. */
export function unaryFunction(name: string, op: string, a: Attrs): { fn: string; helpers: string[] } {
  const f = unaryFunctionOf(op, a);
  if (!f) throw new Error(`'${op}' is not a unary elementwise op`);
  const helpers = (f.wgsl.helpers ?? []).map((h) => {
    const src = HELPERS[h];
    if (src === undefined) throw new Error(`op '${op}': no WGSL helper '${h}' (have: ${Object.keys(HELPERS).join(', ')})`);
    return src;
  });
  const expr = fillHoles(f.wgsl.expr, { ...f.constants, ...a }, f32Lit);
  return { fn: `fn ${name}(v: f32) -> f32 { return ${expr}; }`, helpers };
}
