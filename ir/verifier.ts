// The verifier: SSA well-formedness, known ops, operand counts, attributes against their schema,
// declared symbols, and result types equal to what each op infers. Every error names the node
// and, when the graph came from text, its line and column.
import { normalizeAttrs } from './attrs.js';
import { dimEquals, shapeToString } from './dim.js';
import { IRError, type SourceLoc } from './errors.js';
import type { Graph, Node, Value } from './graph.js';
import { findOp, operandArity } from './op.js';
import './ops/index.js';
import { typeSymbols, typesEqual, typeToString, type TensorType } from './types.js';
import { WEIGHT_FNS, type WeightExpr } from './weights.js';

export interface VerifyIssue {
  readonly message: string;
  readonly loc?: SourceLoc;
}

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.]*$/;

function describeNode(n: Node, index: number): string {
  const results = n.outputs.map((v) => `%${v.name}`).join(', ') || '(no results)';
  return `node ${index} (${results} = ${n.op})`;
}

function checkWeight(e: WeightExpr, report: (m: string) => void): void {
  if (e.kind === 'tensor') {
    if (!e.name) report('empty checkpoint tensor name');
    return;
  }
  const fn = WEIGHT_FNS[e.fn];
  if (!fn) {
    report(`unknown weight transform '${e.fn}' (known: ${Object.keys(WEIGHT_FNS).join(', ')})`);
    return;
  }
  if (fn.arity !== 'many' && e.args.length !== fn.arity) report(`weight transform ${e.fn} takes ${fn.arity} argument(s), got ${e.args.length}`);
  for (const m of normalizeAttrs(fn.attrs, e.attrs).errors) report(`weight transform ${e.fn}: ${m}`);
  for (const a of e.args) checkWeight(a, report);
}

/** All problems found, in graph order (empty when the graph is well formed). */
export function verifyIssues(g: Graph): VerifyIssue[] {
  const issues: VerifyIssue[] = [];
  const symbols = new Set<string>();
  const names = new Set<string>();
  const defined = new Set<Value>();
  const report = (message: string, loc?: SourceLoc) => issues.push({ message, loc });

  for (const s of g.symbols) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(s)) report(`invalid symbol name '${s}'`);
    if (symbols.has(s)) report(`symbol '${s}' is declared twice`);
    symbols.add(s);
  }
  const checkType = (t: TensorType, what: string, loc?: SourceLoc) => {
    for (const s of typeSymbols(t)) if (!symbols.has(s)) report(`${what}: type ${typeToString(t)} uses undeclared symbol '${s}' (declare it in graph @${g.name}<…>)`, loc);
    for (const d of t.shape) if (typeof d === 'number' && (!Number.isInteger(d) || d < 0)) report(`${what}: dimension ${d} in ${typeToString(t)} is not a non-negative integer`, loc);
  };
  const declare = (v: Value, what: string) => {
    if (!NAME.test(v.name)) report(`${what}: invalid value name '%${v.name}'`, v.loc);
    if (names.has(v.name)) report(`${what}: %${v.name} is defined twice`, v.loc);
    names.add(v.name);
    defined.add(v);
  };

  for (const v of g.inputs) {
    if (v.def.kind !== 'input') report(`input %${v.name} is not marked as an input`, v.loc);
    checkType(v.type, `input %${v.name}`, v.loc);
    declare(v, `input %${v.name}`);
  }
  for (const p of g.params) {
    if (p.def.kind !== 'param') report(`param %${p.name} is not marked as a parameter`, p.loc);
    else checkWeight(p.def.source, (m) => report(`param %${p.name}: ${m}`, p.loc));
    if (p.type.shape.some((d) => typeof d !== 'number')) report(`param %${p.name}: parameters need a static shape, got ${typeToString(p.type)}`, p.loc);
    declare(p, `param %${p.name}`);
  }

  g.nodes.forEach((n, index) => {
    const where = describeNode(n, index);
    const def = findOp(n.op);
    if (!def) {
      report(`${where}: unknown op '${n.op}'`, n.loc);
      n.outputs.forEach((v) => declare(v, where));
      return;
    }
    const [min, max] = operandArity(def);
    if (n.inputs.length < min || n.inputs.length > max) {
      const want = min === max ? `${min}` : max === Infinity ? `at least ${min}` : `${min} to ${max}`;
      report(`${where}: ${n.op} takes ${want} operand(s) (${def.operands.join(', ')}), got ${n.inputs.length}`, n.loc);
    }
    for (const v of n.inputs) if (!defined.has(v)) report(`${where}: operand %${v.name} is used before it is defined`, n.loc);
    const { attrs, errors } = normalizeAttrs(def.attrs, n.attrs);
    for (const e of errors) report(`${where}: ${e}`, n.loc);
    n.outputs.forEach((v, i) => {
      if (v.def.kind !== 'node' || v.def.node !== n || v.def.index !== i) report(`${where}: result %${v.name} does not point back at its node`, n.loc);
      checkType(v.type, `${where} result %${v.name}`, n.loc);
    });
    if (errors.length === 0 && n.inputs.length >= min && n.inputs.length <= max) {
      try {
        const inferred = def.infer(n.inputs.map((v) => v.type), attrs);
        if (inferred.length !== n.outputs.length) {
          report(`${where}: ${n.op} produces ${inferred.length} result(s), the node declares ${n.outputs.length}`, n.loc);
        } else {
          inferred.forEach((t, i) => {
            if (!typesEqual(t, n.outputs[i].type)) report(`${where}: result %${n.outputs[i].name} is declared ${typeToString(n.outputs[i].type)} but ${n.op} gives ${typeToString(t)}`, n.loc);
          });
        }
      } catch (e) {
        report(`${where}: ${(e as Error).message}`, n.loc);
      }
    }
    n.outputs.forEach((v) => declare(v, where));
  });

  const outNames = new Set<string>();
  for (const o of g.outputs) {
    if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(o.name)) report(`invalid output name '${o.name}'`);
    if (outNames.has(o.name)) report(`output '${o.name}' is defined twice`);
    outNames.add(o.name);
    if (!defined.has(o.value)) report(`output '${o.name}' refers to %${o.value.name}, which is not defined`);
  }
  const updated = new Set<Value>();
  for (const u of g.updates) {
    const where = `update %${u.state.name}`;
    if (!(u.state.def.kind === 'input' && u.state.def.state) || !g.inputs.includes(u.state)) report(`${where}: %${u.state.name} is not a state input`);
    if (updated.has(u.state)) report(`${where}: the state is updated twice`);
    updated.add(u.state);
    if (!defined.has(u.value)) { report(`${where}: %${u.value.name} is not defined`); continue; }
    // A state grows along its first axis from step to step (the KV cache), so only the dtype,
    // the rank and the trailing dims must agree.
    const a = u.state.type, b = u.value.type;
    if (a.dtype !== b.dtype || a.shape.length !== b.shape.length || a.shape.some((d, i) => i > 0 && !dimEquals(d, b.shape[i]))) {
      report(`${where}: new value %${u.value.name}: ${typeToString(b)} does not fit state ${typeToString(a)} (same dtype, rank and trailing dims ${shapeToString(a.shape.slice(1))} required)`);
    }
  }
  return issues;
}

/** Throws an IRError listing every problem (the first one's location leads). */
export function verifyGraph(g: Graph): void {
  const issues = verifyIssues(g);
  if (issues.length === 0) return;
  const lines = issues.map((i) => (i.loc ? `${i.loc.line}:${i.loc.column}: ${i.message}` : i.message));
  throw new IRError(`graph @${g.name} is invalid:\n  ${lines.join('\n  ')}`);
}
