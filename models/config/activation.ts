// transformers' activation names (hidden_act, hidden_activation, activation_function) → ours.
import type { Activation } from './model-config.js';

/** Every tanh-approximated GELU transformers names (gelu_new, gelu_pytorch_tanh, gelu_fast, …) is gelu_tanh here. */
export function activationOfHf(name: string): Activation | undefined {
  if (name === 'silu' || name === 'swish') return 'silu';
  if (name === 'gelu') return 'gelu';
  return name.startsWith('gelu') ? 'gelu_tanh' : undefined;
}

/** The transformers names that mean `a`, for error messages. */
export function hfActivationNames(a: Activation): string {
  return { silu: 'silu, swish', gelu: 'gelu', gelu_tanh: 'gelu_new, gelu_pytorch_tanh' }[a];
}
