// Fused ops made by the optimisation passes. Each stands for a chain of simpler ops and is defined
// by composing their reference semantics, so a fused graph computes what the unfused one did:
//
//   fused_elementwise(x0, x1, …) {program}            a chain of elementwise ops as one program
//   matmul_ep(x, w, extra…) {bias, parts, epilogue}    matmul, then an elementwise epilogue
//   norm_matmul(x, w, extra…) {kind, eps, …}          normalise x (no gain), matmul, epilogue
//
// Matmul epilogues: the product (plus the bias when `bias` is set: then extra[0] is the bias [n])
// is cut into `parts` equal column blocks acc0…acc(parts−1); the epilogue program combines them
// with the remaining extras x0, x1, … (each broadcast to the result [..., n/parts]). So
// `{parts = 2, epilogue = "silu(acc0) * acc1"}` is a gated MLP (SwiGLU) on a merged gate/up weight.
// norm_matmul's weight has the norm's gain folded into its columns at compile time (the passes
// write `scale_cols(w, g)`), so the normalised activation is never stored.
import type { Attrs } from '../attrs.js';
import { type Dim, type DimBindings, shapesEqual, shapeToString } from '../dim.js';
import { getOp, registerOp } from '../op.js';
import { type HostTensor, numel, tensor } from '../tensor.js';
import { type TensorType, typeToString } from '../types.js';
import './matmul.js';
import './norm.js';
import { checkProgram, evaluateProgram, parseProgram } from './program.js';
import { broadcastIndex, broadcastShapes, expectDim, expectFloat, expectRank, f32Type, fail, floats, lastDim, outF32 } from './util.js';

registerOp({
  name: 'fused_elementwise',
  summary: 'an elementwise program over its operands (broadcast together), e.g. program = "silu(x0) * x1"',
  operands: ['...x'],
  attrs: { program: { type: 'string', doc: 'see ir/ops/program.ts: + - * / and the functions the unary ops declare (silu, gelu, softcap(x, cap), …)' } },
  traits: ['elementwise', 'fused'],
  infer(xs, a) {
    if (xs.length === 0) fail('fused_elementwise needs at least one operand');
    xs.forEach((x, k) => expectFloat(x, `x${k}`));
    const bad = checkProgram(a.program as string, xs.length, 0);
    if (bad) fail(bad);
    return [f32Type(xs.map((x) => x.shape).reduce((s, t) => broadcastShapes(s, t)))];
  },
  evaluate(xs, a) {
    const shape = xs.map((x) => x.shape).reduce((s, t) => broadcastShapes(s, t) as number[]);
    const n = numel(shape);
    return [outF32(shape, evaluateProgram(parseProgram(a.program as string), n, xs.map((x) => spread(x, shape))))];
  },
});

/** An operand's values at every element of `shape` (numpy broadcasting). */
function spread(x: HostTensor, shape: readonly number[]): Float32Array {
  const src = floats(x);
  if (shapesEqual(x.shape, shape)) return src;
  const idx = broadcastIndex(x.shape, shape);
  return Float32Array.from(idx, (i) => src[i]);
}

// ---- matmul with prologue and epilogue ----

/** Attributes every fused matmul has. */
export const EPILOGUE_ATTRS = {
  bias: { type: 'bool', default: false, doc: 'extra[0] is a bias [n], added before the epilogue' },
  parts: { type: 'int', default: 1, doc: 'the product is cut into this many equal column blocks acc0, acc1, …' },
} as const;

/** The result type of a fused matmul; checks operands, bias, parts and the epilogue program. */
function inferProjection(ops: readonly TensorType[], a: Attrs, epilogue: string): TensorType[] {
  const [x, w, ...extra] = ops;
  expectFloat(x, 'x');
  if (x.shape.length < 1) fail(`x must have rank ≥ 1, got ${typeToString(x)}`);
  expectRank(w, 'w', [2]);
  expectDim(lastDim(x), w.shape[1], `x's last dim must equal w's in-features (w is ${typeToString(w)})`);
  const n = w.shape[0];
  if (a.bias) {
    const b = extra.shift();
    if (!b) fail(`attribute 'bias' is set but there is no bias operand`);
    expectRank(b, 'bias', [1]);
    expectDim(b.shape[0], n, `bias length must equal w's out-features`);
  }
  const parts = a.parts as number;
  if (parts < 1) fail(`attribute 'parts' must be ≥ 1, got ${parts}`);
  let m: Dim = n;
  if (parts > 1) {
    if (typeof n !== 'number' || n % parts !== 0) fail(`attribute 'parts' ${parts} does not divide w's ${String(n)} out-features`);
    m = n / parts;
  }
  const piece = [...x.shape.slice(0, -1), m];
  extra.forEach((e, k) => {
    expectFloat(e, `x${k}`);
    let joint: Dim[] | undefined;
    try {
      joint = broadcastShapes(piece, e.shape);
    } catch {
      joint = undefined;
    }
    if (!joint || !shapesEqual(joint, piece)) fail(`epilogue operand x${k} ${typeToString(e)} does not broadcast to the result ${shapeToString(piece)}`);
  });
  const bad = checkProgram(epilogue, extra.length, parts);
  if (bad) fail(bad);
  return [f32Type(piece)];
}

export interface Prologue {
  readonly kind: 'rms' | 'layer';
  readonly eps: number;
}

/** x normalised over its last axis, without gain or bias (the gain lives in the weight). */
export function normalize(x: HostTensor, p: Prologue, dims: DimBindings): HostTensor {
  const k = x.shape[x.shape.length - 1];
  const ones = tensor('f32', [k], new Float32Array(k).fill(1));
  const attrs: Attrs = p.kind === 'rms' ? { eps: p.eps, offset: 0 } : { eps: p.eps };
  return getOp(p.kind === 'rms' ? 'rms_norm' : 'layer_norm').evaluate([x, ones], attrs, { dims })[0];
}

/** prologue(x) · wᵀ (+ bias): the product every fused matmul starts from, as `matmul` computes it. */
export function project(x: HostTensor, w: HostTensor, bias: HostTensor | undefined, prologue: Prologue | undefined, dims: DimBindings): HostTensor {
  const xn = prologue ? normalize(x, prologue, dims) : x;
  return getOp('matmul').evaluate(bias ? [xn, w, bias] : [xn, w], {}, { dims })[0];
}

/** Runs an epilogue over a product [..., n]: blocks acc0… of n/parts columns, extras broadcast. */
export function applyEpilogue(acc: HostTensor, parts: number, extra: readonly HostTensor[], epilogue: string): HostTensor {
  const n = acc.shape[acc.shape.length - 1];
  const m = n / parts;
  const shape = [...acc.shape.slice(0, -1), m];
  const rows = m === 0 ? 0 : numel(shape) / m;
  const all = floats(acc);
  const blocks = Array.from({ length: parts }, (_, k) => {
    if (parts === 1) return all;
    const out = new Float32Array(rows * m);
    for (let r = 0; r < rows; r++) out.set(all.subarray(r * n + k * m, r * n + (k + 1) * m), r * m);
    return out;
  });
  return outF32(shape, evaluateProgram(parseProgram(epilogue), numel(shape), extra.map((e) => spread(e, shape)), blocks));
}

function evaluateProjection(ops: readonly HostTensor[], a: Attrs, prologue: Prologue | undefined, dims: DimBindings): HostTensor[] {
  const [x, w, ...extra] = ops;
  const bias = a.bias ? extra.shift() : undefined;
  const acc = project(x, w, bias, prologue, dims);
  return [applyEpilogue(acc, a.parts as number, extra, a.epilogue as string)];
}

registerOp({
  name: 'matmul_ep',
  summary: 'matmul x · wᵀ (+ bias) with an elementwise epilogue over the column blocks acc0… and operands x0…',
  operands: ['x', 'w', '...extra'],
  attrs: { ...EPILOGUE_ATTRS, epilogue: { type: 'string', doc: 'a program (ir/ops/program.ts) over acc0… and x0…' } },
  traits: ['fused'],
  projection: { weight: 1, layout: 'out_in', epilogue: true, normFoldable: true },
  infer: (ops, a) => inferProjection(ops, a, a.epilogue as string),
  evaluate: (ops, a, ctx) => evaluateProjection(ops, a, undefined, ctx.dims),
});

registerOp({
  name: 'norm_matmul',
  summary: 'rms_norm or layer_norm of x without gain (folded into w), then matmul with an optional epilogue',
  operands: ['x', 'w', '...extra'],
  attrs: {
    kind: { type: 'string', oneOf: ['rms', 'layer'] },
    eps: { type: 'float' },
    ...EPILOGUE_ATTRS,
    epilogue: { type: 'string', default: 'acc0' },
  },
  traits: ['fused'],
  // Its x is normalised already: another norm cannot fold in.
  projection: { weight: 1, layout: 'out_in', epilogue: true, normFoldable: false },
  infer: (ops, a) => inferProjection(ops, a, a.epilogue as string),
  evaluate: (ops, a, ctx) => evaluateProjection(ops, a, { kind: a.kind as 'rms' | 'layer', eps: a.eps as number }, ctx.dims),
});

/** True for the fused matmul ops whose epilogue is the bare product (no blocks, no extra operands). */
export function isPlainProjection(op: string, a: Attrs, operands: number): boolean {
  if (op === 'matmul') return true;
  if (op !== 'matmul_ep' && op !== 'norm_matmul') return false;
  return a.parts === 1 && a.epilogue === 'acc0' && operands === 2 + (a.bias ? 1 : 0);
}
