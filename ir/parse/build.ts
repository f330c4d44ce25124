// From syntax tree to Graph: resolves names in text order (SSA: a value is defined once, before
// its uses), reads types, dims, attributes and weight sources, and attaches source locations.
// What needs op type inference (operand counts, shapes, result types) is left to the verifier.
import { DIM_FNS } from '../dim.js';
import { DTYPES, isDType } from '../dtype.js';
import { Graph, makeNode, Value } from '../graph.js';
import { findOp, listOps } from '../op.js';
import { type TensorType, tensorType } from '../types.js';
import { WEIGHT_FNS, type WeightExpr, weightCall, weightTensor } from '../weights.js';
import type { GraphAst, Name, Span, StmtAst, TypeAst, WeightAst } from './ast.js';
import { didYouMean } from './suggest.js';
import { Reader, readAttrs, readDim } from './values.js';

const where = (at: Span) => `${at.line}:${at.column}`;
const pct = (s: string) => `%${s}`;

class GraphBuild {
  private readonly r: Reader;
  private readonly graph: Graph;
  private readonly scope = new Map<string, Value>();
  /** Where each value name is first defined, to tell "defined later" from "not defined". */
  private readonly definedAt = new Map<string, Span>();
  private readonly outputsAt = new Map<string, Span>();
  private readonly updatedAt = new Map<Value, Span>();

  constructor(private readonly ast: GraphAst, source: string, file: string | undefined) {
    this.graph = new Graph(ast.name.text);
    const symbols = new Set<string>();
    this.r = new Reader(source, file, symbols, ast.name.text);
    for (const s of ast.symbols) {
      if (symbols.has(s.text)) this.r.fail(`symbol '${s.text}' is declared twice`, s.at);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(s.text) || (DIM_FNS as readonly string[]).includes(s.text)) {
        this.r.fail(`'${s.text}' is not a valid symbol name (letters, digits and '_', not ${DIM_FNS.join(', ')})`, s.at);
      }
      symbols.add(s.text);
    }
    this.graph.symbols = [...symbols];
  }

  run(): Graph {
    const note = (n: Name) => {
      if (!this.definedAt.has(n.text)) this.definedAt.set(n.text, n.at);
    };
    for (const i of this.ast.inputs) note(i.name);
    for (const s of this.ast.body) {
      if (s.kind === 'param') note(s.name);
      else if (s.kind === 'node') s.results.forEach(note);
    }

    for (const i of this.ast.inputs) {
      const v = new Value(i.name.text, this.readType(i.type), { kind: 'input', state: i.state }, this.r.loc(i.name.at));
      this.declare(i.name, v);
      this.graph.inputs.push(v);
    }
    for (const s of this.ast.body) this.statement(s);
    return this.graph;
  }

  private statement(s: StmtAst): void {
    switch (s.kind) {
      case 'param': {
        const v = new Value(s.name.text, this.readType(s.type), { kind: 'param', source: this.readWeight(s.source) }, this.r.loc(s.name.at));
        this.declare(s.name, v);
        this.graph.params.push(v);
        return;
      }
      case 'node':
        return this.node(s);
      case 'output': {
        const first = this.outputsAt.get(s.name.text);
        if (first) this.r.fail(`output '${s.name.text}' is defined twice (first at ${where(first)})`, s.name.at);
        this.outputsAt.set(s.name.text, s.name.at);
        this.graph.outputs.push({ name: s.name.text, value: this.resolve(s.value), loc: this.r.loc(s.name.at) });
        return;
      }
      case 'update': {
        const state = this.resolve(s.state);
        if (state.def.kind !== 'input' || !state.def.state) {
          const is = state.def.kind === 'input' ? "an input not declared 'state'" : state.def.kind === 'param' ? 'a parameter' : 'an op result';
          this.r.fail(`update: %${state.name} is ${is}; only state inputs ('state %name: type') can be updated`, s.state.at);
        }
        const first = this.updatedAt.get(state);
        if (first) this.r.fail(`update: state %${state.name} is updated twice (first at ${where(first)})`, s.state.at);
        this.updatedAt.set(state, s.state.at);
        this.graph.updates.push({ state, value: this.resolve(s.value), loc: this.r.loc(s.state.at) });
        return;
      }
    }
  }

  private node(s: Extract<StmtAst, { kind: 'node' }>): void {
    const def = findOp(s.op.text);
    if (!def) {
      const names = listOps().map((d) => d.name);
      const hint = didYouMean(s.op.text, names) || ` (known: ${names.slice(0, 12).join(', ')}${names.length > 12 ? ', …' : ''})`;
      this.r.fail(`unknown op '${s.op.text}'${hint}`, s.op.at);
    }
    if (s.results.length !== s.types.length) {
      this.r.fail(`${s.results.length} result name(s) but ${s.types.length} result type(s) after ':'`, s.types[0]?.at ?? s.at);
    }
    const inputs = s.operands.map((n) => this.resolve(n));
    const attrs = readAttrs(this.r, s.attrs, def.attrs, def.name, s.op.at);
    const results = s.results.map((n, i) => ({ name: n.text, type: this.readType(s.types[i]) }));
    const node = makeNode(def.name, inputs, attrs, results, this.r.loc(s.at));
    node.outputs.forEach((v, i) => {
      // Each result points at its own name; the node (and its first result) at the line's start.
      v.loc = this.r.loc(s.results[i].at);
      this.declare(s.results[i], v);
    });
    this.graph.nodes.push(node);
  }

  private declare(n: Name, v: Value): void {
    const prev = this.scope.get(n.text);
    if (prev) this.r.fail(`%${n.text} is defined twice (first at ${where(this.definedAt.get(n.text) ?? n.at)})`, n.at);
    this.scope.set(n.text, v);
  }

  private resolve(n: Name): Value {
    const v = this.scope.get(n.text);
    if (v) return v;
    const later = this.definedAt.get(n.text);
    if (later) this.r.fail(`%${n.text} is used before it is defined (at ${where(later)})`, n.at);
    return this.r.fail(`unknown value %${n.text}${didYouMean(n.text, this.scope.keys(), pct)}`, n.at);
  }

  private readType(t: TypeAst): TensorType {
    const dtype = t.dtype.text;
    if (!isDType(dtype)) this.r.fail(`unknown dtype '${dtype}' (known: ${DTYPES.join(', ')})${didYouMean(dtype, DTYPES)}`, t.dtype.at);
    return tensorType(dtype, t.shape.map((d) => readDim(this.r, d)));
  }

  private readWeight(w: WeightAst): WeightExpr {
    if (w.kind === 'tensor') {
      if (!w.name) this.r.fail('empty checkpoint tensor name', w.at);
      return weightTensor(w.name);
    }
    const name = w.fn.text;
    const fn = Object.hasOwn(WEIGHT_FNS, name) ? WEIGHT_FNS[name] : undefined;
    if (!fn) {
      const known = Object.keys(WEIGHT_FNS);
      this.r.fail(`unknown weight transform '${name}' (known: ${known.join(', ')})${didYouMean(name, known)}`, w.fn.at);
    }
    if (fn.arity === 'many' ? w.args.length === 0 : w.args.length !== fn.arity) {
      const want = fn.arity === 'many' ? 'at least 1' : String(fn.arity);
      this.r.fail(`weight transform ${name} takes ${want} argument(s), got ${w.args.length}`, w.fn.at);
    }
    const args = w.args.map((a) => this.readWeight(a));
    return weightCall(name, args, readAttrs(this.r, w.attrs, fn.attrs, `weight transform ${name}`, w.fn.at));
  }
}

/** The Graph a syntax tree describes (not yet verified). Throws IRError at the first problem. */
export function buildGraph(ast: GraphAst, source: string, file?: string): Graph {
  return new GraphBuild(ast, source, file).run();
}
