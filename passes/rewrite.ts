// Helpers the fusion passes share: typed node construction, use lists, node replacement, and new
// parameters computed at compile time from other parameters' weight sources.
import { type Attrs, type AttrValue, normalizeAttrs } from '../ir/attrs.js';
import { type Graph, makeNode, type Node, replaceAllUses, rootValues, useMap, Value } from '../ir/graph.js';
import { getOp } from '../ir/op.js';
import { tensorType, type TensorType, typesEqual, typeToString } from '../ir/types.js';
import { WEIGHT_FNS, weightCall, type WeightExpr } from '../ir/weights.js';
import { simplifyWeight } from './weight-exprs.js';

/** A node's attributes with defaults filled in (what type inference and evaluation see). */
export function attrsOf(n: Node): Attrs {
  const { attrs, errors } = normalizeAttrs(getOp(n.op).attrs, n.attrs);
  if (errors.length) throw new Error(`${n.op}: ${errors.join('; ')}`);
  return attrs;
}

/** Who reads each value, and which values the graph itself returns. Built once per rewrite round. */
export class Uses {
  private readonly users: Map<Value, Node[]>;
  private readonly roots: Set<Value>;
  constructor(g: Graph) {
    this.users = useMap(g);
    this.roots = new Set(rootValues(g));
  }
  /** The nodes that read v, once per operand. */
  of(v: Value): readonly Node[] {
    return this.users.get(v) ?? [];
  }
  /** An output or a state update reads v. */
  isRoot(v: Value): boolean {
    return this.roots.has(v);
  }
  /** v has exactly one use: operand of `n`, and nothing else (not an output either). */
  onlyFeeds(v: Value, n: Node): boolean {
    const us = this.of(v);
    return !this.isRoot(v) && us.length === 1 && us[0] === n;
  }
  /** Every use of v is by one of `nodes`, and the graph does not return v. */
  usedOnlyBy(v: Value, nodes: ReadonlySet<Node>): boolean {
    return !this.isRoot(v) && this.of(v).every((u) => nodes.has(u));
  }
}

/** Builds a node whose result types are inferred (throws, naming the op, when they do not check out). */
export function newNode(op: string, inputs: readonly Value[], attrs: Record<string, AttrValue>, names: readonly string[]): Node {
  const def = getOp(op);
  const { attrs: full, errors } = normalizeAttrs(def.attrs, attrs);
  if (errors.length) throw new Error(`${op}: ${errors.join('; ')}`);
  const types = def.infer(inputs.map((v) => v.type), full);
  if (types.length !== names.length) throw new Error(`${op} gives ${types.length} result(s), ${names.length} name(s) given`);
  // Nodes hold normalized attributes (defaults filled in), as the builder and the parser make them.
  return makeNode(op, [...inputs], full, types.map((type, i) => ({ name: names[i], type })));
}

/**
 * Puts `replacement` where `old` was and redirects every use of old's results to the replacement's
 * (same count and types required: a rewrite must not change what the graph computes).
 */
export function replaceNode(g: Graph, old: Node, replacement: Node): void {
  const at = g.nodes.indexOf(old);
  if (at < 0) throw new Error(`replaceNode: ${old.op} is not in the graph`);
  old.outputs.forEach((v, i) => {
    const to = replacement.outputs[i];
    if (!to || !typesEqual(v.type, to.type)) throw new Error(`replaceNode: ${replacement.op} result ${i} is ${to ? typeToString(to.type) : 'missing'}, ${old.op} gave ${typeToString(v.type)}`);
  });
  g.nodes[at] = replacement;
  old.outputs.forEach((v, i) => replaceAllUses(g, v, replacement.outputs[i]));
}

/** Removes parameters among `candidates` that no node reads any more (they died in a rewrite). */
export function dropDeadParams(g: Graph, candidates: Iterable<Value>): void {
  const read = new Set<Value>();
  for (const n of g.nodes) for (const v of n.inputs) read.add(v);
  for (const o of rootValues(g)) read.add(o);
  const dead = new Set([...candidates].filter((p) => !read.has(p)));
  if (dead.size) g.params = g.params.filter((p) => !dead.has(p));
}

/** The weight source of a parameter, or undefined for any other value. */
export function sourceOf(v: Value | undefined): WeightExpr | undefined {
  return v?.def.kind === 'param' ? v.def.source : undefined;
}

/** A weight expression with the type it evaluates to. */
export interface TypedWeight {
  readonly source: WeightExpr;
  readonly type: TensorType;
}

export function typedWeight(p: Value): TypedWeight {
  const source = sourceOf(p);
  if (!source) throw new Error(`%${p.name} is not a parameter`);
  return { source, type: p.type };
}

/** A weight transform applied at compile time; the type comes from the arguments' declared types. */
export function transform(fn: string, args: readonly TypedWeight[], attrs: Record<string, AttrValue> = {}): TypedWeight {
  const call = weightCall(fn, args.map((a) => a.source), attrs);
  if (call.kind !== 'call') throw new Error('unreachable');
  const t = WEIGHT_FNS[fn].type(args.map((a) => ({ dtype: a.type.dtype, shape: a.type.shape as number[] })), call.attrs);
  return { source: simplifyWeight(call), type: tensorType(t.dtype, t.shape) };
}

/** A name for a value that stands for several: common prefix and suffix kept, the middles joined by '_'. */
export function joinedName(names: readonly string[]): string {
  if (names.length === 1) return names[0];
  let pre = 0;
  while (names.every((n) => pre < n.length && n[pre] === names[0][pre])) pre++;
  let suf = 0;
  const shortest = Math.min(...names.map((n) => n.length));
  while (suf < shortest - pre && names.every((n) => n[n.length - 1 - suf] === names[0][names[0].length - 1 - suf])) suf++;
  const mids = names.map((n) => n.slice(pre, n.length - suf));
  return names[0].slice(0, pre) + mids.join('_') + names[0].slice(names[0].length - suf);
}

/** Adds a parameter bound to `w`, named after `base` (made unique). */
export function addParam(g: Graph, base: string, w: TypedWeight): Value {
  const name = g.freshName(/^[A-Za-z0-9_]/.test(base) ? base : `p${base}`);
  const v = new Value(name, w.type, { kind: 'param', source: w.source });
  g.params.push(v);
  return v;
}
