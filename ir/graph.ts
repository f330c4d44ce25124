// The graph: SSA values, nodes in topological order, named parameters bound to checkpoint
// tensors, runtime inputs (some of them state, i.e. the KV cache), named outputs and state updates.
import type { AttrValue } from './attrs.js';
import type { SourceLoc } from './errors.js';
import type { TensorType } from './types.js';
import type { WeightExpr } from './weights.js';

export type ValueDef =
  | { readonly kind: 'input'; readonly state: boolean }
  | { readonly kind: 'param'; readonly source: WeightExpr }
  | { readonly kind: 'node'; readonly node: Node; readonly index: number };

export class Value {
  constructor(
    public name: string,
    public type: TensorType,
    public def: ValueDef,
    public loc?: SourceLoc,
  ) {}

  get producer(): Node | undefined {
    return this.def.kind === 'node' ? this.def.node : undefined;
  }
}

export class Node {
  outputs: Value[] = [];
  constructor(
    public op: string,
    public inputs: Value[],
    public attrs: Record<string, AttrValue>,
    public loc?: SourceLoc,
  ) {}
}

/** A named graph result (logits, hidden states, pooled embeddings, …). */
export interface GraphOutput {
  name: string;
  value: Value;
  /** Where the output statement is, when the graph came from text. */
  loc?: SourceLoc;
}

/** The new value of a state input after this step (e.g. the KV cache with this step appended). */
export interface StateUpdate {
  state: Value;
  value: Value;
  /** Where the update statement is, when the graph came from text. */
  loc?: SourceLoc;
}

export class Graph {
  /** Declared symbolic dimensions, e.g. S (tokens this step) and P (past length). */
  symbols: string[] = [];
  inputs: Value[] = [];
  params: Value[] = [];
  nodes: Node[] = [];
  outputs: GraphOutput[] = [];
  updates: StateUpdate[] = [];

  constructor(public name: string) {}

  /** Every value name in use. */
  names(): Set<string> {
    const s = new Set<string>();
    for (const v of this.inputs) s.add(v.name);
    for (const v of this.params) s.add(v.name);
    for (const n of this.nodes) for (const v of n.outputs) s.add(v.name);
    return s;
  }

  /** A name based on `base` that no value of this graph uses yet. */
  freshName(base: string, taken: Set<string> = this.names()): string {
    if (!taken.has(base)) return base;
    for (let i = 1; ; i++) {
      const candidate = `${base}.${i}`;
      if (!taken.has(candidate)) return candidate;
    }
  }

  stateInputs(): Value[] {
    return this.inputs.filter((v) => v.def.kind === 'input' && v.def.state);
  }

  dataInputs(): Value[] {
    return this.inputs.filter((v) => v.def.kind === 'input' && !v.def.state);
  }

  output(name: string): Value | undefined {
    return this.outputs.find((o) => o.name === name)?.value;
  }
}

/** Creates a node and its result values (which point back at it). */
export function makeNode(op: string, inputs: Value[], attrs: Record<string, AttrValue>, results: readonly { name: string; type: TensorType }[], loc?: SourceLoc): Node {
  const node = new Node(op, inputs, attrs, loc);
  node.outputs = results.map((r, index) => new Value(r.name, r.type, { kind: 'node', node, index }, loc));
  return node;
}

/** For each value, the nodes that read it (in order, a node once per operand). */
export function useMap(g: Graph): Map<Value, Node[]> {
  const uses = new Map<Value, Node[]>();
  for (const n of g.nodes) {
    for (const v of n.inputs) {
      const list = uses.get(v);
      if (list) list.push(n);
      else uses.set(v, [n]);
    }
  }
  return uses;
}

/** Redirects every use of `from` (node operands, outputs, state updates) to `to`. */
export function replaceAllUses(g: Graph, from: Value, to: Value): void {
  for (const n of g.nodes) n.inputs = n.inputs.map((v) => (v === from ? to : v));
  for (const o of g.outputs) if (o.value === from) o.value = to;
  for (const u of g.updates) if (u.value === from) u.value = to;
}

/** Values read by outputs and state updates: the graph's roots for liveness. */
export function rootValues(g: Graph): Value[] {
  return [...g.outputs.map((o) => o.value), ...g.updates.map((u) => u.value)];
}

/** A deep copy: new Value and Node objects, same names, types and attributes. */
export function cloneGraph(g: Graph): Graph {
  const out = new Graph(g.name);
  out.symbols = [...g.symbols];
  const map = new Map<Value, Value>();
  const copy = (v: Value, def: ValueDef) => {
    const c = new Value(v.name, v.type, def, v.loc);
    map.set(v, c);
    return c;
  };
  out.inputs = g.inputs.map((v) => copy(v, v.def));
  out.params = g.params.map((v) => copy(v, v.def));
  for (const n of g.nodes) {
    const inputs = n.inputs.map((v) => {
      const m = map.get(v);
      if (!m) throw new Error(`cloneGraph: %${v.name} is used by ${n.op} before it is defined`);
      return m;
    });
    const node = makeNode(n.op, inputs, { ...n.attrs }, n.outputs.map((v) => ({ name: v.name, type: v.type })), n.loc);
    n.outputs.forEach((v, i) => map.set(v, node.outputs[i]));
    out.nodes.push(node);
  }
  const get = (v: Value) => {
    const m = map.get(v);
    if (!m) throw new Error(`cloneGraph: %${v.name} is not defined in the graph`);
    return m;
  };
  out.outputs = g.outputs.map((o) => ({ name: o.name, value: get(o.value) }));
  out.updates = g.updates.map((u) => ({ state: get(u.state), value: get(u.value) }));
  return out;
}
