// Property: canonicalize preserves what a graph computes (on the reference interpreter), is
// idempotent, and leaves a graph that prints and parses back unchanged. Random graphs come from
// the shared generator; redundancy is then injected (duplicate nodes, no-op and round-trip layout
// ops) so that every rewrite of canonicalize gets exercised, not only dead code elimination.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeAttrs, type AttrValue } from '../../ir/attrs.js';
import { GraphBuilder } from '../../ir/builder.js';
import { type DimBindings, dimProduct, dimSub, evalDim, isStaticDim } from '../../ir/dim.js';
import { CONVERT_DTYPES, type DType } from '../../ir/dtype.js';
import { randomTensor } from '../../src/ops-check/draw.js';
import { cloneGraph, type Graph, makeNode, type Value } from '../../ir/graph.js';
import { getOp } from '../../ir/op.js';
import { parseGraph } from '../../ir/parser.js';
import { formatWeight, printGraph } from '../../ir/printer.js';
import { convertF32, type HostTensor, numel, tensor, toF32 } from '../../ir/tensor.js';
import { type TensorType, typeToString } from '../../ir/types.js';
import { verifyGraph } from '../../ir/verifier.js';
import '../../passes/index.js';
import { runPipeline } from '../../passes/pass-manager.js';
import { interpret } from '../../runtime/reference/interpreter.js';
import { randomGraph } from '../helpers/random-graph.js';
import { isSliceOutOfRange, shapesValid } from './helpers/oracle.js';

// Ops whose reference semantics run on any data (embedding needs ids below the vocabulary size).
const OPS = ['add', 'sub', 'mul', 'div', 'matmul', 'rms_norm', 'layer_norm', 'reshape', 'transpose', 'split', 'concat', 'slice', 'silu', 'gelu', 'neg', 'relu', 'tanh', 'sigmoid', 'scale', 'softmax', 'kv_append'];

// ---- redundancy injection ----

function producerIndex(g: Graph, v: Value): number {
  return v.def.kind === 'node' ? g.nodes.indexOf(v.def.node) : -1;
}

/** Adds `op(inputs)` right after the definition of the latest input; undefined when the op rejects it. */
function insertAfter(g: Graph, inputs: Value[], op: string, attrs: Record<string, AttrValue>): Value[] | undefined {
  const def = getOp(op);
  const { attrs: full, errors } = normalizeAttrs(def.attrs, attrs);
  if (errors.length) return undefined;
  let types: TensorType[];
  try {
    types = def.infer(inputs.map((v) => v.type), full);
  } catch {
    return undefined;
  }
  const taken = g.names();
  const results = types.map((type) => {
    const name = g.freshName(`${op}_inj`, taken);
    taken.add(name);
    return { name, type };
  });
  const node = makeNode(op, inputs, attrs, results);
  const at = Math.max(...inputs.map((v) => producerIndex(g, v))) + 1;
  g.nodes.splice(at, 0, node);
  return node.outputs;
}

/** Points some later uses of `from` (every other one, by `parity`) at `to`. */
function redirect(g: Graph, from: Value, to: Value, parity: number): void {
  const start = producerIndex(g, to);
  let k = parity;
  for (const n of g.nodes.slice(start + 1)) n.inputs = n.inputs.map((v) => (v === from && k++ % 2 === 0 ? to : v));
  for (const o of g.outputs) if (o.value === from && k++ % 2 === 0) o.value = to;
}

/** A chain of ops that computes `v` again: no-op layout ops, round trips, or a duplicate of v's node. */
function recompute(g: Graph, v: Value, kind: number): Value | undefined {
  const shape = v.type.shape;
  const rank = shape.length;
  const one = (vs: Value[] | undefined) => vs?.[0];
  switch (kind) {
    case 0: {
      const n = v.def.kind === 'node' ? v.def.node : undefined;
      if (!n) return undefined;
      return insertAfter(g, n.inputs, n.op, { ...n.attrs })?.[v.def.kind === 'node' ? v.def.index : 0];
    }
    case 1: return one(insertAfter(g, [v], 'reshape', { shape: [...shape] }));
    case 2: {
      const flat = one(insertAfter(g, [v], 'reshape', { shape: [dimProduct(shape)] }));
      return flat && one(insertAfter(g, [flat], 'reshape', { shape: [...shape] }));
    }
    case 3: return one(insertAfter(g, [v], 'transpose', { perm: shape.map((_, i) => i) }));
    case 4: {
      // Three transposes that compose to the identity: rotate, swap the first two axes, undo both.
      if (rank < 2) return undefined;
      const p = shape.map((_, i) => (i + 1) % rank);
      const q = shape.map((_, i) => (i < 2 ? 1 - i : i));
      const c = q.map((i) => p[i]);
      const undo = shape.map((_, i) => c.indexOf(i));
      const t1 = one(insertAfter(g, [v], 'transpose', { perm: p }));
      const t2 = t1 && one(insertAfter(g, [t1], 'transpose', { perm: q }));
      return t2 && one(insertAfter(g, [t2], 'transpose', { perm: undo }));
    }
    case 5: return rank ? one(insertAfter(g, [v], 'slice', { axis: rank - 1, start: 0, end: shape[rank - 1] })) : undefined;
    case 6: return rank ? one(insertAfter(g, [v], 'concat', { axis: 0 })) : undefined;
    case 7: return rank && isStaticDim(shape[0]) && shape[0] > 0 ? one(insertAfter(g, [v], 'split', { axis: 0, sizes: [shape[0]] })) : undefined;
    case 8: {
      // slice(concat(v, v)) picking the second copy.
      if (!rank) return undefined;
      const cat = one(insertAfter(g, [v, v], 'concat', { axis: 0 }));
      return cat && one(insertAfter(g, [cat], 'slice', { axis: 0, start: shape[0], end: cat.type.shape[0] }));
    }
    default: {
      // The same through two slices: concat(v, v)[1:][n-1:2n-1].
      if (!rank) return undefined;
      const cat = one(insertAfter(g, [v, v], 'concat', { axis: 0 }));
      const tail = cat && one(insertAfter(g, [cat], 'slice', { axis: 0, start: 1, end: cat.type.shape[0] }));
      return tail && one(insertAfter(g, [tail], 'slice', { axis: 0, start: dimSub(shape[0], 1), end: tail.type.shape[0] }));
    }
  }
}

function inject(g: Graph, picks: readonly [number, number, number][]): Graph {
  for (const [which, kind, parity] of picks) {
    const values = [...g.inputs, ...g.nodes.flatMap((n) => n.outputs)];
    if (!values.length) break;
    const v = values[which % values.length];
    const again = recompute(g, v, kind % 10);
    if (again) redirect(g, v, again, parity);
  }
  verifyGraph(g);
  return g;
}

// ---- running graphs ----

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** Deterministic data for a tensor: the same key gives the same tensor. */
function dataFor(key: string, dtype: DType, shape: readonly number[]): HostTensor {
  let s = hash(key) || 1;
  const next = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
  const n = numel(shape);
  if (dtype === 'i32' || dtype === 'u32') {
    const ints = Array.from({ length: n }, () => Math.floor(next() * 4));
    return tensor(dtype, shape, dtype === 'i32' ? Int32Array.from(ints) : Uint32Array.from(ints));
  }
  const f = tensor('f32', shape, Float32Array.from({ length: n }, () => next() * 4 - 2));
  if (dtype === 'f32') return f;
  // A type Tessera only reads (no quantizer) gets random valid blocks instead.
  return CONVERT_DTYPES.includes(dtype) ? convertF32(f, dtype) : randomTensor(dtype, shape, s);
}

function run(g: Graph, dims: DimBindings, seed: number) {
  const inputs: Record<string, HostTensor> = {};
  for (const v of g.inputs) inputs[v.name] = dataFor(`${seed}:${v.name}`, v.type.dtype, v.type.shape.map((d) => evalDim(d, dims)));
  return interpret(g, {
    inputs,
    dims,
    // Keyed by source and type, so parameters that CSE merges get the same data.
    params: (p) => dataFor(`${typeToString(p.type)}=${p.def.kind === 'param' ? formatWeight(p.def.source) : p.name}`, p.type.dtype, p.type.shape as number[]),
  });
}

function expectClose(a: HostTensor, b: HostTensor, what: string): void {
  expect(b.dtype, what).toBe(a.dtype);
  expect(b.shape, what).toEqual(a.shape);
  const x = toF32(a), y = toF32(b);
  for (let i = 0; i < x.length; i++) {
    const ok = Object.is(x[i], y[i]) || (Number.isNaN(x[i]) && Number.isNaN(y[i])) || Math.abs(x[i] - y[i]) <= 1e-6 * (1 + Math.abs(x[i]));
    if (!ok) expect.fail(`${what}[${i}]: ${x[i]} before canonicalize, ${y[i]} after`);
  }
}

const arbCase = fc.record({
  graph: randomGraph({ ops: OPS, maxOps: 12 }),
  picks: fc.array(fc.tuple(fc.nat(1000), fc.nat(9), fc.nat(1)), { maxLength: 8 }),
  dimValues: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 8, maxLength: 8 }),
  seed: fc.nat(),
});

describe('canonicalize on random graphs', () => {
  it('computes the same outputs and state updates, is idempotent, and round-trips as text', () => {
    let executed = 0, total = 0;
    fc.assert(
      fc.property(arbCase, ({ graph, picks, dimValues, seed }) => {
        total++;
        const g = inject(graph, picks);
        const dims: Record<string, number> = {};
        g.symbols.forEach((s, i) => (dims[s] = dimValues[i % dimValues.length] + 2));
        // Random dims like S-3 can be negative for these symbol values; nothing to compare then.
        fc.pre(shapesValid(g, dims));
        let before;
        try {
          before = run(g, dims, seed);
        } catch (e) {
          if (!isSliceOutOfRange(e)) throw e;
          return;
        }
        executed++;
        const text = printGraph(g);
        const once = runPipeline(cloneGraph(g), 'canonicalize');
        expect(once.graph.nodes.length).toBeLessThanOrEqual(g.nodes.length);
        const after = run(once.graph, dims, seed);
        for (const name of Object.keys(before.outputs)) expectClose(before.outputs[name], after.outputs[name], `output ${name} of\n${text}`);
        for (const name of Object.keys(before.updates)) expectClose(before.updates[name], after.updates[name], `update ${name} of\n${text}`);

        const printed = printGraph(once.graph);
        const twice = runPipeline(once.graph, 'canonicalize');
        expect(twice.changed).toBe(false);
        expect(printGraph(twice.graph)).toBe(printed);
        expect(printGraph(parseGraph(printed))).toBe(printed);
      }),
      { numRuns: 200 },
    );
    // Most cases must actually run, or the property says little.
    expect(executed).toBeGreaterThan(total / 2);
  });

  // Layout chains on a cube: with every dim equal, a wrongly composed permutation or slice still
  // type-checks, so only the values can tell (the random graphs above rarely have such shapes).
  const arbChain = fc.record({
    rank: fc.integer({ min: 2, max: 4 }),
    steps: fc.array(fc.record({ perm: fc.boolean(), axis: fc.nat(3), order: fc.array(fc.nat(), { minLength: 4, maxLength: 4 }), a: fc.nat(2), b: fc.nat(2) }), { minLength: 1, maxLength: 6 }),
  });
  it('keeps the values of transpose and slice chains', () => {
    fc.assert(
      fc.property(arbChain, ({ rank, steps }) => {
        const b = new GraphBuilder('chain');
        let v = b.input('x', 'f32', Array.from({ length: rank }, () => 3));
        for (const st of steps) {
          if (st.perm) {
            const perm = [...Array(rank).keys()].sort((i, j) => st.order[i] - st.order[j] || i - j);
            v = b.op('transpose', [v], { perm });
          } else {
            const axis = st.axis % rank;
            const size = v.type.shape[axis] as number;
            const start = Math.min(st.a, size - 1);
            v = b.op('slice', [v], { axis, start, end: Math.max(start + 1, size - st.b) });
          }
        }
        b.output('y', v);
        const g = b.finish();
        const before = run(g, {}, 1);
        const after = run(runPipeline(cloneGraph(g), 'canonicalize').graph, {}, 1);
        expectClose(before.outputs.y, after.outputs.y, `y of\n${printGraph(g)}`);
      }),
      { numRuns: 300 },
    );
  });
});
