// Reads the HF reference outputs in ../shared/refs/<arch>/ref<set>.json + .bin.
import { readFileSync } from 'node:fs';
import { sharedPath } from './shared.js';

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
