// The fused ops against the chains they stand for, op by op: flash_attention's tiled online
// softmax (and split-K decode) against attention over random shapes, GQA ratios, windows, masks
// and softcaps; norm_matmul, matmul_ep and rope_matmul against norm/matmul/split/rope chains; and
// their type errors.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Attrs, normalizeAttrs } from '../../ir/attrs.js';
import { getOp } from '../../ir/op.js';
import '../../ir/ops/index.js';
import { f32, type HostTensor, i32, toF32 } from '../../ir/tensor.js';
import { tensorType } from '../../ir/types.js';
import { evaluateWeight, weightCall, weightTensor } from '../../ir/weights.js';
import { fill } from './helpers/oracle.js';

function op(name: string, args: readonly HostTensor[], attrs: Attrs = {}): HostTensor[] {
  const def = getOp(name);
  const { attrs: full, errors } = normalizeAttrs(def.attrs, attrs);
  if (errors.length) throw new Error(errors.join('; '));
  def.infer(args.map((a) => tensorType(a.dtype, a.shape)), full);
  return def.evaluate(args, full, { dims: {} });
}

function expectNear(got: HostTensor, want: HostTensor, rel: number, what: string): void {
  expect(got.shape, what).toEqual(want.shape);
  const a = toF32(want), b = toF32(got);
  let scale = 1e-30;
  for (const v of a) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < a.length; i++) if (!(Math.abs(a[i] - b[i]) <= rel * scale)) expect.fail(`${what}[${i}]: ${a[i]} vs ${b[i]}`);
}

describe('flash_attention', () => {
  const arb = fc.record({
    batch: fc.constantFrom(0, 0, 1, 2),
    s: fc.constantFrom(1, 1, 2, 3, 5, 9),
    past: fc.constantFrom(0, 1, 4, 11),
    hkv: fc.integer({ min: 1, max: 3 }),
    group: fc.integer({ min: 1, max: 3 }),
    d: fc.integer({ min: 1, max: 6 }),
    dv: fc.integer({ min: 1, max: 5 }),
    causal: fc.boolean(),
    window: fc.constantFrom(0, 0, 1, 2, 5),
    softcap: fc.constantFrom(0, 0, 0.5, 3),
    scale: fc.constantFrom(0.3, 1, 40),
    mask: fc.constantFrom('none', 'none', 'i32', 'f32', 'all-zero'),
    tileQ: fc.integer({ min: 1, max: 5 }),
    tileK: fc.integer({ min: 1, max: 7 }),
    splitK: fc.integer({ min: 1, max: 4 }),
    seed: fc.nat(),
  });

  it('equals attention: tiles, online softmax, split-K partials, masks, GQA, softcap (property)', () => {
    fc.assert(fc.property(arb, (c) => {
      const lead = c.batch ? [c.batch] : [];
      const t = c.s + c.past;
      const q = fill(`q${c.seed}`, 'f32', [...lead, c.s, c.hkv * c.group, c.d]);
      const k = fill(`k${c.seed}`, 'f32', [...lead, t, c.hkv, c.d]);
      const v = fill(`v${c.seed}`, 'f32', [...lead, t, c.hkv, c.dv]);
      const mshape = [...lead, t];
      const mask = c.mask === 'none' ? [] : c.mask === 'all-zero' ? [i32(mshape)] : [fill(`m${c.seed}`, c.mask as 'i32' | 'f32', mshape)];
      const attrs = { scale: c.scale, causal: c.causal, window: c.window, softcap: c.softcap };
      const want = op('attention', [q, k, v, ...mask], attrs)[0];
      const got = op('flash_attention', [q, k, v, ...mask], { ...attrs, tile_q: c.tileQ, tile_k: c.tileK, split_k: c.splitK })[0];
      expectNear(got, want, 1e-6, 'flash_attention');
    }), { numRuns: 600 });
  });

  it('refuses tiles below 1 and keeps attention’s own checks', () => {
    const q = f32([2, 2, 4]), k = f32([2, 1, 4]);
    expect(() => op('flash_attention', [q, k, k], { scale: 1, tile_k: 0 })).toThrow(/attribute 'tile_k' must be ≥ 1, got 0/);
    expect(() => op('flash_attention', [f32([2, 3, 4]), f32([2, 2, 4]), f32([2, 2, 4])], { scale: 1 })).toThrow(/not a multiple of k's 2 heads/);
  });
});

describe('fused matmuls', () => {
  const x = fill('x', 'f32', [3, 5]);
  const w = fill('w', 'f32', [6, 5]);
  const b = fill('b', 'f32', [6]);
  const g = fill('g', 'f32', [5]);
  const beta = fill('beta', 'f32', [5]);
  const leaves: Record<string, HostTensor> = { w, g, beta, b };
  const read = (n: string) => leaves[n];

  it('norm_matmul(rms) with scale_cols(w, g) {offset} is rms_norm then matmul (Gemma offset 1 too)', () => {
    for (const offset of [0, 1]) {
      const want = op('matmul', [op('rms_norm', [x, g], { eps: 1e-5, offset })[0], w, b])[0];
      const ws = evaluateWeight(weightCall('scale_cols', [weightTensor('w'), weightTensor('g')], { offset }), read);
      expectNear(op('norm_matmul', [x, ws, b], { kind: 'rms', eps: 1e-5, bias: true })[0], want, 1e-6, `offset ${offset}`);
    }
  });

  it('norm_matmul(layer) with fold_bias(w, β, b) is layer_norm then matmul', () => {
    const want = op('matmul', [op('layer_norm', [x, g, beta], { eps: 1e-5 })[0], w, b])[0];
    const ws = evaluateWeight(weightCall('scale_cols', [weightTensor('w'), weightTensor('g')]), read);
    const bs = evaluateWeight(weightCall('fold_bias', [weightTensor('w'), weightTensor('beta'), weightTensor('b')]), read);
    expectNear(op('norm_matmul', [x, ws, bs], { kind: 'layer', eps: 1e-5, bias: true })[0], want, 1e-6, 'layer');
  });

  it('matmul_ep with parts = 2 is matmul, split, activation and product, bit for bit', () => {
    const [gate, up] = op('split', [op('matmul', [x, w, b])[0]], { axis: -1, sizes: [3, 3] });
    const want = op('mul', [op('gelu', [gate], { approximate: 'tanh' })[0], up])[0];
    const got = op('matmul_ep', [x, w, b], { bias: true, parts: 2, epilogue: 'gelu_tanh(acc0) * acc1' })[0];
    expect(Array.from(got.data as Float32Array)).toEqual(Array.from(want.data as Float32Array));
  });

  it('matmul_ep broadcasts its operands (a residual, a row vector)', () => {
    const r = fill('r', 'f32', [3, 6]), row = fill('row', 'f32', [6]);
    const want = op('add', [r, op('mul', [op('matmul', [x, w])[0], row])[0]])[0];
    const got = op('matmul_ep', [x, w, r, row], { epilogue: 'x0 + acc0 * x1' })[0];
    expect(Array.from(got.data as Float32Array)).toEqual(Array.from(want.data as Float32Array));
  });

  it('rope_matmul rotates the listed column ranges as reshape then rope would', () => {
    const wq = fill('wqkv', 'f32', [16, 5]);
    const pos = i32([3], [0, 7, 40]);
    const rope = { theta: 10000, rotary_dim: 2, interleaved: false };
    const [pq, pk, pv] = op('split', [op('matmul', [x, wq])[0]], { axis: -1, sizes: [8, 4, 4] });
    const heads = (t: HostTensor, h: number) => op('reshape', [t], { shape: [3, h, 4] })[0];
    const q = op('rope', [heads(pq, 2), pos], rope)[0], k = op('rope', [heads(pk, 1), pos], rope)[0];
    const got = op('rope_matmul', [x, wq, pos], { ...rope, head_dim: 4, rope_cols: [0, 12] })[0];
    const [gq, gk, gv] = op('split', [got], { axis: -1, sizes: [8, 4, 4] });
    expect(Array.from(gq.data as Float32Array)).toEqual(Array.from(q.data as Float32Array));
    expect(Array.from(gk.data as Float32Array)).toEqual(Array.from(k.data as Float32Array));
    expect(Array.from(gv.data as Float32Array)).toEqual(Array.from(pv.data as Float32Array));
  });

  it('say what is wrong with their operands and attributes', () => {
    expect(() => op('matmul_ep', [x, w], { parts: 4, epilogue: 'acc0' })).toThrow(/attribute 'parts' 4 does not divide w's 6 out-features/);
    expect(() => op('matmul_ep', [x, w], { bias: true, epilogue: 'acc0' })).toThrow(/attribute 'bias' is set but there is no bias operand/);
    expect(() => op('norm_matmul', [x, w], { kind: 'rms', eps: 1e-5, epilogue: 'gelu(acc0, 2)' })).toThrow(/gelu takes 1 argument/);
    expect(() => op('rope_matmul', [x, w, i32([3])], { theta: 1e4, head_dim: 4, rope_cols: [0, 6] })).toThrow(/\[0, 6\) does not cut whole heads of 4/);
    expect(() => op('rope_matmul', [x, w, i32([3])], { theta: 1e4, head_dim: 2, rope_cols: [2, 8] })).toThrow(/must be ascending, disjoint ranges within the 6 out-features/);
  });
});
