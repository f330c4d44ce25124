// quantize: matmul weights become GGUF blocks (QUANTIZE_DTYPES of ir/dtype.ts) by wrapping their
// source in convert {dtype} (rows that are not a multiple of the block are padded per row), so
// every matmul over them is a dequantize-matmul: the matmul ops read any storage type.
//
// Which type: `dtype` for every weight, or a `recipe` (passes/quantize-recipes.ts: llama-quantize's
// mixes such as q4_k_m, which give some roles and layers more bits, output heads Q6_K, and rows
// that are not whole K-quant super-blocks a 32-element type).
//
// Which weights: parameters that only ever serve as a matmul's weight (so an embedding table
// stays as it is), except those of output heads — matmuls after which no other matmul runs on
// their result (lm_head, classifiers), where precision is cheap — unless `heads`. With `heads`, a
// head tied to the embedding table gets a quantized copy of its own (the table, read one row per
// token, stays float), as llama.cpp's files store token_embd and output separately. With `tables`,
// embedding tables are quantized too, in place (the gather decodes one row per token): a tied table
// then takes the head's type and is held once, no float table beside a quantized copy (llama.cpp
// quantizes a tied token_embd with the output's type; an untied one gets the recipe's base type).
// `only` narrows the choice to parameter names matching a regular expression. Weights that are
// already block-quantized keep their blocks (the declared type says so): no dequantize-requantize
// round trip. In a pipeline, quantize after rmsnorm-matmul (which leaves quantized weights alone)
// and after qkv-merge (whose merged weights it then quantizes as wholes).
import { isFloat, isQuantized, QUANTIZE_DTYPES, type QuantizeDType } from '../ir/dtype.js';
import { type Graph, type Node, rootValues, type Value } from '../ir/graph.js';
import { valueBytes } from '../ir/memory.js';
import { projectionOf } from '../ir/op.js';
import { tensorType } from '../ir/types.js';
import { weightCall, type WeightExpr } from '../ir/weights.js';
import type { PassContext } from './pass.js';
import { chooseType, layerOf, type Recipe, RECIPE_NAMES, RECIPES, type WeightRole, weightRole, writable } from './quantize-recipes.js';
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
  const recipe = RECIPES[(ctx.options.recipe ?? ctx.options.dtype) as string];
  const only = ctx.options.only ? new RegExp(ctx.options.only as string) : undefined;
  const uses = new Uses(g);
  const heads = headMatmuls(g, uses);
  const roots = new Set(rootValues(g));
  const typeOf = typeChooser(g, recipe, ctx);
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
      const weightReaders = readers.filter(asWeight);
      const tied = weightReaders.length > 0;
      if (ctx.options.tables && readers.every((n) => asWeight(n) || isTableGather(n, p)) && (!tied || ctx.options.heads) && isFloat(p.type.dtype) && (!only || only.test(p.name))) {
        convertInPlace(p, source, typeOf(p, tied ? 'output' : 'token_embd'), ctx);
        ctx.stat('tables-quantized');
        changed = true;
        continue;
      }
      if (ctx.options.heads && isFloat(p.type.dtype) && (!only || only.test(p.name))) {
        changed = splitTiedHead(g, p, weightReaders, typeOf(p, 'output'), ctx) || changed;
      }
      continue;
    }
    if (only && !only.test(p.name)) continue;
    const isHead = readers.some((n) => heads.has(n));
    if (isHead && !ctx.options.heads) {
      ctx.stat('heads-kept');
      continue;
    }
    if (isQuantized(p.type.dtype)) {
      ctx.stat('already-quantized');
      continue;
    }
    if (!isFloat(p.type.dtype)) continue;
    convertInPlace(p, source, typeOf(p, isHead ? 'output' : weightRole(p.name)), ctx);
    ctx.stat('weights-quantized');
    changed = true;
  }
  return changed;
}

/** An embedding gather reading `p` as its table (operand 0) and nothing else. */
const isTableGather = (n: Node, p: Value): boolean => n.op === 'embedding' && n.inputs[0] === p && n.inputs.lastIndexOf(p) === 0;

/** Makes `p` a quantized parameter: its source wrapped in convert {dtype}. */
function convertInPlace(p: Value, source: WeightExpr, dtype: QuantizeDType, ctx: Pick<PassContext, 'stat'>): void {
  const before = valueBytes(p) as number;
  p.def = { kind: 'param', source: weightCall('convert', [source], { dtype }) };
  p.type = tensorType(dtype, p.type.shape);
  ctx.stat('bytes-before', before);
  ctx.stat('bytes-after', valueBytes(p) as number);
}

/** The recipe's type for a weight of a role; counts rules applied and shape fallbacks. */
function typeChooser(g: Graph, recipe: Recipe, ctx: Pick<PassContext, 'stat'>): (p: Value, role: WeightRole) => QuantizeDType {
  const layers = 1 + Math.max(-1, ...g.params.map((p) => layerOf(p.name) ?? -1));
  return (p, role) => {
    const choice = chooseType(recipe, { role, layer: layerOf(p.name), layers, rowLength: p.type.shape[1] as number });
    if (choice.promoted) ctx.stat('weights-promoted');
    if (choice.fellBack) ctx.stat('shape-fallbacks');
    return writable(choice.type);
  };
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
  description: `store matmul weights as GGUF blocks, one type (${QUANTIZE_DTYPES.join(', ')}) or a recipe (${RECIPE_NAMES.join(', ')}), by convert in the weight source; matmuls dequantize as they read`,
  options: {
    dtype: { type: 'string', default: 'q8_0', oneOf: QUANTIZE_DTYPES, doc: 'the type of every weight' },
    recipe: { type: 'string', optional: true, oneOf: RECIPE_NAMES, doc: "instead of dtype: a type for every weight, or one of llama-quantize's mixes (q4_k_m, …), per tensor as llama.cpp chooses" },
    heads: { type: 'bool', default: false, doc: 'also quantize output heads (lm_head, classifiers)' },
    tables: { type: 'bool', default: false, doc: "also quantize embedding tables in place (a tied table, with heads, takes the head's type and is held once)" },
    only: { type: 'string', default: '', doc: 'a regular expression: quantize only parameters whose name matches' },
  },
  run: (g, ctx) => ({ changed: quantizeWeights(g, ctx) }),
});
