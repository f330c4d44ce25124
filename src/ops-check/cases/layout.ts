// Data movement and lookups: reshape, transpose, split, concat, slice (static and symbolic
// bounds), kv_append, embedding over every table dtype; argmax (ties: the first maximum wins) and
// mean_pool (padding masks). Layout results are compared bit for bit.
import { dimSub, type DType, type HostTensor, sym, tensor } from '../../../ir/index.js';
import type { OpCases } from '../case.js';
import { type Draw, randomInts, randomIntsF32, randomTensor, size } from '../draw.js';
import { WEIGHT_DTYPES } from './matmul.js';

const S = sym('S'), P = sym('P'), B = sym('B');
const LAYOUT_DTYPES: readonly DType[] = ['f32', 'i32', 'f16'];

/** A rank-3 tensor of a layout dtype (i32 from scaled floats, so every element differs). */
function tensor3(d: Draw): HostTensor {
  const shape = [size(d, 24), size(d, 24), size(d, 24)];
  const dtype = d.pick(LAYOUT_DTYPES), seed = d.seed();
  return dtype === 'i32' ? randomInts(shape, seed, -100000, 100000) : randomTensor(dtype, shape, seed);
}

const like = (t: HostTensor, shape: readonly number[], seed: number) =>
  (t.dtype === 'i32' ? randomInts(shape, seed, -100000, 100000) : randomTensor(t.dtype, shape, seed));

const PERMS = [[1, 0, 2], [2, 1, 0], [0, 2, 1], [1, 2, 0], [2, 0, 1], [0, 1, 2]];

export const layoutCases: readonly OpCases[] = [
  {
    op: 'reshape',
    draw: (d) => {
      const x = tensor3(d), [a, b, c] = x.shape, symbolic = d.bool();
      return [{ label: `reshape ${x.dtype}[${x.shape}]${symbolic ? ' (S)' : ''}`, op: 'reshape', operands: [{ t: x, shape: symbolic ? [S, b, c] : undefined }], attrs: { shape: symbolic ? [S, b * c] : [a * b, c] } }];
    },
  },
  {
    op: 'transpose',
    draw: (d) => {
      const x = tensor3(d), perm = d.pick(PERMS), symbolic = d.bool();
      return [{ label: `transpose ${x.dtype}[${x.shape}] ${perm}`, op: 'transpose', operands: [{ t: x, shape: symbolic ? [S, ...x.shape.slice(1)] : undefined }], attrs: { perm } }];
    },
  },
  {
    op: 'split',
    draw: (d) => {
      const x = tensor3(d), axis = d.int(0, 2), n = x.shape[axis];
      const first = n === 1 ? 1 : d.int(1, n - 1);
      const sizes = n === 1 ? [1] : [first, n - first];
      return [{ label: `split ${x.dtype}[${x.shape}] axis ${axis} ${sizes}`, op: 'split', operands: [{ t: x }], attrs: { axis, sizes } }];
    },
  },
  {
    op: 'concat',
    draw: (d) => {
      const x = tensor3(d), axis = d.int(0, 2);
      const other = x.shape.map((v, k) => (k === axis ? d.int(1, 5) : v));
      return [{ label: `concat ${x.dtype}[${x.shape}] [${other}] axis ${axis}`, op: 'concat', operands: [{ t: x }, { t: like(x, other, d.seed()) }, { t: x }], attrs: { axis } }];
    },
  },
  {
    op: 'slice',
    draw: (d) => {
      const x = tensor3(d), axis = d.int(0, 2), n = x.shape[axis];
      const start = d.int(0, n - 1), end = d.int(start + 1, n);
      return [
        { label: `slice ${x.dtype}[${x.shape}] axis ${axis} ${start}:${end}`, op: 'slice', operands: [{ t: x }], attrs: { axis, start, end } },
        // The last token of a symbolic sequence.
        { label: `slice ${x.dtype}[S=${x.shape[0]}, ..] S-1:S`, op: 'slice', operands: [{ t: x, shape: [S, ...x.shape.slice(1)] }], attrs: { axis: 0, start: dimSub(S, 1), end: S } },
      ];
    },
  },
  {
    op: 'kv_append',
    draw: (d) => {
      const dtype = d.pick(LAYOUT_DTYPES), past = d.int(0, 20), s = size(d, 9), h = d.int(1, 3), dh = size(d, 24), seed = d.seed();
      const make = (shape: number[], k: number) => (dtype === 'i32' ? randomInts(shape, seed + k, -1000, 1000) : randomTensor(dtype, shape, seed + k));
      const batched = d.bool();
      const lead = batched ? [2] : [];
      return [{
        label: `kv_append ${dtype} P=${past} S=${s} [${lead}${batched ? ', ' : ''}·, ${h}, ${dh}]`, op: 'kv_append', exact: true,
        operands: [{ t: make([...lead, past, h, dh], 0), shape: [...(batched ? [B] : []), P, h, dh] }, { t: make([...lead, s, h, dh], 1), shape: [...(batched ? [B] : []), S, h, dh] }],
      }];
    },
  },
  {
    op: 'embedding',
    draw: (d) => {
      const dtype = d.pick(WEIGHT_DTYPES);
      const dim = d.pick([size(d, 40), 32, 64, 33]), vocab = d.int(2, 40), rows = size(d, 9), batched = d.bool(), seed = d.seed();
      const ids = randomInts(batched ? [2, rows] : [rows], seed, 0, vocab);
      return [{
        label: `embedding ${dtype}[${vocab}, ${dim}] ids[${ids.shape}]`, op: 'embedding', exact: true,
        operands: [{ t: randomTensor(dtype, [vocab, dim], seed + 1) }, { t: ids, shape: batched ? [2, S] : [S] }],
      }];
    },
  },
  {
    op: 'argmax',
    draw: (d) => {
      // Small integers make ties likely: the first maximum must win. Long single rows are split
      // across threads on the CPU (a greedy decode's logits).
      const long = d.bool();
      const shape = long ? [1, d.pick([257, 513, 1037, 4099])] : [size(d, 9), size(d, 300)];
      const symbolic = d.bool();
      // A rising row puts the maximum in the last thread's remainder, past its whole vectors.
      const rising = d.int(0, 3) === 0;
      const x = rising ? tensor('f32', shape, Float32Array.from({ length: shape[0] * shape[1] }, (_, k) => Math.sin(k) + k / shape[1])) : randomIntsF32(shape, d.seed(), -3, 4);
      return [{ label: `argmax [${shape}] (${rising ? 'rising' : 'ties'})`, op: 'argmax', operands: [{ t: x, shape: symbolic ? [S, shape[1]] : undefined }] }];
    },
  },
  {
    op: 'mean_pool',
    draw: (d) => {
      const [b, s, h] = [size(d, 5), size(d, 20), size(d, 40)], seed = d.seed();
      const mask = randomInts([b, s], seed, 0, 2);
      if (b > 1) (mask.data as Int32Array).fill(0, 0, s); // an all-padding row pools to zeros
      const maskT = d.bool() ? mask : { ...mask, dtype: 'f32' as const, data: Float32Array.from(mask.data as Int32Array) };
      return [{ label: `mean_pool [${b}, ${s}, ${h}] mask ${maskT.dtype}`, op: 'mean_pool', operands: [{ t: randomTensor('f32', [b, s, h], seed + 1) }, { t: maskT }] }];
    },
  },
];

