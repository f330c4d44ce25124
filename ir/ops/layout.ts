// Layout ops: they only move elements, so they keep the operand's dtype (f32, i32, f16, …; not
// block-quantized, whose blocks they would cut). Shapes may be symbolic: reshape compares element
// counts as polynomials, and slice takes symbolic bounds (S-1..S selects the last token).
import { type Dim, dimAdd, dimEquals, dimProduct, dimSub, dimToString, evalDim, shapeToString } from '../dim.js';
import { registerOp } from '../op.js';
import { type HostTensor, numel, tensor } from '../tensor.js';
import { type TensorType, typeToString } from '../types.js';
import { evalShape, expectUnblocked, fail, gather, newLike, normAxis, provenNegative, stridesOf } from './util.js';

const layoutType = (x: TensorType, shape: readonly Dim[]): TensorType => ({ dtype: x.dtype, shape: [...shape] });

registerOp({
  name: 'reshape',
  summary: 'the same elements in row-major order under a new shape (symbolic; no -1 placeholder)',
  operands: ['x'],
  attrs: { shape: { type: 'dims' } },
  traits: ['layout'],
  infer([x], a) {
    expectUnblocked(x, 'x');
    const shape = a.shape as readonly Dim[];
    for (const d of shape) if (provenNegative(d)) fail(`attribute 'shape' ${shapeToString(shape)} has a negative dim`);
    const from = dimProduct(x.shape), to = dimProduct(shape);
    if (!dimEquals(from, to)) {
      fail(`attribute 'shape' ${shapeToString(shape)} holds ${dimToString(to)} elements, x ${typeToString(x)} holds ${dimToString(from)}`);
    }
    return [layoutType(x, shape)];
  },
  evaluate([x], a, ctx) {
    const shape = evalShape(a.shape as readonly Dim[], ctx.dims);
    if (numel(shape) !== numel(x.shape)) throw new Error(`reshape: [${x.shape.join(', ')}] cannot become [${shape.join(', ')}]`);
    // Host tensors are never written after they are made, so the result may share x's data.
    return [tensor(x.dtype, shape, x.data)];
  },
});

registerOp({
  name: 'transpose',
  summary: 'out[i_perm[0], …] = x[i_0, …]: result axis k is x axis perm[k]',
  operands: ['x'],
  attrs: { perm: { type: 'ints' } },
  traits: ['layout'],
  infer([x], a) {
    expectUnblocked(x, 'x');
    const perm = a.perm as readonly number[];
    const rank = x.shape.length;
    const sorted = [...perm].sort((p, q) => p - q);
    if (perm.length !== rank || sorted.some((p, i) => p !== i)) {
      fail(`attribute 'perm' [${perm.join(', ')}] is not a permutation of the ${rank} axes of x ${typeToString(x)}`);
    }
    return [layoutType(x, perm.map((p) => x.shape[p]))];
  },
  evaluate([x], a) {
    const perm = a.perm as readonly number[];
    const shape = perm.map((p) => x.shape[p]);
    const inStrides = stridesOf(x.shape);
    // Stride in x of each result axis; walk result indices with an odometer.
    const strides = perm.map((p) => inStrides[p]);
    const idx = new Array<number>(shape.length).fill(0);
    let off = 0;
    return [gather(x, shape, () => {
      const at = off;
      for (let i = shape.length - 1; i >= 0; i--) {
        off += strides[i];
        if (++idx[i] < shape[i]) break;
        off -= strides[i] * shape[i];
        idx[i] = 0;
      }
      return at;
    })];
  },
});

/** Copies x[..., start:start+len, ...] along `axis` (a contiguous run per outer index). */
function sliceAxis(x: HostTensor, axis: number, start: number, len: number): HostTensor {
  const shape = [...x.shape];
  const full = shape[axis];
  shape[axis] = len;
  const inner = stridesOf(x.shape)[axis];
  const outer = x.shape.slice(0, axis).reduce((p, d) => p * d, 1);
  const src = x.data as Float32Array;
  const out = newLike(x, outer * len * inner);
  for (let o = 0; o < outer; o++) out.set(src.subarray((o * full + start) * inner, (o * full + start + len) * inner), o * len * inner);
  return tensor(x.dtype, shape, out);
}

registerOp({
  name: 'split',
  summary: 'cuts x along axis into consecutive pieces of the given (static) sizes; one result each',
  operands: ['x'],
  attrs: { axis: { type: 'int', default: -1 }, sizes: { type: 'ints' } },
  traits: ['layout'],
  infer([x], a) {
    expectUnblocked(x, 'x');
    const axis = normAxis(a.axis as number, x.shape.length);
    const sizes = a.sizes as readonly number[];
    if (sizes.length === 0 || sizes.some((s) => s <= 0)) fail(`attribute 'sizes' [${sizes.join(', ')}] must be one or more positive sizes`);
    const total = sizes.reduce((p, s) => p + s, 0);
    if (!dimEquals(x.shape[axis], total)) {
      fail(`attribute 'sizes' [${sizes.join(', ')}] add up to ${total}, but x ${typeToString(x)} has ${dimToString(x.shape[axis])} along axis ${axis}`);
    }
    return sizes.map((s) => layoutType(x, x.shape.map((d, i) => (i === axis ? s : d))));
  },
  evaluate([x], a) {
    const axis = normAxis(a.axis as number, x.shape.length);
    let start = 0;
    return (a.sizes as readonly number[]).map((s) => {
      const piece = sliceAxis(x, axis, start, s);
      start += s;
      return piece;
    });
  },
});

registerOp({
  name: 'concat',
  summary: 'joins its operands along axis; every other dim must agree',
  operands: ['...xs'],
  attrs: { axis: { type: 'int', default: -1 } },
  traits: ['layout'],
  infer(xs, a) {
    if (xs.length === 0) fail('concat needs at least one operand');
    const first = xs[0];
    const rank = first.shape.length;
    const axis = normAxis(a.axis as number, rank);
    let along: Dim = 0;
    xs.forEach((x, k) => {
      expectUnblocked(x, `xs[${k}]`);
      if (x.dtype !== first.dtype || x.shape.length !== rank) fail(`xs[${k}] ${typeToString(x)} must have the dtype and rank of xs[0] ${typeToString(first)}`);
      x.shape.forEach((d, i) => {
        if (i !== axis && !dimEquals(d, first.shape[i])) fail(`xs[${k}] ${typeToString(x)} differs from xs[0] ${typeToString(first)} in axis ${i} (only axis ${axis} may differ)`);
      });
      along = dimAdd(along, x.shape[axis]);
    });
    return [layoutType(first, first.shape.map((d, i) => (i === axis ? along : d)))];
  },
  evaluate(xs, a) {
    const axis = normAxis(a.axis as number, xs[0].shape.length);
    const shape = [...xs[0].shape];
    shape[axis] = xs.reduce((p, x) => p + x.shape[axis], 0);
    const outer = shape.slice(0, axis).reduce((p, d) => p * d, 1);
    const out = newLike(xs[0], numel(shape));
    // For each outer index, the operands' runs follow one another.
    let at = 0;
    for (let o = 0; o < outer; o++) {
      for (const x of xs) {
        const run = numel(x.shape) / outer;
        out.set((x.data as Float32Array).subarray(o * run, (o + 1) * run), at);
        at += run;
      }
    }
    return [tensor(xs[0].dtype, shape, out)];
  },
});

registerOp({
  name: 'slice',
  summary: 'x[..., start:end, ...] along axis; start and end may be symbolic (S-1, S)',
  operands: ['x'],
  attrs: { axis: { type: 'int', default: 0 }, start: { type: 'dim' }, end: { type: 'dim' } },
  traits: ['layout'],
  infer([x], a) {
    expectUnblocked(x, 'x');
    const axis = normAxis(a.axis as number, x.shape.length);
    const start = a.start as Dim, end = a.end as Dim, size = x.shape[axis];
    if (provenNegative(start)) fail(`attribute 'start' ${dimToString(start)} is negative`);
    if (provenNegative(dimSub(end, start))) fail(`attribute 'end' ${dimToString(end)} is before 'start' ${dimToString(start)}`);
    if (provenNegative(dimSub(size, end))) fail(`attribute 'end' ${dimToString(end)} is past x's ${dimToString(size)} along axis ${axis} (x is ${typeToString(x)})`);
    return [layoutType(x, x.shape.map((d, i) => (i === axis ? dimSub(end, start) : d)))];
  },
  evaluate([x], a, ctx) {
    const axis = normAxis(a.axis as number, x.shape.length);
    const start = evalDim(a.start as Dim, ctx.dims), end = evalDim(a.end as Dim, ctx.dims);
    if (start < 0 || end < start || end > x.shape[axis]) throw new Error(`slice: [${start}, ${end}) is outside 0..${x.shape[axis]} on axis ${axis}`);
    return [sliceAxis(x, axis, start, end - start)];
  },
});
