// Rows of the family table for the LayerNorm models with learned absolute positions: GPT-2 and
// BERT (whose cross-encoder variant is the same row with BertForSequenceClassification).
import type { FamilyTraits } from './traits.js';

export const GPT2: FamilyTraits = {
  task: 'decoder',
  hf: {
    modelType: 'gpt2',
    architectures: { GPT2LMHeadModel: 'decoder' },
    keys: {
      hidden_size: ['n_embd'], num_attention_heads: ['n_head'], num_hidden_layers: ['n_layer'], max_position_embeddings: ['n_positions'],
      intermediate_size: ['n_inner'], norm_eps: ['layer_norm_epsilon'], hidden_act: ['activation_function'],
    },
    defaults: { max_position_embeddings: 1024, norm_eps: 1e-5, hidden_act: 'gelu_new', tie_word_embeddings: true },
    intermediatePerHidden: 4,
    tensors: { scheme: 'conv1d' },
  },
  gguf: { architecture: 'gpt2', interleavedRope: false },
  norm: { kind: 'layer', placement: 'pre', weightOffset: 0 },
  positions: 'learned',
  activations: ['silu', 'gelu', 'gelu_tanh'],
  gatedMlp: false,
  bias: { qkv: true, o: true, mlp: true },
  qkNorm: false,
  embedScale: 'none',
  attnScale: 'scale-attn-weights',
  softcaps: false,
  windows: 'none',
  tokenTypes: false,
};

export const BERT: FamilyTraits = {
  task: 'encoder',
  hf: {
    modelType: 'bert',
    architectures: { BertModel: 'encoder', BertForMaskedLM: 'encoder', BertForPreTraining: 'encoder', BertForSequenceClassification: 'cross-encoder' },
    keys: { norm_eps: ['layer_norm_eps'] },
    // No LM head is built, so tied embeddings mean nothing here.
    defaults: { max_position_embeddings: 512, norm_eps: 1e-12, hidden_act: 'gelu', type_vocab_size: 2, tie_word_embeddings: false },
    tensors: { scheme: 'encoder' },
  },
  gguf: { architecture: 'bert', interleavedRope: false },
  norm: { kind: 'layer', placement: 'post', weightOffset: 0 },
  positions: 'learned',
  // models/arch/encoder.ts builds GELU only.
  activations: ['gelu', 'gelu_tanh'],
  gatedMlp: false,
  bias: { qkv: true, o: true, mlp: true },
  qkNorm: false,
  embedScale: 'none',
  attnScale: 'head-dim',
  softcaps: false,
  windows: 'none',
  tokenTypes: true,
};
