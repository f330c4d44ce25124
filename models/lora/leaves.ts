// A model source that also reads adapter tensors: weight expressions name a LoRA factor as
// `lora:<file>#<tensor>` (adapterLeaf), and this resolves such names by opening the adapter file
// (once), so merged weights are evaluated, typed and streamed like any other.
import { resolve } from 'node:path';
import { isDType, weightTypeNames } from '../../ir/dtype.js';
import { checkFinite } from '../formats/finite.js';
import { openGguf } from '../formats/gguf.js';
import { openSafetensors } from '../formats/safetensors.js';
import { FormatError, isReadable, type TensorStore } from '../formats/store.js';
import type { ModelSource } from '../open.js';
import { parseAdapterLeaf } from './adapter.js';

function openStore(file: string): TensorStore {
  return file.endsWith('.safetensors') ? openSafetensors(file) : openGguf(file);
}

export function withAdapterLeaves(source: ModelSource): ModelSource {
  const stores = new Map<string, TensorStore>();
  const adapter = (name: string): { store: TensorStore; tensor: string } | undefined => {
    const leaf = parseAdapterLeaf(name);
    if (!leaf) return undefined;
    const key = resolve(leaf.file);
    let store = stores.get(key);
    if (!store) {
      store = openStore(key);
      stores.set(key, store);
    }
    if (!store.has(leaf.tensor)) throw new FormatError(store.path, `missing adapter tensor "${leaf.tensor}"`);
    return { store, tensor: leaf.tensor };
  };
  return {
    ...source,
    decoderWeights: () => source.decoderWeights(),
    encoderWeights: () => source.encoderWeights(),
    leafType(name) {
      const a = adapter(name);
      if (!a) return source.leafType(name);
      const info = a.store.info(a.tensor);
      if (!isReadable(info)) throw new FormatError(a.store.path, `adapter tensor "${a.tensor}" has type ${info.dtype}, which is not supported (supported: ${weightTypeNames().join(', ')})`);
      return { dtype: info.dtype, shape: info.shape };
    },
    readLeaf(name) {
      const a = adapter(name);
      if (!a) return source.readLeaf(name);
      const t = a.store.read(a.tensor);
      checkFinite(a.store.path, a.tensor, t.dtype, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
      return t;
    },
    readLeafInto(name, dest) {
      const a = adapter(name);
      if (!a) return source.readLeafInto(name, dest);
      a.store.readInto(a.tensor, dest);
      const dtype = a.store.info(a.tensor).dtype;
      if (isDType(dtype)) checkFinite(a.store.path, a.tensor, dtype, dest);
    },
  };
}
