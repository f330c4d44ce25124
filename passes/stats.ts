// Node counts by op before and after a pipeline, as a table: what the passes did at a glance
// (`tessera dump --model … --stats`, the README's tables).
import type { Graph } from '../ir/graph.js';

export function opCounts(g: Graph): Map<string, number> {
  const counts = new Map<string, number>();
  for (const n of g.nodes) counts.set(n.op, (counts.get(n.op) ?? 0) + 1);
  return counts;
}

/** One row per op in either graph (sorted by name), then the node and parameter totals. */
export function opCountTable(before: Graph, after: Graph): string {
  const b = opCounts(before), a = opCounts(after);
  const ops = [...new Set([...b.keys(), ...a.keys()])].sort();
  const delta = (x: number, y: number) => (y === x ? '0' : y > x ? `+${y - x}` : `${y - x}`);
  const rows = [['op', 'before', 'after', 'Δ']];
  for (const op of ops) rows.push([op, String(b.get(op) ?? 0), String(a.get(op) ?? 0), delta(b.get(op) ?? 0, a.get(op) ?? 0)]);
  rows.push(['(nodes)', String(before.nodes.length), String(after.nodes.length), delta(before.nodes.length, after.nodes.length)]);
  rows.push(['(params)', String(before.params.length), String(after.params.length), delta(before.params.length, after.params.length)]);
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return `${rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ')).join('\n')}\n`;
}
