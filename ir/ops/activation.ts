// Unary activations and scalings. Inputs may be any float dtype; results are f32, computed in f64
// and rounded once (so the reference is at least as accurate as torch's float32 kernels).
import { unary } from './elementwise.js';
import { erf } from './erf.js';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

function geluTanh(x: number): number {
  // gelu_new / gelu_pytorch_tanh (GPT-2, Gemma).
  return 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
}

function geluErf(x: number): number {
  // The exact GELU, x·Φ(x) (BERT's "gelu").
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}

unary('gelu', 'x · Φ(x); approximate = "tanh" is the GPT-2 / gelu_pytorch_tanh form',
  { approximate: { type: 'string', default: 'none', oneOf: ['none', 'tanh'] } },
  (x, a) => (a.approximate === 'tanh' ? geluTanh(x) : geluErf(x)));

unary('tanh', 'tanh(x)', {}, (x) => Math.tanh(x));

// 1/(1+e^(−x)) overflows gracefully: e^(−x) = ∞ gives 0, which is the limit.
unary('sigmoid', '1 / (1 + e^(−x))', {}, (x) => 1 / (1 + Math.exp(-x)));

unary('exp', 'e^x', {}, (x) => Math.exp(x));

unary('relu', 'max(x, 0)', {}, (x) => (x > 0 ? x : 0));

unary('neg', '−x', {}, (x) => -x);

// Gemma-2 caps attention scores and final logits this way; cap must be positive.
unary('softcap', 'cap · tanh(x / cap)', { cap: { type: 'float' } }, (x, a) => {
  const cap = a.cap as number;
  return cap * Math.tanh(x / cap);
}, (a) => ((a.cap as number) > 0 ? undefined : `attribute 'cap' must be > 0, got ${a.cap as number}`));

unary('scale', 'x · factor', { factor: { type: 'float' } }, (x, a) => x * (a.factor as number));
