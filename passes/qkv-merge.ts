// qkv-merge: projections that read the same activation become one wider matmul and a split.
// Q, K and V of an attention block (with their biases; zeros for a member without one), the gate and up
// projections of a gated MLP: one kernel reads the activation once instead of two or three times.
// The merged weight is a new parameter whose source is concat(w_q, w_k, w_v) {axis = 0}, so the
// concatenation happens when weights are loaded (row-wise, which keeps quantized blocks intact);
// the old parameters die. The split results keep the names of the matmul results they replace.
import type { Graph, Node, Value } from '../ir/graph.js';
import { isQuantized } from '../ir/dtype.js';
import type { PassContext } from './pass.js';
import { registerPass } from './registry.js';
import { addParam, dropDeadParams, joinedName, newNode, sourceOf, transform, type TypedWeight, typedWeight, Uses } from './rewrite.js';

interface Member {
  readonly node: Node;
  readonly w: Value;
  readonly bias?: Value;
}

/**
 * Matmuls that can merge with each other, by input and storage type. Only plain matmuls merge:
 * qkv-merge runs before the passes that fuse them (a norm folded into two matmuls of one input
 * must not make a second run merge what the first did not).
 */
function groups(g: Graph): Member[][] {
  const uses = new Uses(g);
  const byKey = new Map<Value, Map<string, Member[]>>();
  for (const node of g.nodes) {
    if (node.op !== 'matmul') continue;
    const [x, w, bias] = node.inputs;
    // Only parameters can be concatenated at compile time, and a weight something else also
    // reads would then be stored twice.
    if (!sourceOf(w) || (bias && !sourceOf(bias)) || !uses.onlyFeeds(w, node)) continue;
    // Quantized weights merge with their own type only (a mixed concat would decode them to f32);
    // float weights of different widths merge as f32, so that a pass that widens weights later
    // cannot make a second run find more to merge.
    const key = `${isQuantized(w.type.dtype) ? w.type.dtype : 'float'}[${String(w.type.shape[1])}]`;
    let perX = byKey.get(x);
    if (!perX) byKey.set(x, (perX = new Map()));
    const list = perX.get(key);
    const m: Member = { node, w, bias };
    if (list) list.push(m);
    else perX.set(key, [m]);
  }
  return [...byKey.values()].flatMap((m) => [...m.values()]).filter((l) => l.length > 1);
}

/** Parts of different storage types meet as f32 (a row concat joins bytes of one type only). */
function asOneType(parts: TypedWeight[]): TypedWeight[] {
  if (new Set(parts.map((p) => p.type.dtype)).size === 1) return parts;
  return parts.map((p) => (p.type.dtype === 'f32' ? p : transform('convert', [p], { dtype: 'f32' })));
}

function merge(g: Graph, members: readonly Member[]): void {
  const first = members[0].node;
  const x = first.inputs[0];
  const w = addParam(g, joinedName(members.map((m) => m.w.name)), transform('concat', asOneType(members.map((m) => typedWeight(m.w))), { axis: 0 }));
  // When only some members have a bias, the others contribute zeros to the merged one.
  const withBias = members.filter((m) => m.bias);
  const zeros = (m: Member) => transform('zeros', [], { shape: [m.w.type.shape[0] as number] });
  const parts = asOneType(members.map((m) => (m.bias ? typedWeight(m.bias) : zeros(m))));
  const biasName = withBias.length === members.length ? joinedName(withBias.map((m) => m.bias!.name)) : `${w.name}.bias`;
  const bias = withBias.length ? addParam(g, biasName, transform('concat', parts, { axis: 0 })) : undefined;
  const olds = members.map((m) => m.node.outputs[0]);
  const mm = newNode('matmul', bias ? [x, w, bias] : [x, w], {}, [g.freshName(joinedName(olds.map((v) => v.name)))]);
  const sizes = members.map((m) => m.w.type.shape[0] as number);
  // The members disappear before the split takes their result names.
  const gone = new Set(members.map((m) => m.node));
  const at = g.nodes.indexOf(first);
  g.nodes = g.nodes.filter((n) => !gone.has(n));
  const split = newNode('split', [mm.outputs[0]], { axis: -1, sizes }, olds.map((v) => v.name));
  g.nodes.splice(at, 0, mm, split);
  const to = new Map(olds.map((v, i) => [v, split.outputs[i]]));
  const resolve = (v: Value) => to.get(v) ?? v;
  for (const n of g.nodes) n.inputs = n.inputs.map(resolve);
  for (const o of g.outputs) o.value = resolve(o.value);
  for (const u of g.updates) u.value = resolve(u.value);
  dropDeadParams(g, members.flatMap((m) => (m.bias ? [m.w, m.bias] : [m.w])));
}

export function mergeProjections(g: Graph, ctx: Pick<PassContext, 'stat'>): boolean {
  const found = groups(g);
  for (const members of found) {
    merge(g, members);
    ctx.stat('groups-merged');
    ctx.stat('matmuls-merged', members.length);
  }
  return found.length > 0;
}

registerPass({
  name: 'qkv-merge',
  description: 'matmuls of one activation (Q/K/V, gate/up) become one matmul over a concatenated weight, then a split',
  run: (g, ctx) => ({ changed: mergeProjections(g, ctx) }),
});
