// What a model is and what it needs: the numbers `tessera info` prints and the API returns.
import { storageBytes } from '../ir/dtype.js';
import { evalDim } from '../ir/dim.js';
import { planMemory } from '../ir/memory.js';
import type { ModelConfig } from '../models/config/model-config.js';
import { isReadable } from '../models/formats/store.js';
import type { Graph } from '../ir/graph.js';
import type { ModelSource } from '../models/open.js';

export interface ModelInfo {
  readonly path: string;
  readonly format: string;
  readonly config: ModelConfig;
  readonly parameters: number;
  /** Checkpoint tensors by storage type. */
  readonly tensorTypes: Readonly<Record<string, number>>;
  /** Bytes of the checkpoint's tensors by storage type (the types Tessera reads). */
  readonly tensorTypeBytes: Readonly<Record<string, number>>;
  readonly weightBytes: number;
  /** KV cache for the whole context. */
  readonly kvCacheBytes: number;
  /** Activation arena for a prompt chunk of `chunk` tokens at the end of the context (absent when the model cannot be built). */
  readonly activationBytes?: number;
  readonly activationChunk?: number;
  /** Checkpoint tensors of a type Tessera cannot run: while there are any, the model does not load. */
  readonly unsupportedTensors: readonly { readonly name: string; readonly type: string }[];
}

/** Tensors of `source` whose storage type Tessera cannot read. */
export function unsupportedTensors(source: ModelSource): { name: string; type: string }[] {
  const store = source.store;
  return store.names().flatMap((name) => {
    const info = store.info(name);
    return isReadable(info) ? [] : [{ name, type: info.dtype }];
  });
}

/** The checkpoint's tensors by storage type: how many, and their bytes where Tessera reads the type. */
function tensorTypes(source: ModelSource): Pick<ModelInfo, 'tensorTypes' | 'tensorTypeBytes'> {
  const types: Record<string, number> = {};
  const bytes: Record<string, number> = {};
  for (const n of source.store.names()) {
    const info = source.store.info(n);
    const t = isReadable(info) ? info.dtype : `${info.dtype} (unsupported)`;
    types[t] = (types[t] ?? 0) + 1;
    if (isReadable(info)) bytes[t] = (bytes[t] ?? 0) + storageBytes(info.dtype, info.shape as number[]);
  }
  return { tensorTypes: types, tensorTypeBytes: bytes };
}

function kvCacheBytes(c: ModelConfig): number {
  return c.task === 'decoder' ? 2 * c.numLayers * c.maxPositions * c.numKvHeads * c.headDim * 4 : 0;
}

/**
 * What the headers say of a model that cannot be built (some tensors are of a type Tessera
 * cannot run): sizes from the checkpoint's tensors, the unsupported ones listed.
 */
export function describeHeaders(source: ModelSource, config: ModelConfig): ModelInfo {
  let parameters = 0;
  let weightBytes = 0;
  for (const n of source.store.names()) {
    const info = source.store.info(n);
    parameters += info.shape.reduce((a, b) => a * b, 1);
    if (isReadable(info)) weightBytes += storageBytes(info.dtype, info.shape as number[]);
  }
  return {
    path: source.path, format: source.format, config, parameters, ...tensorTypes(source), weightBytes,
    kvCacheBytes: kvCacheBytes(config), unsupportedTensors: unsupportedTensors(source),
  };
}

/** `graph` is the model's step graph (decoder) or batch graph (encoder). */
export function describeModel(model: { readonly source: ModelSource; readonly config: ModelConfig; graph(): Graph }, chunk = 512): ModelInfo {
  const c = model.config;
  const g = model.graph();
  let parameters = 0;
  let weightBytes = 0;
  for (const p of g.params) {
    const shape = p.type.shape as number[];
    parameters += shape.reduce((a, b) => a * b, 1);
    weightBytes += storageBytes(p.type.dtype, shape);
  }
  const S = Math.min(chunk, c.maxPositions);
  const bounds = { S, P: c.maxPositions - S, B: 1 };
  const plan = planMemory(g, bounds);
  return {
    path: model.source.path, format: model.source.format, config: c, parameters, ...tensorTypes(model.source), weightBytes, kvCacheBytes: kvCacheBytes(c),
    activationBytes: evalDim(plan.peakActivationBytes, bounds),
    activationChunk: S,
    unsupportedTensors: [],
  };
}

const mib = (n: number) => `${(n / 2 ** 20).toFixed(n < 2 ** 20 ? 3 : 1)} MiB`;

export function formatModelInfo(i: ModelInfo): string {
  const c = i.config;
  const lines = [
    `model:        ${i.path} (${i.format})`,
    `architecture: ${c.architecture} — ${c.family} ${c.task}`,
    `shape:        ${c.numLayers} layers · hidden ${c.hiddenSize} · ${c.numHeads} heads (${c.numKvHeads} kv) × ${c.headDim} · intermediate ${c.intermediateSize} · vocab ${c.vocabSize} · context ${c.maxPositions}`,
    `positions:    ${c.rope ? `RoPE θ=${c.rope.theta}, ${c.rope.rotaryDim} of ${c.headDim} dims, ${c.rope.interleaved ? 'interleaved' : 'rotate-half'} pairs, scaling ${c.rope.scaling.type}` : 'learned absolute'}`,
    `norm:         ${c.norm.kind === 'rms' ? 'RMSNorm' : 'LayerNorm'} eps ${c.norm.eps}${c.norm.offset ? ' (1+w)' : ''} · MLP ${c.gatedMlp ? 'gated ' : ''}${c.activation}${c.layerWindows.some((w) => w > 0) ? ` · sliding window ${Math.max(...c.layerWindows)} on ${c.layerWindows.filter((w) => w > 0).length} layers` : ''}${c.attnSoftcap ? ` · attn softcap ${c.attnSoftcap}` : ''}${c.finalSoftcap ? ` · final softcap ${c.finalSoftcap}` : ''}`,
    `parameters:   ${i.parameters.toLocaleString('en-US')} (${Object.entries(i.tensorTypes).map(([t, n]) => `${n} × ${t}${t in i.tensorTypeBytes ? ` ${mib(i.tensorTypeBytes[t])}` : ''}`).join(', ')} tensors)`,
    `memory:       weights ${mib(i.weightBytes)}${i.unsupportedTensors.length ? ' (supported tensors)' : ''} · ${c.task === 'decoder' ? `KV cache ${mib(i.kvCacheBytes)} (f32, full context)` : 'no KV cache'}` +
      (i.activationBytes !== undefined ? ` · activations ${mib(i.activationBytes)} (peak, ${i.activationChunk}-token ${c.task === 'decoder' ? 'chunk' : 'sequence'})` : ''),
  ];
  if (i.unsupportedTensors.length) {
    const n = i.unsupportedTensors.length;
    lines.push(`unsupported:  ${n} tensor${n === 1 ? '' : 's'} of a type Tessera cannot run, so the model does not load:`);
    for (const t of i.unsupportedTensors) lines.push(`                ${t.name} (${t.type})`);
  }
  return `${lines.join('\n')}\n`;
}
