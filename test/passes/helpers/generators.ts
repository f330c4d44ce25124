// Random-graph generators for the patterns the optimisation passes look for, given to
// randomGraph({ generators }) next to its own op table: norms feeding groups of projections (some
// with biases, mixed storage types), gated and plain activations, residual adds, elementwise chains,
// GQA attention over a growing KV cache (windows, softcaps, padding masks, batches, S = 1), and
// RoPE on projected heads, merged or not.
import type { AttrValue } from '../../../ir/attrs.js';
import { type Dim, isStaticDim } from '../../../ir/dim.js';
import type { DType } from '../../../ir/dtype.js';
import type { Value } from '../../../ir/graph.js';
import type { GenContext, OpGenerator } from '../../helpers/random-graph.js';

const SIZES = [1, 2, 3, 5, 8, 16, 17, 33];

const floatValues = (ctx: GenContext, pred: (v: Value) => boolean) =>
  ctx.pool.filter((v) => (v.type.dtype === 'f32' || v.type.dtype === 'f16') && pred(v));

/** A sequence dim: a symbol (S, P, …) when there is one, else a small static size (1 included). */
function seqDim(ctx: GenContext): Dim {
  return ctx.symbols.length && ctx.draw.chance(0.7) ? ctx.draw.pick(ctx.symbols) : ctx.draw.pick([1, 2, 3, 5]);
}

/** An activation [N, K] with a static K: from the pool, or a new input. */
function activation(ctx: GenContext): Value {
  const have = floatValues(ctx, (v) => v.type.shape.length === 2 && isStaticDim(v.type.shape[1]) && (v.type.shape[1] as number) > 0);
  if (have.length && ctx.draw.chance(0.5)) return ctx.draw.pick(have);
  return ctx.input('f32', [seqDim(ctx), ctx.draw.pick(SIZES)]);
}

/** rms_norm (offset 0 or 1), layer_norm (with or without a shift), or nothing. */
function maybeNorm(ctx: GenContext, x: Value): Value {
  const k = x.type.shape[x.type.shape.length - 1] as number;
  const d = ctx.draw;
  switch (d.int(0, 3)) {
    case 0: return x;
    case 1: return ctx.b.op('layer_norm', d.bool() ? [x, ctx.param([k], 'f32'), ctx.param([k], 'f32')] : [x, ctx.param([k], 'f32')], { eps: d.pick([1e-5, 1e-12]) });
    default: return ctx.b.op('rms_norm', [x, ctx.param([k], d.pick<DType>(['f32', 'f32', 'f16']))], { eps: d.pick([1e-5, 1e-6]), offset: d.pick([0, 0, 1]) });
  }
}

const WEIGHT_DTYPES: readonly DType[] = ['f32', 'f32', 'f32', 'f16', 'q8_0', 'q4_0'];

/** A normed activation read by one to three projections, then an activation, a GLU or a residual. */
export const projections: OpGenerator = (ctx) => {
  const d = ctx.draw;
  const x = activation(ctx);
  const k = x.type.shape[1] as number;
  const h = maybeNorm(ctx, x);
  const dtype = d.pick(WEIGHT_DTYPES);
  const biasMode = d.int(0, 2); // none, all, some
  const count = d.int(1, 3);
  const equal = d.bool();
  const n0 = d.pick(SIZES);
  const outs = Array.from({ length: count }, (_, i) => {
    const n = equal ? n0 : d.pick(SIZES);
    const w = ctx.param([n, k], d.chance(0.85) ? dtype : d.pick(WEIGHT_DTYPES));
    const bias = biasMode === 1 || (biasMode === 2 && i % 2 === 0) ? [ctx.param([n], 'f32')] : [];
    return ctx.b.op('matmul', [h, w, ...bias]);
  });
  const results = [...outs];
  const act = (v: Value) => (d.bool() ? ctx.b.op('silu', [v]) : ctx.b.op('gelu', [v], { approximate: d.pick(['none', 'tanh']) }));
  switch (d.int(0, 3)) {
    case 0:
      if (count >= 2 && equal) results.push(ctx.b.op('mul', [act(outs[0]), outs[1]]));
      break;
    case 1: results.push(act(outs[0])); break;
    case 2:
      if (outs[0].type.shape[1] === k) results.push(ctx.b.op('add', [x, outs[0]]));
      break;
    default: break;
  }
  return results;
};

const UNARY: readonly [string, () => Record<string, AttrValue>][] = [
  ['silu', () => ({})], ['sigmoid', () => ({})], ['tanh', () => ({})], ['relu', () => ({})], ['neg', () => ({})],
  ['gelu', () => ({ approximate: 'tanh' })], ['gelu', () => ({ approximate: 'none' })],
  ['scale', () => ({ factor: 0.125 })], ['scale', () => ({ factor: -3 })], ['softcap', () => ({ cap: 1.5 })], ['exp', () => ({})],
];

/** Two to five elementwise ops in a row, some with a second operand (a broadcast parameter or an earlier value). */
export const elementwiseChain: OpGenerator = (ctx) => {
  const d = ctx.draw;
  const start = floatValues(ctx, (v) => v.type.shape.length >= 1);
  let v = start.length && d.chance(0.7) ? d.pick(start) : ctx.input('f32', [seqDim(ctx), d.pick(SIZES)]);
  const out: Value[] = [];
  for (let i = d.int(2, 5); i > 0; i--) {
    if (d.chance(0.6)) {
      const [op, attrs] = d.pick(UNARY);
      v = ctx.b.op(op, [v], attrs());
    } else {
      const shape = v.type.shape;
      const last = shape[shape.length - 1];
      const other = isStaticDim(last) && d.bool() ? ctx.param(d.bool() ? [last] : [1], 'f32') : d.pick([v, ...out]);
      const op = d.pick(['add', 'sub', 'mul', 'add', 'mul']);
      v = ctx.b.op(op, d.bool() ? [v, other] : [other, v]);
    }
    out.push(v);
  }
  return out;
};

/** Attention with GQA over q [S, Hq, D] and keys from a KV cache, optionally batched, masked, windowed, capped. */
export const attentionBlock: OpGenerator = (ctx) => {
  const d = ctx.draw;
  const hkv = d.pick([1, 1, 2, 3]);
  const hq = hkv * d.pick([1, 2, 3]);
  const hd = d.pick([1, 2, 4, 5, 8]);
  const s = seqDim(ctx);
  const batch = d.chance(0.2) ? [d.pick([1, 2, 3])] : [];
  const q = ctx.input('f32', [...batch, s, hq, hd]);
  let k: Value, v: Value;
  const past = ctx.symbols.find((x) => x.key === 'P');
  if (past && !batch.length && d.chance(0.6)) {
    const kc = ctx.b.input('kcache', 'f32', [past, hkv, hd], { state: true });
    const vc = ctx.b.input('vcache', 'f32', [past, hkv, hd], { state: true });
    k = ctx.b.op('kv_append', [kc, ctx.input('f32', [s, hkv, hd])]);
    v = ctx.b.op('kv_append', [vc, ctx.input('f32', [s, hkv, hd])]);
  } else {
    k = ctx.input('f32', [...batch, s, hkv, hd]);
    v = ctx.input('f32', [...batch, s, hkv, hd]);
  }
  const t = k.type.shape[batch.length];
  const mask = d.chance(0.3) ? [ctx.input(d.pick<DType>(['i32', 'f32']), [...batch, t])] : [];
  const attrs = {
    scale: d.pick([0.25, 0.5, 1, 0.0625]),
    causal: d.chance(0.7),
    window: d.pick([0, 0, 0, 1, 2, 3, 5]),
    softcap: d.pick([0, 0, 0, 0.5, 2]),
  };
  return [k, v, ctx.b.op('attention', [q, k, v, ...mask], attrs)];
};

/** RoPE on heads of one projection, or on the Q and K pieces of a merged Q/K/V projection. */
export const ropeHeads: OpGenerator = (ctx) => {
  const d = ctx.draw;
  const x = ctx.input('f32', [seqDim(ctx), d.pick([1, 3, 8, 16])]);
  const h = maybeNorm(ctx, x);
  const k = x.type.shape[1] as number;
  const hd = d.pick([2, 4, 6, 8]);
  const rope = { theta: d.pick([10000, 1e6, 3]), rotary_dim: d.pick([0, 0, 2]), interleaved: d.chance(0.2) };
  const pos = ctx.input('i32', [x.type.shape[0]]);
  const heads = (v: Value, n: number) => ctx.b.op('reshape', [v], { shape: [x.type.shape[0], n, hd] });
  const hq = d.pick([1, 2, 3]);
  if (d.bool()) {
    const w = ctx.param([hq * hd, k], d.pick(WEIGHT_DTYPES));
    return [ctx.b.op('rope', [heads(ctx.b.op('matmul', [h, w]), hq), pos], rope)];
  }
  const hkv = d.pick([1, hq]);
  const w = ctx.param([(hq + 2 * hkv) * hd, k], 'f32');
  const [pq, pk, pv] = ctx.b.ops('split', [ctx.b.op('matmul', [h, w])], { axis: -1, sizes: [hq * hd, hkv * hd, hkv * hd] });
  return [ctx.b.op('rope', [heads(pq, hq), pos], rope), ctx.b.op('rope', [heads(pk, hkv), pos], rope), heads(pv, hkv)];
};

/** A single op with finite attributes (the generic generator would draw NaN and 1e300 factors). */
const finiteUnary = (op: string, attrs: () => Record<string, AttrValue>): OpGenerator => (ctx) => {
  const xs = floatValues(ctx, () => true);
  return xs.length ? [ctx.b.op(op, [ctx.draw.pick(xs)], attrs())] : undefined;
};

/**
 * Generators by the op name randomGraph knows them under (it only draws registered op names):
 * each stands in for that op with a whole pattern around it.
 */
export const PASS_GENERATORS: Readonly<Record<string, OpGenerator>> = {
  matmul: projections,
  attention: attentionBlock,
  rope: ropeHeads,
  softcap: elementwiseChain,
  scale: finiteUnary('scale', () => ({ factor: 0.5 })),
};

/** Registered ops whose reference semantics accept any data (no ids to keep below a vocabulary). */
export const DATA_SAFE_OPS = ['add', 'sub', 'mul', 'matmul', 'rms_norm', 'layer_norm', 'reshape', 'transpose', 'split', 'concat', 'slice', 'silu', 'gelu', 'neg', 'relu', 'tanh', 'sigmoid', 'scale', 'softcap', 'softmax', 'kv_append', 'rope', 'attention'];

/** The ops to draw from in pass tests: every data-safe op, the pass patterns several times over. */
export const PASS_TEST_OPS = [...DATA_SAFE_OPS, ...Array(3).fill(['matmul', 'attention', 'rope', 'softcap']).flat()];
