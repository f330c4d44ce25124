// A typed API for writing graphs. Every op is type-checked as it is added, so a model builder
// that gets a shape wrong fails at the line that did it, with the op and operand types named.
import { type AttrValue, normalizeAttrs } from './attrs.js';
import { type Dim, sym, type SymDim } from './dim.js';
import type { DType } from './dtype.js';
import { IRError } from './errors.js';
import { Graph, makeNode, type Value } from './graph.js';
import { getOp, operandArity } from './op.js';
import './ops/index.js';
import { tensorType, typeToString } from './types.js';
import { verifyGraph, type VerifyOptions } from './verifier.js';
import { type WeightExpr, weightTensor } from './weights.js';

export class GraphBuilder {
  readonly graph: Graph;
  private readonly taken = new Set<string>();

  constructor(name: string, symbols: readonly string[] = []) {
    this.graph = new Graph(name);
    this.graph.symbols = [...symbols];
  }

  /** A declared symbolic dim. */
  sym(name: string): SymDim {
    if (!this.graph.symbols.includes(name)) throw new IRError(`symbol '${name}' is not declared in graph @${this.graph.name}`);
    return sym(name);
  }

  private name(base: string): string {
    const n = this.graph.freshName(base, this.taken);
    this.taken.add(n);
    return n;
  }

  input(name: string, dtype: DType, shape: readonly Dim[], opts: { state?: boolean } = {}): Value {
    const v = this.valueOf(name, dtype, shape, { kind: 'input', state: opts.state ?? false });
    this.graph.inputs.push(v);
    return v;
  }

  param(name: string, dtype: DType, shape: readonly number[], source: string | WeightExpr): Value {
    const v = this.valueOf(name, dtype, shape, { kind: 'param', source: typeof source === 'string' ? weightTensor(source) : source });
    this.graph.params.push(v);
    return v;
  }

  private valueOf(name: string, dtype: DType, shape: readonly Dim[], def: Value['def']): Value {
    const node = makeNode('_', [], {}, [{ name: this.name(name), type: tensorType(dtype, shape) }]);
    const v = node.outputs[0];
    v.def = def;
    return v;
  }

  /** Adds an op with one result. */
  op(op: string, operands: readonly Value[], attrs: Record<string, AttrValue> = {}, name?: string): Value {
    return this.ops(op, operands, attrs, name ? [name] : undefined)[0];
  }

  /** Adds an op and returns all of its results. */
  ops(op: string, operands: readonly Value[], attrs: Record<string, AttrValue> = {}, names?: readonly string[]): Value[] {
    const def = getOp(op);
    const describe = () => `${op}(${operands.map((v) => `%${v.name}: ${typeToString(v.type)}`).join(', ')})`;
    const [min, max] = operandArity(def);
    if (operands.length < min || operands.length > max) {
      throw new IRError(`${describe()}: ${op} takes operands (${def.operands.join(', ')}), got ${operands.length}`);
    }
    const { attrs: normalized, errors } = normalizeAttrs(def.attrs, attrs);
    if (errors.length) throw new IRError(`${describe()}: ${errors.join('; ')}`);
    let types;
    try {
      types = def.infer(operands.map((v) => v.type), normalized);
    } catch (e) {
      throw new IRError(`${describe()}: ${(e as Error).message}`);
    }
    const results = types.map((type, i) => ({ name: this.name(names?.[i] ?? (types.length === 1 ? op : `${op}.${i}`)), type }));
    const node = makeNode(op, [...operands], normalized, results);
    this.graph.nodes.push(node);
    return node.outputs;
  }

  output(name: string, value: Value): void {
    this.graph.outputs.push({ name, value });
  }

  update(state: Value, value: Value): void {
    this.graph.updates.push({ state, value });
  }

  /** The finished graph, verified (`complete`: as a graph that runs as a model step). */
  finish(opts: VerifyOptions = {}): Graph {
    verifyGraph(this.graph, opts);
    return this.graph;
  }
}
