// The generated kernel source of a graph as text, for `tessera dump --emit wgsl|as`: each node
// with the kernels it launches, each distinct kernel's source printed once (under the first node
// that uses it), or one node's kernels in full.
import { lowerGraphToWasm } from '../../codegen/wasm/program.js';
import { lowerGraphToWgsl } from '../../codegen/wgsl/program.js';
import { WEBGPU_DEFAULT_TARGET } from '../../codegen/wgsl/target.js';
import type { KernelCondition } from '../../codegen/kernel.js';
import { dimToString } from '../../ir/dim.js';
import type { Graph, Node } from '../../ir/graph.js';
import { UsageError } from './command.js';

export const EMIT_LANGUAGES = ['wgsl', 'as'] as const;
export type EmitLanguage = (typeof EMIT_LANGUAGES)[number];

interface KernelText {
  readonly name: string;
  /** What the header line says besides the name (label, run condition). */
  readonly about: string;
  readonly source: string;
}

/** `min ≤ S ≤ max` with absent bounds left out. */
function condition(c: KernelCondition): string {
  return [c.min !== undefined ? `${c.min} ≤ ` : '', dimToString(c.dim), c.max !== undefined ? ` ≤ ${c.max}` : ''].join('');
}

/** A node's printed name: its first result. */
const nodeName = (n: Node) => n.outputs[0]?.name ?? n.op;

function lowered(graph: Graph, language: EmitLanguage): { node: Node; kernels: KernelText[] }[] {
  // The bounds size the memory plan's buffers only; no kernel's source depends on them.
  const bounds = Object.fromEntries(graph.symbols.map((s) => [s, 1]));
  if (language === 'as') {
    return lowerGraphToWasm(graph, bounds).nodes.map(({ node, kernels }) => ({ node, kernels: kernels.map((k) => ({ name: k.name, about: '', source: k.source })) }));
  }
  return lowerGraphToWgsl(graph, WEBGPU_DEFAULT_TARGET, bounds).nodes.map(({ node, lowering }) => ({
    node,
    kernels: lowering.kernels.map((k) => ({
      name: k.key,
      about: k.when ? `${k.label}, runs when ${condition(k.when)}` : k.label,
      source: k.wgsl,
    })),
  }));
}

/**
 * The kernel source of every node of `graph` (or of the node whose first result is `only`, with
 * or without its `%`), as `language` (WGSL for webgpu on the default target, AssemblyScript for
 * wasm), lowered as the compiler lowers it (lowerGraphToWgsl, lowerGraphToWasm).
 */
export function kernelText(graph: Graph, language: EmitLanguage, only?: string): string {
  const nodes = lowered(graph, language);
  const wanted = only?.replace(/^%/, '');
  const chosen = wanted === undefined ? nodes : nodes.filter(({ node }) => node.outputs.some((v) => v.name === wanted));
  if (!chosen.length) {
    const names = nodes.slice(0, 8).map(({ node }) => `%${nodeName(node)}`).join(', ');
    throw new UsageError(`--node: no node of @${graph.name} has a result named %${wanted} (nodes are named by their results, e.g. ${names}, …)`, 'dump');
  }
  const printed = new Set<string>();
  const out: string[] = [];
  for (const { node, kernels } of chosen) {
    const results = node.outputs.map((v) => `%${v.name}`).join(', ');
    const launches = kernels.length ? kernels.map((k) => k.name).join(', ') : 'none (a view of its operand, or computed in place)';
    out.push(`// ==== ${results} = ${node.op}: ${launches}`);
    for (const k of kernels) {
      if (printed.has(k.name)) continue;
      printed.add(k.name);
      out.push(`// ---- ${k.name}${k.about ? ` (${k.about})` : ''}`, k.source.trimEnd(), '');
    }
  }
  return `${out.join('\n')}\n`;
}
