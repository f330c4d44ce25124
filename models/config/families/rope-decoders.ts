// Rows of the family table for the RoPE decoders: Llama and the families built like it. Each row
// spreads LLAMA_LIKE and states where it differs. Llama-3 and Phi-3 long-context checkpoints are
// these rows plus the config's rope_scaling (llama3, longrope), not families of their own.
import type { Activation } from '../model-config.js';
import type { FamilyTraits, HfConfigClass } from './traits.js';

const ANY_ACTIVATION: readonly Activation[] = ['silu', 'gelu', 'gelu_tanh'];
const LLAMA_TENSORS = { scheme: 'layers', fusedQkv: false, fusedGateUp: false } as const;
const RMS_KEYS: HfConfigClass['keys'] = { norm_eps: ['rms_norm_eps'] };
/** Defaults every transformers RoPE decoder class here shares. */
const ROPE_DEFAULTS = { rope_theta: 10000, partial_rotary_factor: 1, norm_eps: 1e-6, hidden_act: 'silu', tie_word_embeddings: false } as const;

const LLAMA_LIKE: Omit<FamilyTraits, 'hf' | 'gguf'> = {
  task: 'decoder',
  norm: { kind: 'rms', placement: 'pre', weightOffset: 0 },
  positions: 'rope',
  activations: ANY_ACTIVATION,
  gatedMlp: true,
  bias: { qkv: 'attention_bias', o: 'attention_bias', mlp: 'mlp_bias' },
  qkNorm: false,
  embedScale: 'none',
  attnScale: 'head-dim',
  softcaps: false,
  windows: 'every-layer',
  tokenTypes: false,
};

export const LLAMA: FamilyTraits = {
  ...LLAMA_LIKE,
  hf: {
    modelType: 'llama', architectures: { LlamaForCausalLM: 'decoder' }, keys: RMS_KEYS,
    defaults: { ...ROPE_DEFAULTS, max_position_embeddings: 2048 }, tensors: LLAMA_TENSORS,
  },
  gguf: { architecture: 'llama', interleavedRope: true },
};

export const MISTRAL: FamilyTraits = {
  ...LLAMA_LIKE,
  hf: {
    modelType: 'mistral', architectures: { MistralForCausalLM: 'decoder' }, keys: RMS_KEYS,
    defaults: { ...ROPE_DEFAULTS, max_position_embeddings: 4096 * 32, sliding_window: 4096 }, tensors: LLAMA_TENSORS,
  },
  gguf: { architecture: 'mistral', interleavedRope: true },
};

const QWEN_DEFAULTS = { ...ROPE_DEFAULTS, max_position_embeddings: 32768, sliding_window: 4096, use_sliding_window: false, max_window_layers: 28 } as const;

export const QWEN2: FamilyTraits = {
  ...LLAMA_LIKE,
  hf: { modelType: 'qwen2', architectures: { Qwen2ForCausalLM: 'decoder' }, keys: RMS_KEYS, defaults: QWEN_DEFAULTS, tensors: LLAMA_TENSORS },
  gguf: { architecture: 'qwen2', interleavedRope: false },
  // q/k/v projections always carry a bias, o_proj never.
  bias: { qkv: true, o: false, mlp: 'mlp_bias' },
  windows: 'after-max-window-layers',
};

export const QWEN3: FamilyTraits = {
  ...LLAMA_LIKE,
  hf: { modelType: 'qwen3', architectures: { Qwen3ForCausalLM: 'decoder' }, keys: RMS_KEYS, defaults: QWEN_DEFAULTS, tensors: LLAMA_TENSORS },
  gguf: { architecture: 'qwen3', interleavedRope: false },
  qkNorm: true,
  windows: 'after-max-window-layers',
};

export const PHI3: FamilyTraits = {
  ...LLAMA_LIKE,
  hf: {
    modelType: 'phi3', architectures: { Phi3ForCausalLM: 'decoder' }, keys: RMS_KEYS,
    defaults: { ...ROPE_DEFAULTS, norm_eps: 1e-5, max_position_embeddings: 4096 },
    tensors: { scheme: 'layers', fusedQkv: true, fusedGateUp: true },
  },
  gguf: { architecture: 'phi3', interleavedRope: false },
};

const GEMMA_HF = {
  keys: { ...RMS_KEYS, hidden_act: ['hidden_activation', 'hidden_act'] },
  tensors: LLAMA_TENSORS,
} as const;
const GEMMA_DEFAULTS = { ...ROPE_DEFAULTS, max_position_embeddings: 8192, hidden_act: 'gelu_pytorch_tanh', tie_word_embeddings: true } as const;

export const GEMMA: FamilyTraits = {
  ...LLAMA_LIKE,
  hf: { ...GEMMA_HF, modelType: 'gemma', architectures: { GemmaForCausalLM: 'decoder' }, defaults: GEMMA_DEFAULTS },
  gguf: { architecture: 'gemma', interleavedRope: false },
  norm: { kind: 'rms', placement: 'pre', weightOffset: 1 },
  embedScale: 'sqrt-hidden',
  windows: 'none',
};

export const GEMMA2: FamilyTraits = {
  ...GEMMA,
  hf: {
    ...GEMMA_HF, modelType: 'gemma2', architectures: { Gemma2ForCausalLM: 'decoder' },
    defaults: { ...GEMMA_DEFAULTS, query_pre_attn_scalar: 256, attn_logit_softcapping: 50, final_logit_softcapping: 30, sliding_window: 4096 },
  },
  gguf: { architecture: 'gemma2', interleavedRope: false },
  norm: { kind: 'rms', placement: 'sandwich', weightOffset: 1 },
  attnScale: 'query-pre-attn-scalar',
  softcaps: true,
  windows: 'alternating',
};
