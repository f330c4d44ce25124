// Symbolic dim simplification beyond what ir/dim.ts does while building dims: integer division
// of a polynomial whose symbolic part the divisor divides (floordiv(2*S+3, 2) = S+1), and min/max
// of dims that differ by a constant (min(S+1, S) = S). Applied to input types and dim attributes;
// result types are then re-inferred, so declared and inferred types stay identical.
import { type Attrs, type AttrValue, normalizeAttrs } from '../ir/attrs.js';
import { type Dim, type DimFn, dimAdd, dimFn, dimMul, dimSub, sym, SymDim } from '../ir/dim.js';
import type { Graph, Value } from '../ir/graph.js';
import { findOp } from '../ir/op.js';
import { type TensorType, typesEqual } from '../ir/types.js';

type Atom = SymDim['terms'][number]['atoms'][number];

const atomDim = (a: Atom, simplify: boolean): Dim =>
  a.kind === 'sym' ? sym(a.name) : simplify ? simplifyFn(a.fn, simplifyDim(a.args[0]), simplifyDim(a.args[1])) : dimFn(a.fn, a.args[0], a.args[1]);

function floorDiv(a: number, b: number): number {
  return Math.floor(a / b);
}

function simplifyFn(fn: DimFn, a: Dim, b: Dim): Dim {
  if ((fn === 'floordiv' || fn === 'ceildiv') && typeof b === 'number' && Number.isInteger(b) && b > 0 && a instanceof SymDim) {
    const rest = a.terms.filter((t) => t.atoms.length > 0);
    if (rest.every((t) => t.coeff % b === 0)) {
      // floor((b·r + c) / b) = r + floor(c / b) for integer r; likewise for ceil.
      const c = a.terms.filter((t) => t.atoms.length === 0).reduce((s, t) => s + t.coeff, 0);
      let out: Dim = fn === 'floordiv' ? floorDiv(c, b) : -floorDiv(-c, b);
      for (const t of rest) out = dimAdd(out, t.atoms.reduce<Dim>((p, x) => dimMul(p, atomDim(x, false)), t.coeff / b));
      return out;
    }
  }
  if (fn === 'min' || fn === 'max') {
    const diff = dimSub(a, b);
    if (typeof diff === 'number') {
      const aIsSmaller = diff <= 0;
      return fn === 'min' ? (aIsSmaller ? a : b) : aIsSmaller ? b : a;
    }
  }
  return dimFn(fn, a, b);
}

/** The simplest equal form of a dim (a fixed point: simplifying twice gives the same dim). */
export function simplifyDim(d: Dim): Dim {
  if (typeof d === 'number') return d;
  let out: Dim = 0;
  for (const t of d.terms) out = dimAdd(out, t.atoms.reduce<Dim>((p, a) => dimMul(p, atomDim(a, true)), t.coeff));
  return out;
}

const key = (d: Dim) => (typeof d === 'number' ? String(d) : d.key);

/** Counts the dims that simplify into `counter`. */
function simplifyShape(shape: readonly Dim[], counter: { n: number }): Dim[] {
  return shape.map((d) => {
    const s = simplifyDim(d);
    if (key(s) !== key(d)) counter.n++;
    return s;
  });
}

function simplifyAttr(v: AttrValue, counter: { n: number }): AttrValue {
  if (v instanceof SymDim) return simplifyShape([v], counter)[0];
  if (Array.isArray(v) && v.some((x) => x instanceof SymDim)) return simplifyShape(v as readonly Dim[], counter);
  return v;
}

/**
 * Simplifies the dims of input types and node attributes, and re-infers every result type.
 * Does nothing (returns 0) when nothing simplifies or when the new types would not check out.
 */
export function simplifyGraphDims(g: Graph): number {
  const counter = { n: 0 };
  const inputTypes = new Map<Value, TensorType>();
  for (const v of g.inputs) inputTypes.set(v, { dtype: v.type.dtype, shape: simplifyShape(v.type.shape, counter) });
  const nodeAttrs = g.nodes.map((n) => {
    const out: Record<string, AttrValue> = {};
    for (const [k, v] of Object.entries(n.attrs)) out[k] = simplifyAttr(v, counter);
    return out;
  });
  if (counter.n === 0) return 0;

  // Dry run: every node must still infer, so that a failure leaves the graph untouched.
  const types = new Map<Value, TensorType>(inputTypes);
  const typeOf = (v: Value) => types.get(v) ?? v.type;
  for (const [i, n] of g.nodes.entries()) {
    const def = findOp(n.op);
    if (!def) return 0;
    const { attrs, errors } = normalizeAttrs(def.attrs, nodeAttrs[i] as Attrs);
    if (errors.length) return 0;
    let inferred: TensorType[];
    try {
      inferred = def.infer(n.inputs.map(typeOf), attrs);
    } catch {
      return 0;
    }
    if (inferred.length !== n.outputs.length) return 0;
    n.outputs.forEach((v, k) => types.set(v, inferred[k]));
  }
  for (const u of g.updates) {
    const a = typeOf(u.state), b = typeOf(u.value);
    if (a.shape.length !== b.shape.length || !typesEqual({ dtype: a.dtype, shape: a.shape.slice(1) }, { dtype: b.dtype, shape: b.shape.slice(1) })) return 0;
  }

  for (const [v, t] of types) v.type = t;
  g.nodes.forEach((n, i) => (n.attrs = nodeAttrs[i]));
  return counter.n;
}
