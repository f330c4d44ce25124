// Folding of layout ops that do nothing or can be done in one step: reshape to the same shape,
// reshape of a reshape, identity transpose, transpose of a transpose, a slice covering its whole
// axis, a slice of a slice, a slice that picks exactly one operand of a concat, concat or split
// of a single piece. Every rule is guarded twice: the op must be registered (ops arrive
// independently of this pass), and the rewrite must infer exactly the node's old result types.
import { type Attrs, type AttrValue, normalizeAttrs } from '../ir/attrs.js';
import { type Dim, dimAdd, dimEquals } from '../ir/dim.js';
import type { Graph, Node, Value } from '../ir/graph.js';
import { findOp } from '../ir/op.js';
import { typesEqual } from '../ir/types.js';

/** What a rule did: replaced the node's only result by an existing value, or rewrote the node. */
type FoldResult = { replaceWith: Value } | 'rewritten' | undefined;

interface FoldRule {
  readonly op: string;
  /** The statistic this rule counts under. */
  readonly stat: string;
  fold(n: Node, attrs: Attrs): FoldResult;
}

/** Attributes with defaults filled in (what type inference sees). */
function attrsOf(n: Node): Attrs | undefined {
  const def = findOp(n.op);
  if (!def) return undefined;
  const { attrs, errors } = normalizeAttrs(def.attrs, n.attrs);
  return errors.length ? undefined : attrs;
}

const producerOf = (v: Value, op: string): Node | undefined => (v.producer?.op === op ? v.producer : undefined);

const normAxis = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);

/** Rewrites `n` to new operands and attributes when that infers the same result types. */
function rewrite(n: Node, inputs: Value[], attrs: Record<string, AttrValue>): FoldResult {
  const def = findOp(n.op);
  if (!def) return undefined;
  const { attrs: full, errors } = normalizeAttrs(def.attrs, attrs);
  if (errors.length) return undefined;
  try {
    const types = def.infer(inputs.map((v) => v.type), full);
    if (types.length !== n.outputs.length || types.some((t, i) => !typesEqual(t, n.outputs[i].type))) return undefined;
  } catch {
    return undefined;
  }
  n.inputs = inputs;
  n.attrs = attrs;
  return 'rewritten';
}

const isIdentityPerm = (perm: readonly number[]) => perm.every((p, i) => p === i);

const RULES: readonly FoldRule[] = [
  {
    op: 'reshape',
    stat: 'reshapes-removed',
    fold: (n) => (typesEqual(n.inputs[0].type, n.outputs[0].type) ? { replaceWith: n.inputs[0] } : undefined),
  },
  {
    op: 'reshape',
    stat: 'reshapes-merged',
    fold(n) {
      const inner = producerOf(n.inputs[0], 'reshape');
      return inner ? rewrite(n, [inner.inputs[0]], { ...n.attrs }) : undefined;
    },
  },
  {
    op: 'transpose',
    stat: 'transposes-removed',
    fold: (n, a) => (isIdentityPerm(a.perm as readonly number[]) ? { replaceWith: n.inputs[0] } : undefined),
  },
  {
    op: 'transpose',
    stat: 'transposes-merged',
    fold(n, a) {
      const inner = producerOf(n.inputs[0], 'transpose');
      const innerAttrs = inner && attrsOf(inner);
      if (!inner || !innerAttrs) return undefined;
      // Result axis i of the outer is inner axis outer[i], which is x axis inner[outer[i]].
      const p1 = innerAttrs.perm as readonly number[], p2 = a.perm as readonly number[];
      return rewrite(n, [inner.inputs[0]], { ...n.attrs, perm: p2.map((p) => p1[p]) });
    },
  },
  {
    op: 'slice',
    stat: 'slices-removed',
    fold(n, a) {
      const x = n.inputs[0];
      const size = x.type.shape[normAxis(a.axis as number, x.type.shape.length)];
      return a.start === 0 && size !== undefined && dimEquals(a.end as Dim, size) ? { replaceWith: x } : undefined;
    },
  },
  {
    op: 'slice',
    stat: 'slices-merged',
    fold(n, a) {
      const inner = producerOf(n.inputs[0], 'slice');
      const ia = inner && attrsOf(inner);
      if (!inner || !ia) return undefined;
      const rank = n.inputs[0].type.shape.length;
      if (normAxis(ia.axis as number, rank) !== normAxis(a.axis as number, rank)) return undefined;
      const base = ia.start as Dim;
      return rewrite(n, [inner.inputs[0]], { ...n.attrs, start: dimAdd(base, a.start as Dim), end: dimAdd(base, a.end as Dim) });
    },
  },
  {
    op: 'slice',
    stat: 'slices-of-concat-folded',
    fold(n, a) {
      const cat = producerOf(n.inputs[0], 'concat');
      const ca = cat && attrsOf(cat);
      if (!cat || !ca) return undefined;
      const rank = n.inputs[0].type.shape.length;
      const axis = normAxis(a.axis as number, rank);
      if (normAxis(ca.axis as number, rank) !== axis) return undefined;
      let offset: Dim = 0;
      for (const x of cat.inputs) {
        const end = dimAdd(offset, x.type.shape[axis]);
        if (dimEquals(offset, a.start as Dim) && dimEquals(end, a.end as Dim)) return { replaceWith: x };
        offset = end;
      }
      return undefined;
    },
  },
  {
    op: 'concat',
    stat: 'concats-removed',
    fold: (n) => (n.inputs.length === 1 ? { replaceWith: n.inputs[0] } : undefined),
  },
  {
    op: 'split',
    stat: 'splits-removed',
    fold: (n) => (n.outputs.length === 1 ? { replaceWith: n.inputs[0] } : undefined),
  },
];

/**
 * Applies every rule once per node, in graph order, and redirects uses of replaced results.
 * Replaced nodes are left for dead code elimination. Returns counts by statistic name.
 */
export function foldLayout(g: Graph): Map<string, number> {
  const counts = new Map<string, number>();
  const rules = RULES.filter((r) => findOp(r.op));
  if (rules.length === 0) return counts;
  const subst = new Map<Value, Value>();
  const resolve = (v: Value) => subst.get(v) ?? v;
  for (const n of g.nodes) {
    n.inputs = n.inputs.map(resolve);
    for (const rule of rules) {
      if (rule.op !== n.op) continue;
      const attrs = attrsOf(n);
      if (!attrs || n.inputs.length === 0) break;
      const result = rule.fold(n, attrs);
      if (!result) continue;
      if (result !== 'rewritten') {
        // The replacement must be indistinguishable from the result it stands for.
        if (n.outputs.length !== 1 || !typesEqual(result.replaceWith.type, n.outputs[0].type)) continue;
        subst.set(n.outputs[0], resolve(result.replaceWith));
      }
      counts.set(rule.stat, (counts.get(rule.stat) ?? 0) + 1);
      if (result !== 'rewritten') break;
    }
  }
  if (subst.size) {
    for (const o of g.outputs) o.value = resolve(o.value);
    for (const u of g.updates) u.value = resolve(u.value);
  }
  return counts;
}
