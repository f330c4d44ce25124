// Common subexpression elimination: a node equal to an earlier one (same op, same operands —
// in any order for commutative ops —, equal attributes and equal result types) is replaced by
// it; so is a parameter bound to the same weight source with the same type as an earlier one.
import { type Attrs, attrEquals, normalizeAttrs } from '../ir/attrs.js';
import type { Graph, Node, Value } from '../ir/graph.js';
import { findOp, hasTrait } from '../ir/op.js';
import { formatWeight } from '../ir/printer.js';
import { typesEqual, typeToString } from '../ir/types.js';
import { registerPass } from './registry.js';

export interface CseCounts {
  readonly nodes: number;
  readonly params: number;
}

/** Attributes with defaults filled in, so `{}` and `{eps = <default>}` compare equal. */
function fullAttrs(n: Node): Attrs {
  const def = findOp(n.op);
  if (!def) return n.attrs;
  const { attrs, errors } = normalizeAttrs(def.attrs, n.attrs);
  return errors.length ? n.attrs : attrs;
}

function sameAttrs(a: Attrs, b: Attrs): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => k in b && attrEquals(a[k], b[k]));
}

function sameResults(a: Node, b: Node): boolean {
  return a.outputs.length === b.outputs.length && a.outputs.every((v, i) => typesEqual(v.type, b.outputs[i].type));
}

export function eliminateCommonSubexpressions(g: Graph): CseCounts {
  // Every value is renamed at most once, to a value defined earlier; `subst` holds those renames.
  const subst = new Map<Value, Value>();
  const resolve = (v: Value) => subst.get(v) ?? v;

  let params = 0;
  const paramByKey = new Map<string, Value>();
  g.params = g.params.filter((p) => {
    if (p.def.kind !== 'param') return true;
    const key = `${typeToString(p.type)} = ${formatWeight(p.def.source)}`;
    const first = paramByKey.get(key);
    if (!first) {
      paramByKey.set(key, p);
      return true;
    }
    subst.set(p, first);
    params++;
    return false;
  });

  const ids = new Map<Value, number>();
  const id = (v: Value) => {
    let n = ids.get(v);
    if (n === undefined) ids.set(v, (n = ids.size));
    return n;
  };
  const seen = new Map<string, { node: Node; attrs: Attrs }[]>();
  let nodes = 0;
  g.nodes = g.nodes.filter((n) => {
    n.inputs = n.inputs.map(resolve);
    const def = findOp(n.op);
    // Unknown ops may have effects we cannot see, and nodes without results have nothing to share.
    if (!def || n.outputs.length === 0) return true;
    const operands = n.inputs.map(id);
    if (hasTrait(def, 'commutative') && operands.length === 2) operands.sort((a, b) => a - b);
    const key = `${n.op}(${operands.join(',')})`;
    const attrs = fullAttrs(n);
    const bucket = seen.get(key);
    const twin = bucket?.find((c) => sameResults(c.node, n) && sameAttrs(c.attrs, attrs));
    if (!twin) {
      if (bucket) bucket.push({ node: n, attrs });
      else seen.set(key, [{ node: n, attrs }]);
      return true;
    }
    n.outputs.forEach((v, i) => subst.set(v, twin.node.outputs[i]));
    nodes++;
    return false;
  });

  if (subst.size) {
    for (const o of g.outputs) o.value = resolve(o.value);
    for (const u of g.updates) u.value = resolve(u.value);
  }
  return { nodes, params };
}

registerPass({
  name: 'cse',
  description: 'merge nodes with the same op, operands, attributes and result types, and parameters with the same source',
  run(g, ctx) {
    const { nodes, params } = eliminateCommonSubexpressions(g);
    if (nodes) ctx.stat('nodes-merged', nodes);
    if (params) ctx.stat('params-merged', params);
    // Merged nodes are gone, but what only they read is now dead: that is dce's (or canonicalize's) job.
    return { changed: nodes + params > 0 };
  },
});
