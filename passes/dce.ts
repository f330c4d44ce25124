// Dead code elimination: nodes none of whose results reach an output or a state update, and
// parameters no live node reads. Graph inputs stay: they are the graph's calling convention.
import { type Graph, rootValues, type Value } from '../ir/graph.js';
import { registerPass } from './registry.js';

export interface DceCounts {
  readonly nodes: number;
  readonly params: number;
}

export function eliminateDeadCode(g: Graph): DceCounts {
  const live = new Set<Value>(rootValues(g));
  const keep = new Array<boolean>(g.nodes.length).fill(false);
  // Nodes are in topological order, so one backward sweep sees every use before its definition.
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i];
    if (!n.outputs.some((v) => live.has(v))) continue;
    keep[i] = true;
    for (const v of n.inputs) live.add(v);
  }
  const nodesBefore = g.nodes.length;
  const paramsBefore = g.params.length;
  g.nodes = g.nodes.filter((_, i) => keep[i]);
  g.params = g.params.filter((p) => live.has(p));
  return { nodes: nodesBefore - g.nodes.length, params: paramsBefore - g.params.length };
}

registerPass({
  name: 'dce',
  description: 'remove nodes whose results reach no output or state update, and unused parameters',
  run(g, ctx) {
    const { nodes, params } = eliminateDeadCode(g);
    if (nodes) ctx.stat('nodes-removed', nodes);
    if (params) ctx.stat('params-removed', params);
    return { changed: nodes + params > 0 };
  },
});
