// Declaring a builder's parameters from weight sources: each source once (a tied lm_head reuses
// the embedding), its type read from the checkpoint, its shape checked against what the config implies.
import type { GraphBuilder } from '../../ir/builder.js';
import type { Value } from '../../ir/graph.js';
import { formatWeight } from '../../ir/printer.js';
import { type WeightExpr, type WeightType, weightType } from '../../ir/weights.js';

export type DeclareParam = (name: string, src: WeightExpr, expected: readonly number[]) => Value;

/** `sizes` describes the config in the error a mismatched shape produces. */
export function paramDeclarer(b: GraphBuilder, leaf: (name: string) => WeightType, sizes: string): DeclareParam {
  const declared = new Map<string, Value>();
  return (name, src, expected) => {
    const key = formatWeight(src);
    const seen = declared.get(key);
    if (seen) return seen;
    let t: WeightType;
    try {
      t = weightType(src, leaf);
    } catch (e) {
      throw new Error(`weight for %${name}: ${(e as Error).message}`);
    }
    if (t.shape.length !== expected.length || t.shape.some((d, i) => d !== expected[i])) {
      throw new Error(`weight for %${name} (${key}) has shape [${t.shape.join(', ')}], but the config (${sizes}) needs [${expected.join(', ')}]`);
    }
    const v = b.param(name, t.dtype, t.shape, src);
    declared.set(key, v);
    return v;
  };
}
