// The columns of the family table (./table.ts): everything that tells one architecture family
// from another, as data. The config readers and the weight layouts read a family's row; no other
// code compares family names.
import type { Activation, ModelTask } from '../model-config.js';

/**
 * The config.json quantities the HF reader knows, under transformers' usual (Llama) names, with
 * their types. `norm_eps` stands for the family's epsilon key (rms_norm_eps, layer_norm_eps, …).
 */
export interface HfValues {
  readonly vocab_size: number;
  readonly hidden_size: number;
  readonly num_hidden_layers: number;
  readonly num_attention_heads: number;
  readonly num_key_value_heads: number;
  readonly head_dim: number;
  readonly intermediate_size: number;
  readonly max_position_embeddings: number;
  readonly norm_eps: number;
  readonly hidden_act: string;
  readonly rope_theta: number;
  readonly partial_rotary_factor: number;
  readonly tie_word_embeddings: boolean;
  readonly sliding_window: number;
  readonly use_sliding_window: boolean;
  readonly max_window_layers: number;
  readonly query_pre_attn_scalar: number;
  readonly attn_logit_softcapping: number;
  readonly final_logit_softcapping: number;
  readonly type_vocab_size: number;
}
export type HfKey = keyof HfValues;

/** How an HF checkpoint names and lays out a decoder's tensors (models/arch/decoder-weights.ts). */
export type HfTensorLayout =
  /** Llama's model.layers.{i}.self_attn.q_proj …; Phi-3 fuses q/k/v rows into qkv_proj and gate/up rows into gate_up_proj. */
  | { readonly scheme: 'layers'; readonly fusedQkv: boolean; readonly fusedGateUp: boolean }
  /** GPT-2's transformer.h.{i}.…: Conv1D weights stored [in, out]; c_attn's columns are [q | k | v]. */
  | { readonly scheme: 'conv1d' }
  /** BERT's embeddings.… and encoder.layer.{i}.… (models/arch/encoder-weights.ts). */
  | { readonly scheme: 'encoder' };

/** The transformers config class of a family. */
export interface HfConfigClass {
  /** config.json "model_type". */
  readonly modelType: string;
  /** The model classes ("architectures") we know, and what each computes; others get the row's task. */
  readonly architectures: Readonly<Record<string, ModelTask>>;
  /** The config.json key(s) of a quantity where the class renames it (transformers' attribute_map); first present wins. */
  readonly keys: Partial<Record<HfKey, readonly string[]>> & { readonly norm_eps: readonly string[] };
  /** The class's value when config.json omits a key; a size without one is required. */
  readonly defaults: Partial<HfValues>;
  /** GPT-2's n_inner: absent means this many times hidden_size. */
  readonly intermediatePerHidden?: number;
  readonly tensors: HfTensorLayout;
}

/** How llama.cpp converts the family. */
export interface GgufArchitecture {
  /** general.architecture, which is also the prefix of the family's keys ("llama.block_count"). */
  readonly architecture: string;
  /** attn_q/attn_k rows permuted into Meta's interleaved RoPE pairs (llama.cpp's "NORM" rope type); false: HF's rotate-half ("NEOX"). */
  readonly interleavedRope: boolean;
}

/** true/false: always/never; a config.json key name: that boolean key switches it (absent: off). */
export type BiasRule = boolean | 'attention_bias' | 'mlp_bias';

/** Which layers use the config's sliding window. */
export type WindowPattern =
  /** None: a sliding_window key is ignored, as the HF model ignores it. */
  | 'none'
  /** Every layer slides when the config sets a window (Mistral). */
  | 'every-layer'
  /** Gemma-2: layer_types, else the even layers slide. */
  | 'alternating'
  /** Qwen2/3: only with use_sliding_window, and then only layers ≥ max_window_layers. */
  | 'after-max-window-layers';

export type AttnScaleRule =
  /** 1/√head_dim. */
  | 'head-dim'
  /** Gemma-2: 1/√query_pre_attn_scalar. */
  | 'query-pre-attn-scalar'
  /** GPT-2: 1/√head_dim, or 1 when scale_attn_weights is false. */
  | 'scale-attn-weights';

export interface FamilyTraits {
  /** What a checkpoint computes unless its architecture class says otherwise. */
  readonly task: ModelTask;
  readonly hf: HfConfigClass;
  readonly gguf: GgufArchitecture;
  readonly norm: {
    readonly kind: 'rms' | 'layer';
    /** pre: before attention and MLP; post: after each residual add (BERT); sandwich: pre plus a norm on each block's output (Gemma-2). */
    readonly placement: 'pre' | 'post' | 'sandwich';
    /** 1: HF stores w and the model scales by (1 + w) (Gemma); llama.cpp's converter adds the 1 itself. */
    readonly weightOffset: 0 | 1;
  };
  /** RoPE, or learned absolute position embeddings. */
  readonly positions: 'rope' | 'learned';
  /** The activations the family's graph builder implements. */
  readonly activations: readonly Activation[];
  /** down(act(gate)·up) instead of down(act(up)). */
  readonly gatedMlp: boolean;
  readonly bias: { readonly qkv: BiasRule; readonly o: BiasRule; readonly mlp: BiasRule };
  /** RMSNorm over head_dim on q and k before RoPE (Qwen3). */
  readonly qkNorm: boolean;
  /** Embeddings multiplied by √hidden_size, rounded to f32 (Gemma). */
  readonly embedScale: 'none' | 'sqrt-hidden';
  readonly attnScale: AttnScaleRule;
  /** tanh softcaps on attention scores and final logits (Gemma-2). */
  readonly softcaps: boolean;
  readonly windows: WindowPattern;
  /** Token type (segment) embeddings (BERT). */
  readonly tokenTypes: boolean;
}
