// Weights for a backend: each parameter's weight expression evaluated against the model's source,
// in Node (src/model.ts) and in a browser (src/web/) alike.
import type { Value } from '../ir/graph.js';
import { formatWeight } from '../ir/printer.js';
import { shapesEqual } from '../ir/dim.js';
import type { HostTensor } from '../ir/tensor.js';
import { evaluateWeight, weightType } from '../ir/weights.js';
import { weightBytes, writeWeight } from '../ir/weight-write.js';
import type { ModelSource } from '../models/open.js';
import type { ParamResolver } from '../runtime/reference/interpreter.js';

/** Evaluates each distinct weight source once and keeps the result. */
export function paramResolver(source: ModelSource): ParamResolver {
  const cache = new Map<string, HostTensor>();
  const resolve: ParamResolver = (p: Value) => {
    if (p.def.kind !== 'param') throw new Error(`%${p.name} is not a parameter`);
    const key = formatWeight(p.def.source);
    let t = cache.get(key);
    if (!t) {
      t = evaluateWeight(p.def.source, (name) => source.readLeaf(name));
      cache.set(key, t);
    }
    return t;
  };
  // Weights are evaluated straight into the runtime's memory (stored tensors streamed from the
  // file, merges and norm folds built in place; ir/weight-write.ts) and not cached: no JS copy
  // of the model waits for the garbage collector while it loads.
  resolve.streamer = (p: Value) => {
    if (p.def.kind !== 'param') return undefined;
    const e = p.def.source;
    const t = weightType(e, (n) => source.leafType(n));
    if (t.dtype !== p.type.dtype || !shapesEqual(t.shape, p.type.shape)) return undefined;
    return { bytes: weightBytes(e, source), write: (dest) => writeWeight(e, dest, source) };
  };
  return resolve;
}
