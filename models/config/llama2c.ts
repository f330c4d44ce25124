// llama2.c checkpoint header → ModelConfig (run.c's fixed choices: eps 1e-5, theta 1e4, Meta RoPE order).
import type { Llama2cHeader } from '../formats/llama2c.js';
import { makeConfig } from './make-config.js';
import type { ModelConfig } from './model-config.js';

export function configFromLlama2c(h: Llama2cHeader, file: string): ModelConfig {
  return makeConfig(file, {
    family: 'llama',
    architecture: `llama2.c v${h.version}`,
    vocabSize: h.vocabSize,
    hiddenSize: h.dim,
    numLayers: h.nLayers,
    numHeads: h.nHeads,
    numKvHeads: h.nKvHeads,
    intermediateSize: h.hiddenDim,
    maxPositions: h.seqLen,
    norm: { eps: 1e-5 },
    rope: { theta: 10000, interleaved: true },
    tieEmbeddings: h.sharedClassifier,
    // run.c: BOS is 1 and generation stops when the model emits BOS.
    bosId: 1,
    eosIds: [1],
  }, { vocabSize: 'vocab_size', hiddenSize: 'dim', numLayers: 'n_layers', numHeads: 'n_heads', numKvHeads: 'n_kv_heads', intermediateSize: 'hidden_dim', maxPositions: 'seq_len' });
}
