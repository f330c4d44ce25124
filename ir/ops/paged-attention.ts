// Paged KV cache ops (continuous batching): every sequence's keys and values live in fixed-size
// blocks of one pool shared by all sequences, [N blocks, BS positions, H, D], and a sequence's
// block table lists, in order, the blocks holding its positions 0…BS−1, BS…2BS−1, … A step runs
// S rows; each row is one token of some sequence and carries that sequence's block table (a row
// of `blocks` [S, M]) and its position, so decode rows of many sequences and prefill rows of one
// share one graph and its projections.
//
// paged_kv_write puts each row's new key (or value) at its position's slot; paged_attention lets
// each row's query see the first lens[r] positions of its sequence (its own included, written by
// the step's paged_kv_write before). Rows must write distinct slots. A block id outside the pool
// or a position past the table is an error here; kernels trust the scheduler that made the tables.
import { registerOp } from '../op.js';
import { tensor } from '../tensor.js';
import { typeToString } from '../types.js';
import { attentionScore } from './attention.js';
import { expectDim, expectDType, expectFloat, expectRank, f32Type, fail, floats, outF32 } from './util.js';

/** Pool slot of position `p` of row `r`: (block · BS + p mod BS); throws on a bad table. */
function slotOf(table: Int32Array, r: number, m: number, bs: number, blocks: number, p: number): number {
  const col = Math.floor(p / bs);
  if (p < 0 || col >= m) throw new RangeError(`paged KV: row ${r} position ${p} is past its block table (${m} blocks of ${bs})`);
  const block = table[r * m + col];
  if (block < 0 || block >= blocks) throw new RangeError(`paged KV: row ${r} block table entry ${col} is ${block}, outside the pool of ${blocks} blocks`);
  return block * bs + (p % bs);
}

registerOp({
  name: 'paged_kv_write',
  summary: 'the KV pool [N, BS, H, D] with row r of new [S, H, D] written at position pos[r] of the block table blocks[r] (in place on a state)',
  operands: ['pool', 'new', 'blocks', 'pos'],
  attrs: {},
  infer([pool, next, blocks, pos]) {
    expectRank(pool, 'pool', [4]);
    expectDType(pool, 'pool', ['f32']);
    expectRank(next, 'new', [3]);
    if (next.dtype !== pool.dtype) fail(`new ${typeToString(next)} must have pool's dtype ${pool.dtype}`);
    expectDim(next.shape[1], pool.shape[2], `new's heads must equal pool's (pool is ${typeToString(pool)})`);
    expectDim(next.shape[2], pool.shape[3], `new's head dim must equal pool's (pool is ${typeToString(pool)})`);
    expectDType(blocks, 'blocks', ['i32']);
    expectRank(blocks, 'blocks', [2]);
    expectDim(blocks.shape[0], next.shape[0], `blocks must have one table per row of new`);
    expectDType(pos, 'pos', ['i32']);
    expectRank(pos, 'pos', [1]);
    expectDim(pos.shape[0], next.shape[0], `pos must have one position per row of new`);
    return [{ dtype: pool.dtype, shape: [...pool.shape] }];
  },
  evaluate([pool, next, blocks, pos]) {
    const [n, bs, h, d] = pool.shape;
    const rowElems = h * d;
    const out = Float32Array.from(floats(pool));
    const src = floats(next), table = blocks.data as Int32Array, ps = pos.data as Int32Array;
    const m = blocks.shape[1];
    for (let r = 0; r < next.shape[0]; r++) {
      const slot = slotOf(table, r, m, bs, n, ps[r]);
      out.set(src.subarray(r * rowElems, (r + 1) * rowElems), slot * rowElems);
    }
    return [tensor(pool.dtype, pool.shape, out)];
  },
});

registerOp({
  name: 'paged_attention',
  summary: 'per row r: softmax(scale · q[r]·kᵀ) · v over the first lens[r] positions of block table blocks[r] in the pools k [N, BS, Hkv, D], v [N, BS, Hkv, Dv]; GQA',
  operands: ['q', 'k', 'v', 'blocks', 'lens'],
  attrs: {
    scale: { type: 'float' },
    window: { type: 'int', default: 0, doc: 'sliding window W > 0: row r sees only its last W positions' },
    softcap: { type: 'float', default: 0, doc: 'cap·tanh(s/cap) on the scaled scores; 0 = off' },
  },
  infer([q, k, v, blocks, lens], a) {
    expectFloat(q, 'q');
    expectRank(q, 'q', [3]);
    expectRank(k, 'k', [4]);
    expectRank(v, 'v', [4]);
    expectDType(k, 'k', ['f32']);
    expectDType(v, 'v', ['f32']);
    const [s, hq, d] = q.shape, [nb, bs, hkv, dk] = k.shape, [vnb, vbs, hv, dv] = v.shape;
    expectDim(dk, d, `k's head dim must equal q's`);
    expectDim(vnb, nb, `v's block count must equal k's`);
    expectDim(vbs, bs, `v's block size must equal k's`);
    expectDim(hv, hkv, `v's head count must equal k's`);
    if (typeof hq === 'number' && typeof hkv === 'number' && (hkv === 0 || hq % hkv !== 0)) {
      fail(`q's ${hq} heads are not a multiple of k's ${hkv} heads (grouped-query attention needs Hq % Hkv = 0)`);
    }
    expectDType(blocks, 'blocks', ['i32']);
    expectRank(blocks, 'blocks', [2]);
    expectDim(blocks.shape[0], s, `blocks must have one table per row of q`);
    expectDType(lens, 'lens', ['i32']);
    expectRank(lens, 'lens', [1]);
    expectDim(lens.shape[0], s, `lens must have one length per row of q`);
    if ((a.window as number) < 0) fail(`attribute 'window' must be ≥ 0, got ${a.window as number}`);
    if ((a.softcap as number) < 0) fail(`attribute 'softcap' must be ≥ 0, got ${a.softcap as number}`);
    return [f32Type([s, hq, dv])];
  },
  evaluate([q, k, v, blocks, lens], a) {
    const [s, hq, d] = q.shape, [n, bs, hkv] = k.shape, dv = v.shape[3];
    const m = blocks.shape[1], group = hq / hkv;
    const qs = floats(q), ks = floats(k), vs = floats(v), table = blocks.data as Int32Array, ls = lens.data as Int32Array;
    const scale = a.scale as number, cap = a.softcap as number, window = a.window as number;
    const out = new Float32Array(s * hq * dv);
    const acc = new Float64Array(dv);
    for (let r = 0; r < s; r++) {
      const len = ls[r];
      if (len < 0) throw new RangeError(`paged_attention: row ${r} has length ${len}`);
      // Row r's query sits at position len − 1; a window shows it positions len − W … len − 1.
      const first = window > 0 ? Math.max(0, len - window) : 0;
      const slots = Array.from({ length: len - first }, (_, j) => slotOf(table, r, m, bs, n, first + j));
      const p = new Float64Array(slots.length);
      for (let h = 0; h < hq; h++) {
        const kh = Math.floor(h / group);
        const qo = (r * hq + h) * d;
        let max = -Infinity;
        slots.forEach((slot, j) => {
          p[j] = attentionScore(qs, qo, ks, (slot * hkv + kh) * d, d, scale, cap, true);
          max = Math.max(max, p[j]);
        });
        let sum = 0;
        for (let j = 0; j < p.length; j++) sum += (p[j] = Math.exp(p[j] - max));
        acc.fill(0);
        slots.forEach((slot, j) => {
          const w = p[j] / sum, vo = (slot * hkv + kh) * dv;
          for (let c = 0; c < dv; c++) acc[c] += w * vs[vo + c];
        });
        // No positions (length 0) leaves zeros, as attention over no keys does.
        out.set(acc, (r * hq + h) * dv);
      }
    }
    return [outF32([s, hq, dv], out)];
  },
});

