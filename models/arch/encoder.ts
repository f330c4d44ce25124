// The BERT encoder graph: one bidirectional pass over a right-padded batch of B rows of S tokens,
// with the heads an embedding model or a cross-encoder needs on top.
//
//   embeddings = LN(word[tokens] + type[token_types] + position[pos])
//   per layer:   h = LN(x + dense(attention(x, mask)));  x = LN(h + down(gelu(up(h))))   (post-LN)
//   heads:       pooler_output = tanh(dense(x[:, 0])), mean_pooled = Σ x·mask / Σ mask,
//                embeddings = mean_pooled / ‖mean_pooled‖, logits = classifier(pooler_output)
import { GraphBuilder } from '../../ir/builder.js';
import { assertCompilerAllowed } from '../../ir/compiler-guard.js';
import type { Graph, Value } from '../../ir/graph.js';
import type { WeightType } from '../../ir/weights.js';
import type { ModelConfig } from '../config/model-config.js';
import { paramDeclarer } from './params.js';
import type { EncoderWeights, Linear, Norm } from './encoder-weights.js';

export const ENCODER_OUTPUTS = ['last_hidden_state', 'pooler_output', 'mean_pooled', 'embeddings', 'logits', 'scores'] as const;
export type EncoderOutput = (typeof ENCODER_OUTPUTS)[number];

export interface EncoderGraphOptions {
  /** Heads to output; default: every one the weights allow. */
  readonly outputs?: readonly EncoderOutput[];
  /** Also output hidden.0 … hidden.L as HF's output_hidden_states: [0] after the embedding LayerNorm. */
  readonly hiddenStates?: boolean;
}

/** The outputs a checkpoint supports: the pooler and the classifier are optional. */
export function encoderOutputs(w: EncoderWeights): EncoderOutput[] {
  return ENCODER_OUTPUTS.filter((o) => (o === 'pooler_output' ? w.pooler : o === 'logits' || o === 'scores' ? w.classifier : true));
}

export function buildEncoderGraph(c: ModelConfig, w: EncoderWeights, leaf: (name: string) => WeightType, opts: EncoderGraphOptions = {}): Graph {
  assertCompilerAllowed(`building the ${c.family} graph`);
  if (c.task === 'decoder') throw new Error(`a ${c.family} decoder (${c.architecture}) has no encoder graph`);
  if (c.hiddenSize !== c.numHeads * c.headDim) throw new Error(`hidden_size ${c.hiddenSize} is not num_attention_heads ${c.numHeads} × head_dim ${c.headDim}`);
  const want = new Set(opts.outputs ?? encoderOutputs(w));
  if (want.has('pooler_output') && !w.pooler) throw new Error('pooler_output needs a pooler, and this checkpoint has no pooler.dense.weight');
  if ((want.has('logits') || want.has('scores')) && !w.classifier) throw new Error(`logits and scores need a classification head; this ${c.architecture} checkpoint has none`);

  const b = new GraphBuilder(c.family, ['B', 'S']);
  const B = b.sym('B');
  const S = b.sym('S');
  const D = c.hiddenSize;
  const sizes = `hidden_size ${D}, ${c.numHeads} heads × ${c.headDim}, intermediate_size ${c.intermediateSize}, vocab_size ${c.vocabSize}, max_position_embeddings ${c.maxPositions}, type_vocab_size ${c.typeVocabSize}`;
  const params = paramDeclarer(b, leaf, sizes);
  const param = params.param;
  const norm = (x: Value, n: Norm, name: string): Value =>
    b.op('layer_norm', [x, param(name, n.weight, [D]), param(`${name}.bias`, n.bias, [D])], { eps: c.norm.eps }, `${name}.out`);
  const linear = (x: Value, l: Linear, name: string, out: number, inn: number): Value =>
    b.op('matmul', [x, param(name, l.weight, [out, inn]), param(`${name}.bias`, l.bias, [out])], {}, `${name}.out`);
  const heads = (x: Value, name: string) => b.op('reshape', [x], { shape: [B, S, c.numHeads, c.headDim] }, name);

  const tokens = b.input('tokens', 'i32', [B, S]);
  const types = w.typeEmbed ? b.input('token_types', 'i32', [B, S]) : undefined;
  // Positions are shared by every row: right padding keeps each row's tokens at 0..len-1.
  const pos = b.input('pos', 'i32', [S]);
  const mask = b.input('mask', 'i32', [B, S]);

  // HF sums word + token type first, then position; the same order rounds the same way.
  let x = b.op('embedding', [param('embed', w.wordEmbed, [c.vocabSize, D]), tokens], {}, 'x.word');
  if (w.typeEmbed && types) x = b.op('add', [x, b.op('embedding', [param('type_embed', w.typeEmbed, [c.typeVocabSize, D]), types], {}, 'x.type')], {}, 'x.typed');
  x = b.op('add', [x, b.op('embedding', [param('pos_embed', w.posEmbed, [c.maxPositions, D]), pos], {}, 'x.pos')], {}, 'x.in');
  x = norm(x, w.embedNorm, 'embed_norm');
  if (opts.hiddenStates) b.output('hidden.0', x);

  const gelu = { approximate: c.activation === 'gelu_tanh' ? 'tanh' : 'none' };
  w.layers.forEach((lw, i) => {
    const l = `l${i}`;
    const q = heads(linear(x, lw.q, `${l}.wq`, D, D), `${l}.q`);
    const k = heads(linear(x, lw.k, `${l}.wk`, D, D), `${l}.k`);
    const v = heads(linear(x, lw.v, `${l}.wv`, D, D), `${l}.v`);
    // Bidirectional: every query sees every real key of its row; the mask hides the padding.
    const attn = b.op('attention', [q, k, v, mask], { scale: c.attnScale, causal: false }, `${l}.attn`);
    const merged = b.op('reshape', [attn], { shape: [B, S, D] }, `${l}.attn.merged`);
    const h = norm(b.op('add', [x, linear(merged, lw.o, `${l}.wo`, D, D)], {}, `${l}.resid.attn`), lw.attnNorm, `${l}.attn_norm`);
    const up = b.op('gelu', [linear(h, lw.up, `${l}.w_up`, c.intermediateSize, D)], gelu, `${l}.up.act`);
    x = norm(b.op('add', [h, linear(up, lw.down, `${l}.w_down`, D, c.intermediateSize)], {}, `${l}.resid.ffn`), lw.ffnNorm, `${l}.ffn_norm`);
    if (opts.hiddenStates) b.output(`hidden.${i + 1}`, x);
  });

  if (want.has('last_hidden_state')) b.output('last_hidden_state', x);
  if (want.has('mean_pooled') || want.has('embeddings')) {
    const mean = b.op('mean_pool', [x, mask], {}, 'mean_pooled');
    if (want.has('mean_pooled')) b.output('mean_pooled', mean);
    if (want.has('embeddings')) b.output('embeddings', b.op('l2_normalize', [mean], { eps: 1e-12 }, 'embeddings'));
  }
  if ((want.has('pooler_output') || want.has('logits') || want.has('scores')) && w.pooler) {
    const first = b.op('reshape', [b.op('slice', [x], { axis: 1, start: 0, end: 1 }, 'x.cls')], { shape: [B, D] }, 'x.cls.flat');
    const pooled = b.op('tanh', [linear(first, w.pooler, 'pooler', D, D)], {}, 'pooler_output');
    if (want.has('pooler_output')) b.output('pooler_output', pooled);
    if ((want.has('logits') || want.has('scores')) && w.classifier) {
      // One label (configFromHf refuses others): a relevance logit per row.
      const logits = linear(pooled, w.classifier, 'classifier', 1, D);
      if (want.has('logits')) b.output('logits', logits);
      if (want.has('scores')) b.output('scores', b.op('reshape', [b.op('sigmoid', [logits], {}, 'scores.col')], { shape: [B] }, 'scores'));
    }
  }
  params.checkCoverage();
  // A model step runs: outputs, every state updated and eps > 0 are required, not just well-formedness.
  return b.finish({ complete: true });
}
