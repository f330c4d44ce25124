// Unary activations and scalings, each declared once as a unary function (ir/op.ts): its reference,
// its spelling in programs, and the WGSL and AssemblyScript expressions the code generators emit.
// Inputs may be any float dtype; results are f32, computed in f64 and rounded once (so the
// reference is at least as accurate as torch's float32 kernels).
import { unary } from './elementwise.js';
import { erf } from './erf.js';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_CUBIC = 0.044715;

unary('silu', 'x · sigmoid(x)', {}, [{
  reference: (x) => x / (1 + Math.exp(-x)),
  program: { call: 'silu' },
  wgsl: { expr: 'v * sigmoid_f32(v)', helpers: ['sigmoid_f32'] },
  wasm: { expr: 'f32x4.div(v, f32x4.add(f32x4.splat(1.0), _t_exp4(f32x4.neg(v))))' },
}]);

unary('gelu', 'x · Φ(x); approximate = "tanh" is the GPT-2 / gelu_pytorch_tanh form',
  { approximate: { type: 'string', default: 'none', oneOf: ['none', 'tanh'] } }, [
    {
      // The exact GELU, x·Φ(x) (BERT's "gelu").
      when: { approximate: 'none' },
      reference: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
      program: { call: 'gelu' },
      constants: { sqrt1_2: Math.SQRT1_2 },
      wgsl: { expr: '0.5 * v * (1.0 + erf_f32(v * {sqrt1_2}))', helpers: ['erf_f32'] },
      wasm: { expr: '_t_gelu_erf4(v)' },
    },
    {
      // gelu_new / gelu_pytorch_tanh (GPT-2, Gemma).
      when: { approximate: 'tanh' },
      reference: (x) => 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + GELU_CUBIC * x * x * x))),
      program: { call: 'gelu_tanh' },
      constants: { sqrt_2_over_pi: SQRT_2_OVER_PI, cubic: GELU_CUBIC },
      wgsl: { expr: '0.5 * v * (1.0 + tanh_f32({sqrt_2_over_pi} * (v + {cubic} * v * v * v)))', helpers: ['tanh_f32'] },
      wasm: { expr: '_t_gelu_tanh4(v)' },
    },
  ]);

unary('tanh', 'tanh(x)', {}, [{
  reference: (x) => Math.tanh(x),
  program: { call: 'tanh' },
  wgsl: { expr: 'tanh_f32(v)', helpers: ['tanh_f32'] },
  wasm: { expr: '_t_tanh4(v)' },
}]);

// 1/(1+e^(−x)) overflows gracefully: e^(−x) = ∞ gives 0, which is the limit.
unary('sigmoid', '1 / (1 + e^(−x))', {}, [{
  reference: (x) => 1 / (1 + Math.exp(-x)),
  program: { call: 'sigmoid' },
  wgsl: { expr: 'sigmoid_f32(v)', helpers: ['sigmoid_f32'] },
  wasm: { expr: '_t_sigmoid4(v)' },
}]);

unary('exp', 'e^x', {}, [{
  reference: (x) => Math.exp(x),
  program: { call: 'exp' },
  wgsl: { expr: 'exp(v)' },
  wasm: { expr: '_t_exp4(v)' },
}]);

// NaN and −0 give 0 on every target: WGSL selects (it leaves max(NaN, 0) open), and pmax(v, 0) is
// `0 < v ? v : 0`.
unary('relu', 'max(x, 0)', {}, [{
  reference: (x) => (x > 0 ? x : 0),
  program: { call: 'relu' },
  wgsl: { expr: 'select(0.0, v, v > 0.0)' },
  wasm: { expr: 'f32x4.pmax(v, f32x4.splat(0.0))' },
}]);

unary('neg', '−x', {}, [{
  reference: (x) => -x,
  program: { negate: true },
  wgsl: { expr: '-v' },
  wasm: { expr: 'f32x4.neg(v)' },
}]);

// Gemma-2 caps attention scores and final logits this way; cap must be positive.
unary('softcap', 'cap · tanh(x / cap)', { cap: { type: 'float' } }, [{
  reference: (x, a) => (a.cap as number) * Math.tanh(x / (a.cap as number)),
  program: { call: 'softcap', literals: ['cap'] },
  wgsl: { expr: '{cap} * tanh_f32(v / {cap})', helpers: ['tanh_f32'] },
  wasm: { expr: 'f32x4.mul(f32x4.splat({cap}), _t_tanh4(f32x4.div(v, f32x4.splat({cap}))))' },
}], (a) => ((a.cap as number) > 0 ? undefined : `attribute 'cap' must be > 0, got ${a.cap as number}`));

// In programs `x * factor`, which rounds exactly as the op does.
unary('scale', 'x · factor', { factor: { type: 'float' } }, [{
  reference: (x, a) => x * (a.factor as number),
  program: { multiplyBy: 'factor' },
  wgsl: { expr: 'v * {factor}' },
  wasm: { expr: 'f32x4.mul(v, f32x4.splat({factor}))' },
}]);
