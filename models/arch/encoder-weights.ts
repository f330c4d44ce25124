// Where each BERT weight lives in an HF checkpoint, as weight sources (ir/weights.ts).
// BertModel saves bare names (`embeddings.…`); BertForPreTraining, BertForSequenceClassification
// and friends save the same tensors under `bert.`. Checkpoints converted from the original
// TensorFlow code name LayerNorm parameters `gamma`/`beta`, which HF renames on load; so do we.
import { type WeightExpr, weightTensor } from '../../ir/weights.js';
import { familyTraits } from '../config/families/table.js';
import { ConfigError, type ModelConfig } from '../config/model-config.js';

/** A dense layer: weight [out, in] and bias [out]. */
export interface Linear {
  readonly weight: WeightExpr;
  readonly bias: WeightExpr;
}

/** A LayerNorm: scale and shift over the hidden dim. */
export interface Norm {
  readonly weight: WeightExpr;
  readonly bias: WeightExpr;
}

export interface EncoderLayerWeights {
  readonly q: Linear;
  readonly k: Linear;
  readonly v: Linear;
  /** attention.output.dense */
  readonly o: Linear;
  /** attention.output.LayerNorm (post-LN: applied to x + o). */
  readonly attnNorm: Norm;
  /** intermediate.dense */
  readonly up: Linear;
  /** output.dense */
  readonly down: Linear;
  /** output.LayerNorm */
  readonly ffnNorm: Norm;
}

export interface EncoderWeights {
  readonly wordEmbed: WeightExpr;
  readonly posEmbed: WeightExpr;
  /** Absent when the config has no token types (type_vocab_size 0). */
  readonly typeEmbed?: WeightExpr;
  readonly embedNorm: Norm;
  readonly layers: readonly EncoderLayerWeights[];
  /** tanh(dense(h[:, 0])); sentence-transformers exports sometimes drop it. */
  readonly pooler?: Linear;
  /** The sequence-classification head on the pooler output (cross-encoders). */
  readonly classifier?: Linear;
}

const t = weightTensor;

/** HF BERT state_dict names. `has` tells which tensors exist (prefix, gamma/beta, optional heads). */
export function hfEncoderWeights(c: ModelConfig, has: (name: string) => boolean): EncoderWeights {
  if (familyTraits(c.family).hf.tensors.scheme !== 'encoder') throw new ConfigError(c.architecture, `a ${c.family} checkpoint holds no BERT encoder`);
  const pre = !has('embeddings.word_embeddings.weight') && has('bert.embeddings.word_embeddings.weight') ? 'bert.' : '';
  const linear = (p: string): Linear => ({ weight: t(`${pre}${p}.weight`), bias: t(`${pre}${p}.bias`) });
  // Detected per tensor: a missing norm is then reported under its modern name.
  const norm = (p: string): Norm => {
    const old = !has(`${pre}${p}.weight`) && has(`${pre}${p}.gamma`);
    return old ? { weight: t(`${pre}${p}.gamma`), bias: t(`${pre}${p}.beta`) } : { weight: t(`${pre}${p}.weight`), bias: t(`${pre}${p}.bias`) };
  };
  const layers = Array.from({ length: c.numLayers }, (_, i): EncoderLayerWeights => {
    const p = `encoder.layer.${i}`;
    return {
      q: linear(`${p}.attention.self.query`),
      k: linear(`${p}.attention.self.key`),
      v: linear(`${p}.attention.self.value`),
      o: linear(`${p}.attention.output.dense`),
      attnNorm: norm(`${p}.attention.output.LayerNorm`),
      up: linear(`${p}.intermediate.dense`),
      down: linear(`${p}.output.dense`),
      ffnNorm: norm(`${p}.output.LayerNorm`),
    };
  });
  // A cross-encoder needs the pooler and its one-label head, so they are always named (missing
  // ones are then reported); a plain encoder's pooler is optional.
  const crossEncoder = c.task === 'cross-encoder';
  return {
    wordEmbed: t(`${pre}embeddings.word_embeddings.weight`),
    posEmbed: t(`${pre}embeddings.position_embeddings.weight`),
    ...(c.typeVocabSize > 0 ? { typeEmbed: t(`${pre}embeddings.token_type_embeddings.weight`) } : {}),
    embedNorm: norm('embeddings.LayerNorm'),
    layers,
    ...(crossEncoder || has(`${pre}pooler.dense.weight`) ? { pooler: linear('pooler.dense') } : {}),
    // The head sits outside the `bert.` module: BertForSequenceClassification saves `classifier.*`.
    ...(crossEncoder ? { classifier: { weight: t('classifier.weight'), bias: t('classifier.bias') } } : {}),
  };
}
