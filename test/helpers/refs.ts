// The HF reference models in ../shared/refs: which folders there are (and which are decoders or
// encoders, as their config.json says), and their reference outputs ref<set>.json + .bin.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { ModelConfig } from '../../models/config/model-config.js';
import { configFromHf } from '../../models/config/hf.js';
import { hasShared, sharedPath } from './shared.js';

export interface RefModel {
  /** The folder name under ../shared/refs, e.g. `gemma2`. */
  readonly name: string;
  readonly task: ModelConfig['task'];
}

let found: readonly RefModel[] | undefined;

/**
 * Every folder of ../shared/refs with a config.json, in name order, with the task its config
 * declares (read by the same config reader the models use). A new folder is tested everywhere by
 * itself. Empty when ../shared/refs is missing: hasShared has then said so (or thrown, under CI).
 */
export function refModels(): readonly RefModel[] {
  if (found) return found;
  if (!hasShared('refs')) return (found = []);
  const names = readdirSync(sharedPath('refs'), { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(sharedPath('refs', d.name, 'config.json')))
    .map((d) => d.name)
    .sort();
  if (names.length === 0) throw new Error(`${sharedPath('refs')} has no <model>/config.json folders`);
  found = names.map((name) => {
    const json = JSON.parse(readFileSync(sharedPath('refs', name, 'config.json'), 'utf8')) as Record<string, unknown>;
    try {
      return { name, task: configFromHf(json).task };
    } catch (e) {
      throw new Error(`refs/${name}/config.json: ${(e as Error).message}`);
    }
  });
  return found;
}

/** The refs folders whose config is a decoder (a causal LM), e.g. llama, gemma2, gpt2. */
export function refDecoders(): string[] {
  return refModels().filter((m) => m.task === 'decoder').map((m) => m.name);
}

/** The refs folders whose config is an encoder or cross-encoder, e.g. bert, bert_reranker. */
export function refEncoders(): string[] {
  return refModels().filter((m) => m.task !== 'decoder').map((m) => m.name);
}

export interface RefTensor {
  readonly shape: number[];
  readonly data: Float32Array;
}

export interface RefSet {
  readonly inputIds: number[][];
  readonly json: Record<string, unknown> & { generate?: { new_tokens: number[] } };
  tensor(name: string): RefTensor;
}

export function readRef(arch: string, set = 'A'): RefSet {
  const json = JSON.parse(readFileSync(sharedPath('refs', arch, `ref${set}.json`), 'utf8'));
  const bin = readFileSync(sharedPath('refs', arch, json.bin_file ?? `ref${set}.bin`));
  return {
    inputIds: json.input_ids,
    json,
    tensor(name) {
      const t = json.tensors[name];
      if (!t) throw new Error(`ref ${arch}/${set} has no tensor ${name} (has ${Object.keys(json.tensors).join(', ')})`);
      const data = new Float32Array(bin.buffer.slice(bin.byteOffset + t.offset, bin.byteOffset + t.offset + t.nbytes));
      return { shape: t.shape, data };
    },
  };
}

/** max |a − b| over all elements. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} ≠ ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return Number.isNaN(m) ? Infinity : m;
}
