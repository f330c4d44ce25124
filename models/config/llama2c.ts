// llama2.c checkpoint header → ModelConfig (run.c's fixed choices: eps 1e-5, theta 1e4, Meta RoPE order).
import type { Llama2cHeader } from '../formats/llama2c.js';
import { type ModelConfig, validateConfig } from './model-config.js';

export function configFromLlama2c(h: Llama2cHeader, file: string): ModelConfig {
  const headDim = h.dim / h.nHeads;
  return validateConfig({
    family: 'llama',
    architecture: `llama2.c v${h.version}`,
    task: 'decoder',
    vocabSize: h.vocabSize,
    hiddenSize: h.dim,
    numLayers: h.nLayers,
    numHeads: h.nHeads,
    numKvHeads: h.nKvHeads,
    headDim,
    intermediateSize: h.hiddenDim,
    maxPositions: h.seqLen,
    norm: { kind: 'rms', eps: 1e-5, offset: 0 },
    rope: { theta: 10000, rotaryDim: headDim, interleaved: true, scaling: { type: 'none' } },
    activation: 'silu',
    gatedMlp: true,
    tieEmbeddings: h.sharedClassifier,
    bias: { qkv: false, o: false, mlp: false },
    qkNorm: false,
    layerWindows: new Array(h.nLayers).fill(0),
    attnScale: headDim ** -0.5,
    attnSoftcap: 0,
    finalSoftcap: 0,
    embedScale: 1,
    postNorms: false,
    typeVocabSize: 0,
    // run.c: BOS is 1 and generation stops when the model emits BOS.
    bosId: 1,
    eosIds: [1],
  }, file);
}
