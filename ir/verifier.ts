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

/**
 * Numeric attributes whose value must lie in a range for the op to compute anything but NaN/Inf:
 * the schema only types them. `applies` skips nodes where the attribute is unused.
 */
interface AttrRange {
  readonly ok: (v: number) => boolean;
  readonly want: string;
  /** Stricter bound for a graph that is to run (`complete`). */
  readonly complete?: { readonly ok: (v: number) => boolean; readonly want: string };
  readonly applies?: (n: Node) => boolean;
}

const ATTR_RANGES: Readonly<Record<string, AttrRange>> = {
  // eps 0 is exact arithmetic (kernel tests use it) but divides by zero on an all-zero row, so a
  // graph that runs needs eps > 0. rope_matmul carries eps 0 when it has no norm prologue.
  eps: {
    ok: (v) => Number.isFinite(v) && v >= 0, want: 'a finite number ≥ 0',
    complete: { ok: (v) => Number.isFinite(v) && v > 0, want: 'a finite number > 0' },
    applies: (n) => n.attrs.norm !== 'none',
  },
  scale: { ok: (v) => Number.isFinite(v) && v !== 0, want: 'a finite non-zero number' },
  softcap: { ok: (v) => Number.isFinite(v) && v >= 0, want: 'a finite number ≥ 0 (0 = off)' },
  cap: { ok: (v) => Number.isFinite(v) && v > 0, want: 'a finite number > 0' },
  theta: { ok: (v) => Number.isFinite(v) && v > 0, want: 'a finite number > 0' },
};

function checkAttrRanges(n: Node, attrs: Readonly<Record<string, unknown>>, complete: boolean, report: (m: string) => void): void {
  for (const [name, rule] of Object.entries(ATTR_RANGES)) {
    const v = attrs[name];
    if (typeof v !== 'number' || (rule.applies && !rule.applies(n))) continue;
    const { ok, want } = complete && rule.complete ? rule.complete : rule;
    if (!ok(v)) report(`attribute '${name}' is ${v}; it must be ${want}`);
  }
}

export interface VerifyOptions {
  /**
   * The graph is to run as a model step, not a fragment under construction or test: it must
   * have outputs, every state input must be updated, and eps must be > 0.
   */
  readonly complete?: boolean;
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
export function verifyIssues(g: Graph, opts: VerifyOptions = {}): VerifyIssue[] {
  const complete = opts.complete === true;
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
    checkAttrRanges(n, attrs, complete, (m) => report(`${where}: ${m}`, n.loc));
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

  if (complete && g.outputs.length === 0) report(`graph @${g.name} has no outputs (add 'output name = %value')`, g.inputs[0]?.loc);
  const outNames = new Set<string>();
  for (const o of g.outputs) {
    if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(o.name)) report(`invalid output name '${o.name}'`, o.loc);
    if (outNames.has(o.name)) report(`output '${o.name}' is defined twice`, o.loc);
    outNames.add(o.name);
    if (!defined.has(o.value)) report(`output '${o.name}' refers to %${o.value.name}, which is not defined`, o.loc);
  }
  const updated = new Set<Value>();
  for (const u of g.updates) {
    const where = `update %${u.state.name}`;
    // Text gives the update statement's place; a built graph has none, so the new value's stands in.
    const loc = u.loc ?? u.value.loc;
    if (!(u.state.def.kind === 'input' && u.state.def.state) || !g.inputs.includes(u.state)) report(`${where}: %${u.state.name} is not a state input`, loc);
    if (updated.has(u.state)) report(`${where}: the state is updated twice`, loc);
    updated.add(u.state);
    if (!defined.has(u.value)) { report(`${where}: %${u.value.name} is not defined`, loc); continue; }
    // A state grows along its first axis from step to step (the KV cache), so only the dtype,
    // the rank and the trailing dims must agree.
    const a = u.state.type, b = u.value.type;
    if (a.dtype !== b.dtype || a.shape.length !== b.shape.length || a.shape.some((d, i) => i > 0 && !dimEquals(d, b.shape[i]))) {
      report(`${where}: new value %${u.value.name}: ${typeToString(b)} does not fit state ${typeToString(a)} (same dtype, rank and trailing dims ${shapeToString(a.shape.slice(1))} required)`, loc);
    }
  }
  // A state nobody updates would be read each step as it was first given: the cache never grows.
  for (const v of complete ? g.inputs : []) {
    if (v.def.kind === 'input' && v.def.state && !updated.has(v)) report(`state input %${v.name} has no update (add 'update %${v.name} = %new_value')`, v.loc);
  }
  return issues;
}

/** Throws an IRError listing every problem (the first one's location leads). */
export function verifyGraph(g: Graph, opts: VerifyOptions = {}): void {
  const issues = verifyIssues(g, opts);
  if (issues.length === 0) return;
  const lines = issues.map((i) => (i.loc ? `${i.loc.line}:${i.loc.column}: ${i.message}` : i.message));
  throw new IRError(`graph @${g.name} is invalid:\n  ${lines.join('\n  ')}`);
}
