// A fast-check arbitrary of random VALID graphs, built with GraphBuilder: random symbols, inputs
// with symbolic and static shapes (1s and odd sizes included), parameters with nested weight
// sources, a random sequence of ops, outputs and state updates.
//
// Ops come from a table of generators, each given the pool of values built so far. An op with no
// generator of its own is still tried generically (random operands from the pool, random attributes
// from its schema); whatever the builder rejects is dropped. So the arbitrary works with whatever
// ops are registered today, and newly registered ops are exercised without changes here.
import fc from 'fast-check';
import type { AttrSpec, AttrValue } from '../../ir/attrs.js';
import { GraphBuilder } from '../../ir/builder.js';
import { type Dim, dimAdd, dimEquals, dimFn, dimMul, dimSub, isStaticDim, type SymDim, sym } from '../../ir/dim.js';
import { DTYPES, type DType, isFloat } from '../../ir/dtype.js';
import type { Graph, Value } from '../../ir/graph.js';
import '../../ir/ops/index.js';
import { findOp, listOps, operandArity } from '../../ir/op.js';
import { printGraph } from '../../ir/printer.js';
import { verifyIssues } from '../../ir/verifier.js';
import { WEIGHT_FNS, type WeightExpr, weightCall, weightTensor } from '../../ir/weights.js';

// ---- value arbitraries, exported for other property tests ----

/** Floats that stress printing: tiny, huge, -0, 0.1+0.2, non-finite, and anything fc.double makes. */
export const arbFloat: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(1e-5, 1e-6, 0.1 + 0.2, -0, 0, 1, -1, 0.5, 1e300, -1e300, 5e-324, 1e21, 1e-7, 123456789.125, Number.MAX_VALUE, Infinity, -Infinity, NaN),
  fc.double(),
  fc.integer({ min: -1000, max: 1000 }),
);

export const arbFiniteFloat: fc.Arbitrary<number> = arbFloat.filter(Number.isFinite);

export const arbInt: fc.Arbitrary<number> = fc.oneof(
  fc.integer({ min: -4, max: 16 }),
  fc.integer(),
  fc.constantFrom(Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, -0),
);

const chars = (s: string) => fc.constantFrom(...s);
const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_';
const DIGITS = '0123456789';

/** Value names as the verifier allows them: `0`, `k.0`, `a..b`, `x.`, `_`. */
export const arbValueName: fc.Arbitrary<string> = fc
  .tuple(fc.string({ unit: chars(LETTERS + DIGITS), minLength: 1, maxLength: 1 }), fc.string({ unit: chars(`${LETTERS}${DIGITS}.`), maxLength: 6 }))
  .map(([a, b]) => a + b);

/** Output names (no leading digit), including words that are keywords of the text form. */
export const arbOutputName: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(fc.string({ unit: chars(LETTERS), minLength: 1, maxLength: 1 }), fc.string({ unit: chars(`${LETTERS}${DIGITS}.`), maxLength: 6 })).map(([a, b]) => a + b),
  fc.constantFrom('graph', 'param', 'output', 'update', 'state', 'true', 'inf', 'logits.0'),
);

/** Checkpoint tensor names: dots, quotes, backslashes, control characters, any unicode, lone surrogates. */
export const arbTensorName: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('model.layers.0.self_attn.q_proj.weight', 'tok_embeddings.weight', 'a"b', 'back\\slash', 'tab\there', 'nul\u0000', 'é', '😀', 'lone\ud800', 'line\nbreak', '//not a comment', '%x = @g'),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 10 }),
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 6 }),
);

// ---- the generator's context ----

/** Random choices drawn through fast-check (so counterexamples shrink). */
export interface Draw {
  int(min: number, max: number): number;
  bool(): boolean;
  /** True with probability about p. */
  chance(p: number): boolean;
  pick<T>(xs: readonly T[]): T;
  of<T>(arb: fc.Arbitrary<T>): T;
}

// Small choices come from a tape of random numbers drawn 64 at a time: far cheaper than one
// fast-check draw each, and shrinking the tape toward zeros still simplifies the graph (every
// choice falls back to its first option).
const tapeChunk = () => fc.array(fc.nat(), { minLength: 64, maxLength: 64 });

function drawFrom(g: fc.GeneratorValue): Draw {
  let tape: number[] = [];
  let at = 0;
  const next = () => {
    if (at === tape.length) {
      tape = g(tapeChunk);
      at = 0;
    }
    return tape[at++];
  };
  const d: Draw = {
    int: (min, max) => {
      if (max < min) throw new RangeError(`draw.int(${min}, ${max})`);
      return min + (next() % (max - min + 1));
    },
    bool: () => next() % 2 === 1,
    chance: (p) => next() % 1000 < p * 1000,
    pick: (xs) => xs[d.int(0, xs.length - 1)],
    of: (arb) => g(() => arb),
  };
  return d;
}

export interface GenContext {
  readonly b: GraphBuilder;
  readonly draw: Draw;
  /** Every value defined so far (inputs, params, op results): candidate operands. */
  readonly pool: Value[];
  readonly symbols: readonly SymDim[];
  /** A new parameter of this static shape, with a random name, storage type and weight source. */
  param(shape: readonly number[], dtype?: DType): Value;
  /** A new graph input (inputs may be added at any time; they are printed in the header). */
  input(dtype: DType, shape: readonly Dim[]): Value;
  /** A random dim: static (1, odd sizes, 0) or an expression over the declared symbols. */
  dim(): Dim;
}

/** Adds one op (or a few) to the graph and returns the results, or undefined when it cannot apply. */
export type OpGenerator = (ctx: GenContext) => Value[] | undefined;

const FLOAT_DTYPES: readonly DType[] = ['f32', 'f16', 'bf16'];
const isFloatValue = (v: Value) => isFloat(v.type.dtype);
const floatsIn = (ctx: GenContext) => ctx.pool.filter(isFloatValue);

function pickFloat(ctx: GenContext, pred: (v: Value) => boolean = () => true): Value | undefined {
  const xs = floatsIn(ctx).filter(pred);
  return xs.length ? ctx.draw.pick(xs) : undefined;
}

const lastDim = (v: Value): Dim | undefined => v.type.shape[v.type.shape.length - 1];

/** A static shape that broadcasts against `shape`: a suffix of it with some dims set to 1. */
function broadcastPartner(ctx: GenContext, shape: readonly Dim[]): number[] | undefined {
  const keep = ctx.draw.int(0, shape.length);
  const suffix = shape.slice(shape.length - keep);
  if (!suffix.every(isStaticDim)) return undefined;
  return (suffix as number[]).map((d) => (ctx.draw.chance(0.3) ? 1 : d));
}

function broadcasts(a: readonly Dim[], b: readonly Dim[]): boolean {
  for (let i = 1; i <= Math.min(a.length, b.length); i++) {
    const x = a[a.length - i], y = b[b.length - i];
    if (!(dimEquals(x, y) || x === 1 || y === 1)) return false;
  }
  return true;
}

/** Random attribute value for a spec (used for weight transforms and ops without a generator). */
export function randomAttr(ctx: GenContext, spec: AttrSpec, finiteFloats = false): AttrValue {
  const d = ctx.draw;
  const list = <T>(item: () => T): T[] => Array.from({ length: d.int(0, 4) }, item);
  switch (spec.type) {
    case 'int': return d.of(arbInt);
    case 'float': return d.of(finiteFloats ? arbFiniteFloat : arbFloat);
    case 'bool': return d.bool();
    case 'string': return spec.oneOf ? d.pick(spec.oneOf) : d.of(arbTensorName);
    case 'ints': return list(() => d.of(arbInt));
    case 'floats': return list(() => d.of(arbFloat));
    case 'dim': return ctx.dim();
    case 'dims': return list(() => ctx.dim());
  }
}

function randomAttrs(ctx: GenContext, schema: Readonly<Record<string, AttrSpec>>, finiteFloats = false): Record<string, AttrValue> {
  const attrs: Record<string, AttrValue> = {};
  for (const [name, spec] of Object.entries(schema)) {
    // Leave out most attributes that have defaults, so the default-filling path is exercised too.
    if ((spec.default !== undefined || spec.optional) && ctx.draw.chance(0.6)) continue;
    attrs[name] = randomAttr(ctx, spec, finiteFloats);
  }
  return attrs;
}

/** A random weight source: a tensor name, or transforms (from WEIGHT_FNS) nested up to `depth`. */
export function randomWeight(ctx: GenContext, depth = 3): WeightExpr {
  const d = ctx.draw;
  if (depth === 0 || d.chance(0.5)) return weightTensor(d.of(arbTensorName));
  const name = d.pick(Object.keys(WEIGHT_FNS));
  const fn = WEIGHT_FNS[name];
  const arity = fn.arity === 'many' ? d.int(1, 3) : fn.arity;
  const args = Array.from({ length: arity }, () => randomWeight(ctx, depth - 1));
  // The printer writes transform attributes without their schema, so non-finite floats would print
  // as `Infinity`/`NaN`, which the text form does not have (see the parser's report).
  return weightCall(name, args, randomAttrs(ctx, fn.attrs, true));
}

// ---- op generators ----

function binary(op: string): OpGenerator {
  return (ctx) => {
    const x = pickFloat(ctx);
    if (!x) return undefined;
    let y: Value | undefined;
    const how = ctx.draw.int(0, 2);
    if (how === 0) y = x;
    else if (how === 1) y = pickFloat(ctx, (v) => broadcasts(v.type.shape, x.type.shape));
    if (!y) {
      const shape = broadcastPartner(ctx, x.type.shape);
      if (!shape) return undefined;
      y = ctx.param(shape, ctx.draw.pick(FLOAT_DTYPES));
    }
    return [ctx.b.op(op, ctx.draw.bool() ? [x, y] : [y, x])];
  };
}

const matmul: OpGenerator = (ctx) => {
  const x = pickFloat(ctx, (v) => v.type.shape.length >= 1);
  const k = x && lastDim(x);
  if (!x || k === undefined) return undefined;
  const n = ctx.draw.pick([1, 2, 3, 5, 8, 17]);
  let w = ctx.draw.bool() ? ctx.pool.find((v) => v.type.shape.length === 2 && dimEquals(v.type.shape[1], k)) : undefined;
  if (!w) {
    if (!isStaticDim(k)) return undefined;
    w = ctx.param([n, k], ctx.draw.pick(DTYPES.filter((t) => t !== 'i32' && t !== 'u32')));
  }
  const out = w.type.shape[0];
  const bias = ctx.draw.chance(0.3) && isStaticDim(out) ? [ctx.param([out])] : [];
  return [ctx.b.op('matmul', [x, w, ...bias])];
};

/** A norm over the last axis with weight (and bias) vectors of that length. */
function norm(op: string, withBias: boolean): OpGenerator {
  return (ctx) => {
    const x = pickFloat(ctx, (v) => v.type.shape.length >= 1 && isStaticDim(lastDim(v) as Dim));
    if (!x) return undefined;
    const n = lastDim(x) as number;
    const operands = [x, ctx.param([n])];
    if (withBias && ctx.draw.bool()) operands.push(ctx.param([n]));
    return [ctx.b.op(op, operands, randomAttrs(ctx, findOp(op)?.attrs ?? {}))];
  };
}

const reshape: OpGenerator = (ctx) => {
  const x = ctx.draw.pick(ctx.pool);
  const shape = [...x.type.shape];
  if (shape.length >= 2 && ctx.draw.bool()) {
    const i = ctx.draw.int(0, shape.length - 2);
    shape.splice(i, 2, dimMul(shape[i], shape[i + 1]));
  } else {
    shape.splice(ctx.draw.int(0, shape.length), 0, 1);
  }
  return [ctx.b.op('reshape', [x], { shape })];
};

const transpose: OpGenerator = (ctx) => {
  const x = ctx.draw.pick(ctx.pool);
  const perm = x.type.shape.map((_, i) => i);
  for (let i = perm.length - 1; i > 0; i--) {
    const j = ctx.draw.int(0, i);
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  return [ctx.b.op('transpose', [x], { perm })];
};

const split: OpGenerator = (ctx) => {
  const x = ctx.draw.pick(ctx.pool);
  const axes = x.type.shape.map((d, i) => [d, i] as const).filter(([d]) => isStaticDim(d) && d >= 1);
  if (!axes.length) return undefined;
  const [size, axis] = ctx.draw.pick(axes) as readonly [number, number];
  const sizes: number[] = [];
  for (let left = size; left > 0;) {
    const s = ctx.draw.int(1, left);
    sizes.push(s);
    left -= s;
  }
  const a = ctx.draw.bool() ? axis : axis - x.type.shape.length;
  return ctx.b.ops('split', [x], { axis: a, sizes }, sizes.map(() => ctx.draw.of(arbValueName)));
};

const concat: OpGenerator = (ctx) => {
  const x = ctx.draw.pick(ctx.pool);
  if (x.type.shape.length === 0) return undefined;
  const axis = ctx.draw.int(0, x.type.shape.length - 1);
  const fits = ctx.pool.filter((v) => v.type.dtype === x.type.dtype && v.type.shape.length === x.type.shape.length && v.type.shape.every((d, i) => i === axis || dimEquals(d, x.type.shape[i])));
  const xs = [x, ...Array.from({ length: ctx.draw.int(0, 2) }, () => ctx.draw.pick(fits))];
  return [ctx.b.op('concat', xs, { axis })];
};

const slice: OpGenerator = (ctx) => {
  const x = ctx.draw.pick(ctx.pool);
  if (x.type.shape.length === 0) return undefined;
  const axis = ctx.draw.int(0, x.type.shape.length - 1);
  const n = x.type.shape[axis];
  let start: Dim, end: Dim;
  if (isStaticDim(n)) {
    start = ctx.draw.int(0, n);
    end = ctx.draw.int(start, n);
  } else {
    [start, end] = ctx.draw.pick<[Dim, Dim]>([[0, n], [dimSub(n, 1), n], [0, dimSub(n, 1)]]);
  }
  return [ctx.b.op('slice', [x], { axis, start, end })];
};

/** Self-attention: q = k = v, which always has matching heads and lengths. */
const attention: OpGenerator = (ctx) => {
  const x = pickFloat(ctx, (v) => v.type.shape.length === 3 || v.type.shape.length === 4);
  if (!x) return undefined;
  return [ctx.b.op('attention', [x, x, x], { scale: ctx.draw.of(arbFloat), causal: ctx.draw.bool() })];
};

const rope: OpGenerator = (ctx) => {
  const x = pickFloat(ctx, (v) => v.type.shape.length === 3);
  if (!x) return undefined;
  const pos = ctx.input('i32', [x.type.shape[0]]);
  return [ctx.b.op('rope', [x, pos], { theta: ctx.draw.pick([10000, 500000, 1e6, 0.5]) })];
};

const embedding: OpGenerator = (ctx) => {
  const ids = ctx.input('i32', Array.from({ length: ctx.draw.int(0, 2) }, () => ctx.dim()));
  const table = ctx.param([ctx.draw.pick([1, 7, 32]), ctx.draw.pick([1, 3, 16])], ctx.draw.pick(DTYPES.filter((t) => t !== 'i32' && t !== 'u32')));
  return [ctx.b.op('embedding', [table, ids])];
};

const kvAppend: OpGenerator = (ctx) => {
  const states = ctx.b.graph.stateInputs();
  if (!states.length) return undefined;
  const past = ctx.draw.pick(states);
  const fits = ctx.pool.filter((v) => v.type.dtype === past.type.dtype && v.type.shape.length === past.type.shape.length && v.type.shape.every((d, i) => i === 0 || dimEquals(d, past.type.shape[i])));
  return [ctx.b.op('kv_append', [past, ctx.draw.pick(fits)])];
};

/** Generators by op name; ops that are not registered are skipped. */
export const OP_GENERATORS: Readonly<Record<string, OpGenerator>> = {
  add: binary('add'),
  sub: binary('sub'),
  mul: binary('mul'),
  div: binary('div'),
  matmul,
  rms_norm: norm('rms_norm', false),
  layer_norm: norm('layer_norm', true),
  reshape,
  transpose,
  split,
  concat,
  slice,
  attention,
  rope,
  embedding,
  kv_append: kvAppend,
};

/** Any registered op: random operands from the pool and random attributes from its schema. */
function generic(op: string): OpGenerator {
  return (ctx) => {
    const def = findOp(op);
    if (!def || ctx.pool.length === 0) return undefined;
    const [min, max] = operandArity(def);
    const count = ctx.draw.int(min, Math.min(max, min + 2));
    const operands = Array.from({ length: count }, () => ctx.draw.pick(ctx.pool));
    return ctx.b.ops(op, operands, randomAttrs(ctx, def.attrs));
  };
}

// ---- the arbitrary ----

export interface RandomGraphOptions {
  /** Most op applications attempted (rejected ones do not count in the graph). Default 12. */
  readonly maxOps?: number;
  /** Only these ops (default: every registered op). */
  readonly ops?: readonly string[];
  /** Extra or replacement generators (e.g. a pass test's pattern), by op name. */
  readonly generators?: Readonly<Record<string, OpGenerator>>;
}

const SYMBOL_NAMES = ['S', 'P', 'B', 'T', 'N_2', '_h', 'inf', 'state'];

function randomDim(draw: Draw, symbols: readonly SymDim[]): Dim {
  const small = () => draw.pick([1, 1, 2, 3, 5, 7, 16, 17, 0]);
  if (symbols.length === 0 || draw.chance(0.4)) return small();
  const s = () => draw.pick(symbols);
  switch (draw.int(0, 7)) {
    case 0: return dimAdd(s(), small());
    case 1: return dimSub(s(), draw.int(1, 3));
    case 2: return dimMul(draw.int(2, 4), s());
    case 3: return dimMul(s(), s());
    case 4: return dimFn(draw.pick(['ceildiv', 'floordiv'] as const), dimAdd(s(), s()), draw.pick([2, 3, 64]));
    case 5: return dimFn(draw.pick(['min', 'max'] as const), s(), draw.int(1, 9));
    default: return s();
  }
}

function buildRandomGraph(g: fc.GeneratorValue, options: RandomGraphOptions): Graph {
  const draw = drawFrom(g);
  const symbolNames = SYMBOL_NAMES.filter(() => draw.chance(0.4));
  const b = new GraphBuilder(draw.pick(['g', 'llama', 'tiny-1.5b', '0', 'a.b']), symbolNames);
  const symbols = symbolNames.map((s) => sym(s));
  const pool: Value[] = [];
  const dim = () => randomDim(draw, symbols);
  const shape = () => Array.from({ length: draw.int(0, 3) }, dim);
  const ctx: GenContext = {
    b, draw, pool, symbols, dim,
    param(shape, dtype) {
      const v = b.param(draw.of(arbValueName), dtype ?? draw.pick(DTYPES), shape, randomWeight(ctx));
      pool.push(v);
      return v;
    },
    input(dtype, shape) {
      const v = b.input(draw.of(arbValueName), dtype, shape);
      pool.push(v);
      return v;
    },
  };

  for (let i = draw.int(0, 3); i > 0; i--) ctx.input(draw.chance(0.8) ? 'f32' : draw.pick(DTYPES), shape());
  for (let i = draw.int(0, 2); i > 0; i--) {
    const first = symbolNames.includes('P') ? sym('P') : dim();
    pool.push(b.input(draw.of(arbValueName), draw.chance(0.8) ? 'f32' : draw.pick(DTYPES), [first, ...shape()], { state: true }));
  }
  for (let i = draw.int(0, 2); i > 0; i--) ctx.param(Array.from({ length: draw.int(0, 3) }, () => draw.pick([1, 2, 3, 5, 17])));

  const names = (options.ops ?? listOps().map((d) => d.name)).filter((n) => findOp(n));
  const table = { ...OP_GENERATORS, ...options.generators };
  const generators = names.map((n) => table[n] ?? generic(n));
  for (let i = draw.int(0, options.maxOps ?? 12); i > 0 && generators.length && pool.length; i--) {
    let results: Value[] | undefined;
    const nodesBefore = b.graph.nodes.length;
    try {
      results = draw.pick(generators)(ctx);
    } catch {
      b.graph.nodes.length = nodesBefore;
      continue; // the builder rejected it (a generic attempt, or a draw that does not type-check)
    }
    if (!results) continue;
    // Attribute draws can make a type with a negative static dim, or an attribute out of its
    // range (eps < 0, scale 0): the verifier would refuse the graph, so the draw is dropped.
    if (results.some((v) => v.type.shape.some((d) => isStaticDim(d) && d < 0)) || verifyIssues(b.graph).length > 0) {
      b.graph.nodes.length = nodesBefore;
      continue;
    }
    pool.push(...results);
  }

  const taken = new Set<string>();
  for (let i = draw.int(0, 3); i > 0 && pool.length; i--) {
    const name = draw.of(arbOutputName);
    if (taken.has(name)) continue;
    taken.add(name);
    b.output(name, draw.pick(pool));
  }
  for (const s of b.graph.stateInputs()) {
    const fits = pool.filter((v) => v.type.dtype === s.type.dtype && v.type.shape.length === s.type.shape.length && v.type.shape.every((d, i) => i === 0 || dimEquals(d, s.type.shape[i])));
    if (draw.chance(0.7)) b.update(s, draw.pick(fits));
  }
  const graph = b.finish();
  // Counterexamples print as IR text rather than as a cyclic object dump.
  Object.defineProperty(graph, fc.toStringMethod, { value: () => printGraph(graph), enumerable: false });
  return graph;
}

/** Random valid graphs (verified by GraphBuilder.finish). */
export function randomGraph(options: RandomGraphOptions = {}): fc.Arbitrary<Graph> {
  return fc.gen().map((g) => buildRandomGraph(g, options));
}
