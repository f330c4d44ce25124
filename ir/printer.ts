// The text form of a graph: one op per line, types on every result, attributes in braces
// (defaults omitted), parameters bound to their weight sources. `parse(print(g))` gives g back.
import { type AttrSpec, type AttrValue, attrEquals } from './attrs.js';
import { type Dim, dimToString, SymDim } from './dim.js';
import type { Graph, Node, Value } from './graph.js';
import { findOp } from './op.js';
import { typeToString } from './types.js';
import { WEIGHT_FNS, type WeightExpr } from './weights.js';

/** Numbers that must read back as floats always show a point or an exponent. */
export function formatFloat(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  const s = String(x);
  return /[.e]/.test(s) ? s : `${s}.0`;
}

export function formatAttr(value: AttrValue, spec?: AttrSpec): string {
  if (Array.isArray(value)) {
    const items = value.map((v) => (typeof v === 'number' ? (spec?.type === 'floats' ? formatFloat(v) : String(v)) : dimToString(v as Dim)));
    return `[${items.join(', ')}]`;
  }
  if (value instanceof SymDim) return value.key;
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') return spec?.type === 'float' ? formatFloat(value) : String(value);
  return String(value);
}

export function formatAttrs(attrs: Readonly<Record<string, AttrValue>>, schema: Readonly<Record<string, AttrSpec>> | undefined): string {
  const parts: string[] = [];
  for (const name of Object.keys(attrs).sort()) {
    const spec = schema?.[name];
    if (spec?.default !== undefined && attrEquals(spec.default, attrs[name])) continue;
    parts.push(`${name} = ${formatAttr(attrs[name], spec)}`);
  }
  return parts.length ? ` {${parts.join(', ')}}` : '';
}

export function formatWeight(e: WeightExpr): string {
  if (e.kind === 'tensor') return JSON.stringify(e.name);
  return `${e.fn}(${e.args.map(formatWeight).join(', ')})${formatAttrs(e.attrs, WEIGHT_FNS[e.fn]?.attrs)}`;
}

const ref = (v: Value) => `%${v.name}`;

export function formatNode(n: Node): string {
  const def = findOp(n.op);
  const results = n.outputs.map(ref).join(', ');
  const types = n.outputs.map((v) => typeToString(v.type)).join(', ');
  return `${results} = ${n.op}(${n.inputs.map(ref).join(', ')})${formatAttrs(n.attrs, def?.attrs)} : ${types}`;
}

export function printGraph(g: Graph): string {
  const symbols = g.symbols.length ? `<${g.symbols.join(', ')}>` : '';
  const inputs = g.inputs
    .map((v) => `${v.def.kind === 'input' && v.def.state ? 'state ' : ''}${ref(v)}: ${typeToString(v.type)}`)
    .join(', ');
  const lines = [`graph @${g.name}${symbols}(${inputs}) {`];
  for (const p of g.params) {
    if (p.def.kind !== 'param') continue;
    lines.push(`  param ${ref(p)}: ${typeToString(p.type)} = ${formatWeight(p.def.source)}`);
  }
  for (const n of g.nodes) lines.push(`  ${formatNode(n)}`);
  for (const o of g.outputs) lines.push(`  output ${o.name} = ${ref(o.value)}`);
  for (const u of g.updates) lines.push(`  update ${ref(u.state)} = ${ref(u.value)}`);
  lines.push('}');
  return `${lines.join('\n')}\n`;
}
