// rmsnorm-matmul: a norm whose result feeds only matmuls is folded into them. Per consumer, the
// matmul becomes norm_matmul, which normalises x in its prologue (no gain), and the gain moves
// into the weight at compile time: w' = scale_cols(w, g) {offset} (offset 1 is Gemma's (1+g)). So
// the normalised activation never exists in memory. LayerNorm folds the same way, its bias into the
// matmul's: (n·γ + β)·wᵀ + b = n·(w·diag γ)ᵀ + (w·β + b), the latter as fold_bias(w, β, b).
//
// Folded weights are f32 (exact); `rmsnorm-matmul{narrow=true}` converts f16/bf16 ones back.
// A block-quantized weight is left alone: scaling its columns would mean dequantizing and
// quantizing again. A weight whose source something else also reads (a tied embedding table that
// is also the lm_head) is left alone too: its folded copy would be a second resident table as
// large as the first (the whole [vocab, hidden] matrix, 35 % of stories15M's bytes, and what
// pushed a 1.1B f32 model past 4 GiB), to save one norm launch per step. A norm that something
// else also reads (a residual, an output, such a kept matmul) stays.
import { isQuantized } from '../ir/dtype.js';
import type { Graph, Node, Value } from '../ir/graph.js';
import { dimEquals } from '../ir/dim.js';
import { projectionOf } from '../ir/op.js';
import { formatWeight } from '../ir/printer.js';
import type { PassContext } from './pass.js';
import { registerPass } from './registry.js';
import { addParam, attrsOf, dropDeadParams, newNode, replaceNode, sourceOf, transform, type TypedWeight, typedWeight, Uses } from './rewrite.js';

/** Consumers a norm can fold into (their projection trait says so): x is operand 0. */
const foldsNorm = (n: Node): boolean => projectionOf(n.op)?.normFoldable === true;

interface Norm {
  /** What the norm normalises: the fused matmul reads it instead of the norm's result. */
  readonly input: Value;
  readonly kind: 'rms' | 'layer';
  readonly eps: number;
  readonly offset: number;
  readonly gain: Value;
  readonly shift?: Value;
}

function normOf(n: Node): Norm | undefined {
  if (n.op !== 'rms_norm' && n.op !== 'layer_norm') return undefined;
  const a = attrsOf(n);
  const [input, gain, shift] = n.inputs;
  if (!sourceOf(gain) || (shift && !sourceOf(shift))) return undefined;
  return n.op === 'rms_norm'
    ? { input, kind: 'rms', eps: a.eps as number, offset: a.offset as number, gain }
    : { input, kind: 'layer', eps: a.eps as number, offset: 0, gain, shift };
}

/** The keys of weight sources that more than one node reads (through any parameter bound to them). */
function sharedSources(g: Graph): Set<string> {
  const readers = new Map<string, Set<Node>>();
  for (const n of g.nodes) {
    for (const v of n.inputs) {
      const source = sourceOf(v);
      if (!source) continue;
      const key = formatWeight(source);
      const set = readers.get(key) ?? new Set<Node>();
      set.add(n);
      readers.set(key, set);
    }
  }
  return new Set([...readers].filter(([, nodes]) => nodes.size > 1).map(([key]) => key));
}

/** The fused replacement of consumer `c`, or a reason why there is none. */
function fuse(g: Graph, c: Node, norm: Norm, narrow: boolean, shared: ReadonlySet<string>): Node | string {
  const a = c.op === 'matmul' ? { bias: c.inputs.length > 2, parts: 1, epilogue: 'acc0' } : attrsOf(c);
  const [, w, ...rest] = c.inputs;
  const bias = a.bias ? rest.shift() : undefined;
  if (!sourceOf(w) || w.type.shape.length !== 2) return 'weights-not-params';
  if (isQuantized(w.type.dtype)) return 'quantized-weights-kept';
  if (shared.has(formatWeight(sourceOf(w)!))) return 'shared-weights-kept';
  if (norm.shift && bias && !sourceOf(bias)) return 'biases-not-params';
  if (!dimEquals(w.type.shape[1], norm.gain.type.shape[0])) return 'shape-mismatch';
  const wt = typedWeight(w);
  let scaled = transform('scale_cols', [wt, typedWeight(norm.gain)], { offset: norm.offset });
  // scale_cols gives f32, which is exact; `narrow` trades that for keeping f16/bf16 weights' memory.
  if (narrow && wt.type.dtype !== 'f32') scaled = transform('convert', [scaled], { dtype: wt.type.dtype });
  let b: TypedWeight | undefined = bias && typedWeight(bias);
  if (norm.shift) b = transform('fold_bias', b ? [wt, typedWeight(norm.shift), b] : [wt, typedWeight(norm.shift)]);
  const operands = [norm.input, addParam(g, `${w.name}.normed`, scaled)];
  // Without a LayerNorm shift the bias is unchanged and the parameter is reused.
  if (b) operands.push(norm.shift ? addParam(g, `${bias?.name ?? `${w.name}.bias`}.folded`, b) : bias!);
  operands.push(...rest);
  const attrs = { kind: norm.kind, eps: norm.eps, bias: b !== undefined, parts: a.parts as number, epilogue: a.epilogue as string };
  return newNode('norm_matmul', operands, attrs, [c.outputs[0].name]);
}

export function foldNorms(g: Graph, ctx: Pick<PassContext, 'stat' | 'options'>): boolean {
  let changed = false;
  for (const n of [...g.nodes]) {
    const norm = normOf(n);
    if (!norm) continue;
    const uses = new Uses(g);
    const r = n.outputs[0];
    const users = uses.of(r);
    if (users.length === 0) continue;
    if (uses.isRoot(r) || !users.every((u) => foldsNorm(u) && u.inputs.indexOf(r) === 0 && u.inputs.lastIndexOf(r) === 0)) {
      ctx.stat('norms-with-other-users');
      continue;
    }
    const dead: Value[] = [];
    const shared = sharedSources(g);
    for (const c of users) {
      const fused = fuse(g, c, norm, ctx.options.narrow === true, shared);
      if (typeof fused === 'string') {
        ctx.stat(fused);
        continue;
      }
      replaceNode(g, c, fused);
      dead.push(...c.inputs.slice(1));
      ctx.stat('matmuls-fused');
      changed = true;
    }
    if (new Uses(g).of(r).length === 0) {
      g.nodes = g.nodes.filter((x) => x !== n);
      dead.push(...n.inputs.slice(1));
      ctx.stat('norms-folded');
    }
    dropDeadParams(g, dead);
  }
  return changed;
}

registerPass({
  name: 'rmsnorm-matmul',
  description: 'fold rms_norm (and layer_norm) feeding only matmuls into them: gain into the weight columns, normalisation into the prologue',
  options: { narrow: { type: 'bool', default: false, doc: 'store folded f16/bf16 weights in their own dtype again (rounds the folded values)' } },
  run: (g, ctx) => ({ changed: foldNorms(g, ctx) }),
});
