// Where each decoder weight lives in a checkpoint, as weight sources (ir/weights.ts). One naming
// scheme per file layout: HF state_dict names, GGUF (llama.cpp) names, llama2.c's Meta names.
import { type WeightExpr, weightCall, weightTensor } from '../../ir/weights.js';
import { familyTraits } from '../config/families/table.js';
import type { HfTensorLayout } from '../config/families/traits.js';
import { ConfigError, type ModelConfig } from '../config/model-config.js';

export interface DecoderLayerWeights {
  readonly attnNorm: WeightExpr;
  readonly attnNormBias?: WeightExpr;
  readonly q: WeightExpr;
  readonly k: WeightExpr;
  readonly v: WeightExpr;
  readonly qBias?: WeightExpr;
  readonly kBias?: WeightExpr;
  readonly vBias?: WeightExpr;
  readonly o: WeightExpr;
  readonly oBias?: WeightExpr;
  readonly qNorm?: WeightExpr;
  readonly kNorm?: WeightExpr;
  readonly postAttnNorm?: WeightExpr;
  readonly ffnNorm: WeightExpr;
  readonly ffnNormBias?: WeightExpr;
  readonly gate?: WeightExpr;
  readonly up: WeightExpr;
  readonly upBias?: WeightExpr;
  readonly down: WeightExpr;
  readonly downBias?: WeightExpr;
  readonly postFfnNorm?: WeightExpr;
}

export interface DecoderWeights {
  readonly embed: WeightExpr;
  readonly posEmbed?: WeightExpr;
  readonly layers: readonly DecoderLayerWeights[];
  readonly finalNorm: WeightExpr;
  readonly finalNormBias?: WeightExpr;
  readonly lmHead: WeightExpr;
}

const t = weightTensor;
const rows = (src: WeightExpr, start: number, end: number) => weightCall('slice', [src], { axis: 0, start, end });

/** HF transformers state_dict names for every decoder family, by its row's tensor layout. `has` tells which tensors exist. */
export function hfDecoderWeights(c: ModelConfig, has: (name: string) => boolean): DecoderWeights {
  const layout = familyTraits(c.family).hf.tensors;
  switch (layout.scheme) {
    case 'conv1d': return gpt2Weights(c, has);
    case 'layers': return llamaWeights(c, has, layout);
    case 'encoder': throw new ConfigError(c.architecture, `a ${c.family} checkpoint holds an encoder, not a decoder`);
  }
}

/** model.layers.{i}.…; the layout says which projections are fused. */
function llamaWeights(c: ModelConfig, has: (name: string) => boolean, layout: Extract<HfTensorLayout, { scheme: 'layers' }>): DecoderWeights {
  const qDim = c.numHeads * c.headDim;
  const kvDim = c.numKvHeads * c.headDim;
  const layers = Array.from({ length: c.numLayers }, (_, i): DecoderLayerWeights => {
    const p = `model.layers.${i}`;
    const a = `${p}.self_attn`;
    // Fused projections: qkv_proj rows are [q | k | v], gate_up_proj rows are [gate | up].
    const qkv = t(`${a}.qkv_proj.weight`);
    const gu = t(`${p}.mlp.gate_up_proj.weight`);
    const [q, k, v] = layout.fusedQkv
      ? [rows(qkv, 0, qDim), rows(qkv, qDim, qDim + kvDim), rows(qkv, qDim + kvDim, qDim + 2 * kvDim)]
      : [t(`${a}.q_proj.weight`), t(`${a}.k_proj.weight`), t(`${a}.v_proj.weight`)];
    const [gate, up] = layout.fusedGateUp
      ? [rows(gu, 0, c.intermediateSize), rows(gu, c.intermediateSize, 2 * c.intermediateSize)]
      : [t(`${p}.mlp.gate_proj.weight`), t(`${p}.mlp.up_proj.weight`)];
    return {
      attnNorm: t(`${p}.input_layernorm.weight`),
      q, k, v,
      ...(c.bias.qkv ? { qBias: t(`${a}.q_proj.bias`), kBias: t(`${a}.k_proj.bias`), vBias: t(`${a}.v_proj.bias`) } : {}),
      o: t(`${a}.o_proj.weight`),
      ...(c.bias.o ? { oBias: t(`${a}.o_proj.bias`) } : {}),
      ...(c.qkNorm ? { qNorm: t(`${a}.q_norm.weight`), kNorm: t(`${a}.k_norm.weight`) } : {}),
      // Sandwich norms (Gemma-2) rename the four: post_attention_layernorm is an output norm there.
      ...(c.postNorms ? { postAttnNorm: t(`${p}.post_attention_layernorm.weight`), postFfnNorm: t(`${p}.post_feedforward_layernorm.weight`) } : {}),
      ffnNorm: t(c.postNorms ? `${p}.pre_feedforward_layernorm.weight` : `${p}.post_attention_layernorm.weight`),
      gate, up,
      down: t(`${p}.mlp.down_proj.weight`),
      ...(c.bias.mlp ? { upBias: t(`${p}.mlp.up_proj.bias`), downBias: t(`${p}.mlp.down_proj.bias`) } : {}),
    };
  });
  // Tied checkpoints store the shared matrix once, under either name.
  const embed = t(has('model.embed_tokens.weight') || !has('lm_head.weight') ? 'model.embed_tokens.weight' : 'lm_head.weight');
  return {
    embed,
    layers,
    finalNorm: t('model.norm.weight'),
    lmHead: has('lm_head.weight') ? t('lm_head.weight') : embed,
  };
}

/** GPT-2 Conv1D weights are [in, out]: transposed here; c_attn's columns are [q | k | v]. */
function gpt2Weights(c: ModelConfig, has: (name: string) => boolean): DecoderWeights {
  const pre = has('transformer.wte.weight') ? 'transformer.' : '';
  const d = c.hiddenSize;
  const cols = (src: WeightExpr, start: number, end: number) => weightCall('transpose', [weightCall('slice', [src], { axis: 1, start, end })]);
  const layers = Array.from({ length: c.numLayers }, (_, i): DecoderLayerWeights => {
    const p = `${pre}h.${i}`;
    const w = t(`${p}.attn.c_attn.weight`);
    const b = t(`${p}.attn.c_attn.bias`);
    return {
      attnNorm: t(`${p}.ln_1.weight`), attnNormBias: t(`${p}.ln_1.bias`),
      q: cols(w, 0, d), k: cols(w, d, 2 * d), v: cols(w, 2 * d, 3 * d),
      qBias: rows(b, 0, d), kBias: rows(b, d, 2 * d), vBias: rows(b, 2 * d, 3 * d),
      o: weightCall('transpose', [t(`${p}.attn.c_proj.weight`)]), oBias: t(`${p}.attn.c_proj.bias`),
      ffnNorm: t(`${p}.ln_2.weight`), ffnNormBias: t(`${p}.ln_2.bias`),
      up: weightCall('transpose', [t(`${p}.mlp.c_fc.weight`)]), upBias: t(`${p}.mlp.c_fc.bias`),
      down: weightCall('transpose', [t(`${p}.mlp.c_proj.weight`)]), downBias: t(`${p}.mlp.c_proj.bias`),
    };
  });
  const embed = t(`${pre}wte.weight`);
  return {
    embed,
    posEmbed: t(`${pre}wpe.weight`),
    layers,
    finalNorm: t(`${pre}ln_f.weight`),
    finalNormBias: t(`${pre}ln_f.bias`),
    lmHead: has('lm_head.weight') ? t('lm_head.weight') : embed,
  };
}

/** llama.cpp GGUF names for the RoPE decoders, fused or not as llama.cpp converts them. */
export function ggufDecoderWeights(c: ModelConfig, has: (name: string) => boolean): DecoderWeights {
  const qDim = c.numHeads * c.headDim;
  const kvDim = c.numKvHeads * c.headDim;
  const layers = Array.from({ length: c.numLayers }, (_, i): DecoderLayerWeights => {
    const p = `blk.${i}`;
    const fusedQkv = has(`${p}.attn_qkv.weight`);
    const qkv = t(`${p}.attn_qkv.weight`);
    // llama.cpp stores Phi-3's gate_up as one ffn_up of twice the width.
    const fusedGateUp = !has(`${p}.ffn_gate.weight`) && c.gatedMlp;
    const up2 = t(`${p}.ffn_up.weight`);
    return {
      attnNorm: t(`${p}.attn_norm.weight`),
      q: fusedQkv ? rows(qkv, 0, qDim) : t(`${p}.attn_q.weight`),
      k: fusedQkv ? rows(qkv, qDim, qDim + kvDim) : t(`${p}.attn_k.weight`),
      v: fusedQkv ? rows(qkv, qDim + kvDim, qDim + 2 * kvDim) : t(`${p}.attn_v.weight`),
      ...(c.bias.qkv ? { qBias: t(`${p}.attn_q.bias`), kBias: t(`${p}.attn_k.bias`), vBias: t(`${p}.attn_v.bias`) } : {}),
      o: t(`${p}.attn_output.weight`),
      ...(c.qkNorm ? { qNorm: t(`${p}.attn_q_norm.weight`), kNorm: t(`${p}.attn_k_norm.weight`) } : {}),
      ...(c.postNorms ? { postAttnNorm: t(`${p}.post_attention_norm.weight`), postFfnNorm: t(`${p}.post_ffw_norm.weight`) } : {}),
      ffnNorm: t(`${p}.ffn_norm.weight`),
      gate: fusedGateUp ? rows(up2, 0, c.intermediateSize) : t(`${p}.ffn_gate.weight`),
      up: fusedGateUp ? rows(up2, c.intermediateSize, 2 * c.intermediateSize) : up2,
      down: t(`${p}.ffn_down.weight`),
    };
  });
  const embed = t('token_embd.weight');
  return { embed, layers, finalNorm: t('output_norm.weight'), lmHead: has('output.weight') ? t('output.weight') : embed };
}

/** llama2.c checkpoints, under the Meta names the llama2.c reader gives its slices. */
export function llama2cDecoderWeights(c: ModelConfig, has: (name: string) => boolean): DecoderWeights {
  const layers = Array.from({ length: c.numLayers }, (_, i): DecoderLayerWeights => {
    const p = `layers.${i}`;
    return {
      attnNorm: t(`${p}.attention_norm.weight`),
      q: t(`${p}.attention.wq.weight`), k: t(`${p}.attention.wk.weight`), v: t(`${p}.attention.wv.weight`),
      o: t(`${p}.attention.wo.weight`),
      ffnNorm: t(`${p}.ffn_norm.weight`),
      gate: t(`${p}.feed_forward.w1.weight`), up: t(`${p}.feed_forward.w3.weight`), down: t(`${p}.feed_forward.w2.weight`),
    };
  });
  const embed = t('tok_embeddings.weight');
  return { embed, layers, finalNorm: t('norm.weight'), lmHead: has('output.weight') ? t('output.weight') : embed };
}
