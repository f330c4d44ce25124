// Graphviz DOT for a graph: one box per node (op, attributes that differ from their defaults,
// result types), small boxes for parameters, ellipses for inputs, house shapes for outputs and
// state updates. Fused ops are filled orange and framed in a dashed "fused" cluster; elementwise
// and layout ops get their own light colors so the structure shows at a glance.
import { attrEquals } from './attrs.js';
import type { Graph, Node, Value } from './graph.js';
import { findOp, hasTrait } from './op.js';
import { formatAttr, formatWeight } from './printer.js';
import { typeToString } from './types.js';

export interface DotOptions {
  /** Layout direction (default top to bottom). */
  readonly rankdir?: 'TB' | 'LR';
  /** Attribute values longer than this are cut with '…' (default 40). */
  readonly maxAttrChars?: number;
}

/** A DOT double-quoted string; `\n` in `s` becomes a centered line break. */
const quote = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;

const cut = (s: string, max: number) => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

const COLORS = {
  fused: { fill: '#ffd8a8', line: '#e8590c' },
  elementwise: { fill: '#ebfbee', line: '#2b8a3e' },
  layout: { fill: '#f1f3f5', line: '#868e96' },
  other: { fill: '#e7f5ff', line: '#1c7ed6' },
};

function nodeLabel(n: Node, maxAttr: number): string {
  const def = findOp(n.op);
  const lines = [n.op];
  for (const k of Object.keys(n.attrs).sort()) {
    const spec = def?.attrs[k];
    if (spec?.default !== undefined && attrEquals(spec.default, n.attrs[k])) continue;
    lines.push(`${k}=${cut(formatAttr(n.attrs[k], spec), maxAttr)}`);
  }
  for (const v of n.outputs) lines.push(`%${v.name}: ${typeToString(v.type)}`);
  return lines.join('\n');
}

function kindOf(n: Node): keyof typeof COLORS {
  const def = findOp(n.op);
  if (!def) return 'other';
  if (hasTrait(def, 'fused')) return 'fused';
  if (hasTrait(def, 'elementwise')) return 'elementwise';
  if (hasTrait(def, 'layout')) return 'layout';
  return 'other';
}

export function graphToDot(g: Graph, opts: DotOptions = {}): string {
  const maxAttr = opts.maxAttrChars ?? 40;
  const out: string[] = [];
  const emit = (s: string) => out.push(`  ${s}`);
  const source = new Map<Value, string>();

  out.push(`digraph ${quote(g.name)} {`);
  emit(`rankdir=${opts.rankdir ?? 'TB'};`);
  emit(`label=${quote(`graph @${g.name}${g.symbols.length ? `<${g.symbols.join(', ')}>` : ''}`)}; labelloc=t;`);
  emit('node [fontname="Helvetica", fontsize=10, shape=box, style="rounded,filled"];');
  emit('edge [fontname="Helvetica", fontsize=8, color="#495057"];');

  g.inputs.forEach((v, i) => {
    const id = `in${i}`;
    source.set(v, id);
    const state = v.def.kind === 'input' && v.def.state;
    emit(`${id} [shape=ellipse, style=filled, fillcolor=${state ? '"#fff3bf"' : '"#d0ebff"'}, label=${quote(`${state ? 'state ' : ''}%${v.name}\n${typeToString(v.type)}`)}];`);
  });
  g.params.forEach((v, i) => {
    const id = `p${i}`;
    source.set(v, id);
    const from = v.def.kind === 'param' ? `\n${cut(formatWeight(v.def.source), maxAttr)}` : '';
    emit(`${id} [shape=box, style=filled, fillcolor="#f8f9fa", color="#adb5bd", fontsize=8, height=0.2, margin="0.04,0.02", label=${quote(`%${v.name}: ${typeToString(v.type)}${from}`)}];`);
  });
  g.nodes.forEach((n, i) => {
    const id = `n${i}`;
    n.outputs.forEach((v) => source.set(v, id));
    const kind = kindOf(n);
    const { fill, line } = COLORS[kind];
    const attrs = `[fillcolor="${fill}", color="${line}"${kind === 'fused' ? ', penwidth=2' : ''}, label=${quote(nodeLabel(n, maxAttr))}]`;
    if (kind === 'fused') {
      // A cluster per fused node keeps the layout of the rest intact while framing the fusion.
      emit(`subgraph cluster_fused_${i} { label="fused"; fontsize=8; style="dashed,rounded"; color="${line}"; ${id} ${attrs}; }`);
    } else {
      emit(`${id} ${attrs};`);
    }
  });
  g.outputs.forEach((o, i) => emit(`out${i} [shape=house, style=filled, fillcolor="#d3f9d8", label=${quote(`output ${o.name}`)}];`));
  g.updates.forEach((u, i) => emit(`upd${i} [shape=house, style=filled, fillcolor="#fff3bf", label=${quote(`update %${u.state.name}`)}];`));

  // Edges: label a value only when its producer has several results, where the box cannot say which.
  const edge = (v: Value, to: string) => {
    const from = source.get(v);
    if (!from) return;
    const multi = v.def.kind === 'node' && v.def.node.outputs.length > 1;
    emit(`${from} -> ${to}${multi ? ` [label=${quote(`%${v.name}`)}]` : ''};`);
  };
  g.nodes.forEach((n, i) => n.inputs.forEach((v) => edge(v, `n${i}`)));
  g.outputs.forEach((o, i) => edge(o.value, `out${i}`));
  g.updates.forEach((u, i) => edge(u.value, `upd${i}`));
  out.push('}');
  return `${out.join('\n')}\n`;
}
