// rope_matmul: a Q/K projection with RoPE in its epilogue. The product x · wᵀ (+ bias), optionally
// of a normalised x as in norm_matmul, has some column ranges (rope_cols, [start, end) pairs) read
// as heads of head_dim and rotated at positions pos, exactly as `reshape` then `rope` would; other
// columns (V in a merged QKV projection) pass through. The result keeps the matmul's shape.
import type { Attrs } from '../attrs.js';
import { getOp, registerOp } from '../op.js';
import { type HostTensor, numel, tensor } from '../tensor.js';
import { typeToString } from '../types.js';
import { project, type Prologue } from './fused.js';
import './rope.js';
import { expectDim, expectFloat, expectRank, f32Type, fail, floats, lastDim, outF32 } from './util.js';

const ROPE = getOp('rope');

/** The attributes that rope_matmul passes on to rope. */
export function ropeAttrsOf(a: Attrs): Attrs {
  return Object.fromEntries(Object.keys(ROPE.attrs).map((k) => [k, a[k]]));
}

/** The [start, end) column ranges, checked against the head size and the out-features. */
function ranges(a: Attrs, n: number): [number, number][] {
  const cols = a.rope_cols as readonly number[];
  const hd = a.head_dim as number;
  if (hd < 1) fail(`attribute 'head_dim' must be ≥ 1, got ${hd}`);
  if (cols.length === 0 || cols.length % 2 !== 0) fail(`attribute 'rope_cols' must hold [start, end) pairs, got [${cols.join(', ')}]`);
  const out: [number, number][] = [];
  let prev = 0;
  for (let i = 0; i < cols.length; i += 2) {
    const [start, end] = [cols[i], cols[i + 1]];
    if (!(prev <= start && start < end && end <= n)) fail(`attribute 'rope_cols': [${start}, ${end}) must be ascending, disjoint ranges within the ${n} out-features`);
    if (start % hd !== 0 || end % hd !== 0) fail(`attribute 'rope_cols': [${start}, ${end}) does not cut whole heads of ${hd}`);
    out.push([start, end]);
    prev = end;
  }
  return out;
}

registerOp({
  name: 'rope_matmul',
  summary: 'x · wᵀ (+ bias), x optionally normalised; columns rope_cols rotated by RoPE as heads of head_dim at positions pos',
  operands: ['x', 'w', 'pos', 'bias?'],
  attrs: {
    norm: { type: 'string', default: 'none', oneOf: ['none', 'rms', 'layer'], doc: 'prologue as in norm_matmul (gain folded into w)' },
    eps: { type: 'float', default: 0 },
    head_dim: { type: 'int' },
    rope_cols: { type: 'ints' },
    ...ROPE.attrs,
  },
  traits: ['fused'],
  // RoPE is its epilogue, and a norm folds in only as it is made (fold-rope takes norm_matmul's).
  projection: { weight: 1, layout: 'out_in', epilogue: false, normFoldable: false },
  infer([x, w, pos, bias], a) {
    expectFloat(x, 'x');
    expectRank(x, 'x', [2, 3]);
    expectRank(w, 'w', [2]);
    expectDim(lastDim(x), w.shape[1], `x's last dim must equal w's in-features (w is ${typeToString(w)})`);
    const n = w.shape[0];
    if (typeof n !== 'number') fail(`w's out-features must be static, got ${typeToString(w)}`);
    if (bias) {
      expectRank(bias, 'bias', [1]);
      expectDim(bias.shape[0], n, `bias length must equal w's out-features`);
    }
    const lead = x.shape.slice(0, -1);
    const hd = a.head_dim as number;
    for (const [start, end] of ranges(a, n)) ROPE.infer([f32Type([...lead, (end - start) / hd, hd]), pos], ropeAttrsOf(a));
    return [f32Type([...lead, n])];
  },
  evaluate([x, w, pos, bias], a, ctx) {
    const prologue: Prologue | undefined = a.norm === 'none' ? undefined : { kind: a.norm as 'rms' | 'layer', eps: a.eps as number };
    const acc = project(x, w, bias, prologue, ctx.dims);
    const n = acc.shape[acc.shape.length - 1];
    const lead = acc.shape.slice(0, -1);
    const rows = numel(lead);
    const data = Float32Array.from(floats(acc));
    const hd = a.head_dim as number;
    for (const [start, end] of ranges(a, n)) {
      const width = end - start;
      const block = new Float32Array(rows * width);
      for (let r = 0; r < rows; r++) block.set(data.subarray(r * n + start, r * n + end), r * width);
      const heads: HostTensor = tensor('f32', [...lead, width / hd, hd], block);
      const rotated = floats(ROPE.evaluate([heads, pos], ropeAttrsOf(a), ctx)[0]);
      for (let r = 0; r < rows; r++) data.set(rotated.subarray(r * width, (r + 1) * width), r * n + start);
    }
    return [outF32(acc.shape, data)];
  },
});
