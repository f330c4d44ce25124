// quantize: matmul weights become GGUF blocks (QUANTIZE_DTYPES of ir/dtype.ts) by wrapping their
// source in convert {dtype} (rows that are not a multiple of the block are padded per row), so
// every matmul over them is a dequantize-matmul: the matmul ops read any storage type.
//
// Which weights: parameters that only ever serve as a matmul's weight (so an embedding table
// stays as it is), except those of output heads — matmuls after which no other matmul runs on
// their result (lm_head, classifiers), where precision is cheap — unless `heads`. With `heads`, a
// head tied to the embedding table gets a quantized copy of its own (the table, read one row per
// token, stays float), as llama.cpp's files store token_embd and output separately.
// `only` narrows the choice to parameter names matching a regular expression. Weights that are
// already block-quantized keep their blocks (the declared type says so): no dequantize-requantize
// round trip. In a pipeline, quantize after rmsnorm-matmul (which leaves quantized weights alone)
// and after qkv-merge (whose merged weights it then quantizes as wholes).
import { isFloat, isQuantized, QUANTIZE_DTYPES, type QuantizeDType } from '../ir/dtype.js';
import { type Graph, type Node, rootValues, type Value } from '../ir/graph.js';
import { valueBytes } from '../ir/memory.js';
import { projectionOf } from '../ir/op.js';
import { tensorType } from '../ir/types.js';
import { weightCall } from '../ir/weights.js';
import type { PassContext } from './pass.js';
import { registerPass } from './registry.js';
import { addParam, sourceOf, transform, typedWeight, Uses } from './rewrite.js';

/** True for the ops that read a weight matrix (their projection trait): it may be stored quantized. */
const readsWeight = (n: Node): boolean => projectionOf(n.op) !== undefined;

/**
 * Output heads: weight readers from whose result no other weight reader can be reached (lm_head,
 * a classifier). The last layer's projections still reach the lm_head, so they are not heads.
 */
function headMatmuls(g: Graph, uses: Uses): Set<Node> {
  const feedsWeights = new Set<Node>();
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i];
    if (n.outputs.some((v) => uses.of(v).some((u) => readsWeight(u) || feedsWeights.has(u)))) feedsWeights.add(n);
  }
  return new Set(g.nodes.filter((n) => readsWeight(n) && !feedsWeights.has(n)));
}

export function quantizeWeights(g: Graph, ctx: Pick<PassContext, 'stat' | 'options'>): boolean {
  const dtype = ctx.options.dtype as QuantizeDType;
  const only = ctx.options.only ? new RegExp(ctx.options.only as string) : undefined;
  const uses = new Uses(g);
  const heads = ctx.options.heads ? new Set<Node>() : headMatmuls(g, uses);
  const roots = new Set(rootValues(g));
  let changed = false;
  for (const p of g.params) {
    const source = sourceOf(p);
    const readers = uses.of(p);
    if (!source || p.type.shape.length !== 2 || readers.length === 0 || roots.has(p)) continue;
    const asWeight = (n: Node) => {
      const at = projectionOf(n.op)?.weight;
      return at !== undefined && n.inputs.indexOf(p) === at && n.inputs.lastIndexOf(p) === at;
    };
    if (!readers.every(asWeight)) {
      if (ctx.options.heads && isFloat(p.type.dtype) && (!only || only.test(p.name))) changed = splitTiedHead(g, p, readers.filter(asWeight), dtype, ctx) || changed;
      continue;
    }
    if (only && !only.test(p.name)) continue;
    if (readers.some((n) => heads.has(n))) {
      ctx.stat('heads-kept');
      continue;
    }
    if (isQuantized(p.type.dtype)) {
      ctx.stat('already-quantized');
      continue;
    }
    if (!isFloat(p.type.dtype)) continue;
    const before = valueBytes(p) as number;
    p.def = { kind: 'param', source: weightCall('convert', [source], { dtype }) };
    p.type = tensorType(dtype, p.type.shape);
    ctx.stat('weights-quantized');
    ctx.stat('bytes-before', before);
    ctx.stat('bytes-after', valueBytes(p) as number);
    changed = true;
  }
  return changed;
}

/** Points the weight readers of a shared table (a tied lm_head) at a quantized copy of it. */
function splitTiedHead(g: Graph, p: Value, weightReaders: readonly Node[], dtype: QuantizeDType, ctx: Pick<PassContext, 'stat'>): boolean {
  if (weightReaders.length === 0) return false;
  const copy = addParam(g, `${p.name}.${dtype}`, transform('convert', [typedWeight(p)], { dtype }));
  for (const n of weightReaders) n.inputs[projectionOf(n.op)!.weight] = copy;
  ctx.stat('tied-heads-copied');
  ctx.stat('bytes-after', valueBytes(copy) as number);
  return true;
}

registerPass({
  name: 'quantize',
  description: `store matmul weights as GGUF blocks of ${QUANTIZE_DTYPES.join(', ')} (convert in the weight source); matmuls dequantize as they read`,
  options: {
    dtype: { type: 'string', default: 'q8_0', oneOf: QUANTIZE_DTYPES },
    heads: { type: 'bool', default: false, doc: 'also quantize output heads (lm_head, classifiers)' },
    only: { type: 'string', default: '', doc: 'a regular expression: quantize only parameters whose name matches' },
  },
  run: (g, ctx) => ({ changed: quantizeWeights(g, ctx) }),
});
