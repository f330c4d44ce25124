// Invariant 1 of the design: print(parse(print(g))) === print(g), and the parsed graph is the same
// graph (ops, attributes, types, names, weight sources), on random valid graphs.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AttrValue } from '../../ir/attrs.js';
import { type Dim, dimEquals, SymDim } from '../../ir/dim.js';
import type { Graph, Value } from '../../ir/graph.js';
import { parseGraph } from '../../ir/parser.js';
import { printGraph } from '../../ir/printer.js';
import { typesEqual } from '../../ir/types.js';
import type { WeightExpr } from '../../ir/weights.js';
import { randomGraph } from '../helpers/random-graph.js';

/** Like attrEquals, but NaN equals NaN (a NaN attribute must come back as NaN). */
function sameAttr(a: AttrValue | undefined, b: AttrValue | undefined): boolean {
  if (typeof a === 'number' && typeof b === 'number') return a === b || (Number.isNaN(a) && Number.isNaN(b));
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameAttr(x as AttrValue, b[i] as AttrValue));
  if (a instanceof SymDim || b instanceof SymDim) return (typeof a === 'number' || a instanceof SymDim) && (typeof b === 'number' || b instanceof SymDim) && dimEquals(a as Dim, b as Dim);
  return a === b;
}

function sameAttrs(a: Readonly<Record<string, AttrValue>>, b: Readonly<Record<string, AttrValue>>): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((k) => sameAttr(a[k], b[k]));
}

function sameWeight(a: WeightExpr, b: WeightExpr): boolean {
  if (a.kind === 'tensor' || b.kind === 'tensor') return a.kind === 'tensor' && b.kind === 'tensor' && a.name === b.name;
  return a.fn === b.fn && sameAttrs(a.attrs, b.attrs) && a.args.length === b.args.length && a.args.every((x, i) => sameWeight(x, b.args[i]));
}

/**
 * The first difference between two graphs, or undefined when they are the same. Values are matched
 * by name (unique in a valid graph). Plain checks rather than expect(): this runs 1000 times.
 */
function graphDiff(a: Graph, b: Graph): string | undefined {
  const json = (x: unknown) => JSON.stringify(x);
  if (a.name !== b.name) return `name ${a.name} vs ${b.name}`;
  if (json(a.symbols) !== json(b.symbols)) return `symbols ${json(a.symbols)} vs ${json(b.symbols)}`;
  const valueDiff = (x: Value, y: Value, what: string): string | undefined => {
    if (x.name !== y.name) return `${what}: %${x.name} vs %${y.name}`;
    if (!typesEqual(x.type, y.type)) return `${what} %${x.name}: type differs`;
    if (x.def.kind !== y.def.kind) return `${what} %${x.name}: ${x.def.kind} vs ${y.def.kind}`;
    if (x.def.kind === 'input' && y.def.kind === 'input' && x.def.state !== y.def.state) return `${what} %${x.name}: state flag differs`;
    if (x.def.kind === 'param' && y.def.kind === 'param' && !sameWeight(x.def.source, y.def.source)) return `${what} %${x.name}: weight source differs`;
    return undefined;
  };
  const listDiff = (xs: readonly Value[], ys: readonly Value[], what: string) =>
    xs.length !== ys.length ? `${what} count ${xs.length} vs ${ys.length}` : xs.map((v, i) => valueDiff(v, ys[i], what)).find(Boolean);
  const d = listDiff(a.inputs, b.inputs, 'input') ?? listDiff(a.params, b.params, 'param');
  if (d) return d;
  if (a.nodes.length !== b.nodes.length) return `node count ${a.nodes.length} vs ${b.nodes.length}`;
  for (const [i, n] of a.nodes.entries()) {
    const m = b.nodes[i];
    if (n.op !== m.op) return `node ${i}: op ${n.op} vs ${m.op}`;
    if (json(n.inputs.map((v) => v.name)) !== json(m.inputs.map((v) => v.name))) return `node ${i}: operands differ`;
    if (!sameAttrs(n.attrs, m.attrs)) return `node ${i} (${n.op}): attributes differ`;
    const r = listDiff(n.outputs, m.outputs, `node ${i} result`);
    if (r) return r;
  }
  const outs = (g: Graph) => json(g.outputs.map((o) => [o.name, o.value.name]));
  if (outs(a) !== outs(b)) return `outputs ${outs(a)} vs ${outs(b)}`;
  const ups = (g: Graph) => json(g.updates.map((u) => [u.state.name, u.value.name]));
  if (ups(a) !== ups(b)) return `updates ${ups(a)} vs ${ups(b)}`;
  return undefined;
}

describe('print ∘ parse', () => {
  it('is the identity on printed random graphs, structurally too (1000 graphs)', () => {
    fc.assert(
      fc.property(randomGraph(), (g) => {
        const text = printGraph(g);
        const back = parseGraph(text);
        if (printGraph(back) !== text) expect(printGraph(back)).toBe(text);
        const diff = graphDiff(g, back);
        if (diff) expect.fail(diff);
        // Every parsed value knows where it was written.
        const unlocated = [...back.inputs, ...back.params, ...back.nodes.flatMap((n) => n.outputs)].find((v) => !v.loc);
        if (unlocated) expect.fail(`%${unlocated.name} has no loc`);
      }),
      { numRuns: 1000 },
    );
  });

  it('holds on larger graphs (up to 30 ops), with a file name in locations', () => {
    fc.assert(
      fc.property(randomGraph({ maxOps: 30 }), (g) => {
        const text = printGraph(g);
        expect(printGraph(parseGraph(text, 'random.ir'))).toBe(text);
      }),
      { numRuns: 100 },
    );
  });
});
