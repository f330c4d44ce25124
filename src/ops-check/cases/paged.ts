// paged_kv_write and paged_attention (continuous batching): rows with their own block tables,
// dealt from a shuffled pool, lengths from 1 to a few blocks, one row or several, GQA, windows and
// softcaps; S symbolic as in the batched step graph.
import { type AttrValue, i32, sym } from '../../../ir/index.js';
import type { OpCases } from '../case.js';
import { type Draw, randomTensor, rng } from '../draw.js';

const S = sym('S');

/** Block tables [rows, m] from a shuffled pool of `n` blocks (no block shared) and row lengths. */
function layout(d: Draw) {
  const rows = d.pick([1, d.int(1, 6)]), bs = d.pick([1, 2, 4, 16, d.int(1, 9)]);
  const lens = Array.from({ length: rows }, () => d.pick([1, d.int(1, 3 * bs + 2)]));
  const m = Math.max(...lens.map((l) => Math.ceil(l / bs)));
  const n = rows * m + d.int(0, 3);
  const r = rng(d.seed());
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return { rows, bs, lens, m, n, blocks: i32([rows, m], order.slice(0, rows * m)) };
}

export const pagedCases: readonly OpCases[] = [
  {
    op: 'paged_kv_write',
    draw: (d) => {
      const { rows, bs, lens, m, n, blocks } = layout(d);
      const h = d.int(1, 3), hd = d.pick([4, 8, d.int(1, 20)]), seed = d.seed();
      return [{
        label: `paged_kv_write rows=${rows} BS=${bs} N=${n} H=${h} D=${hd} pos=[${lens.map((l) => l - 1)}]`,
        op: 'paged_kv_write',
        operands: [
          { t: randomTensor('f32', [n, bs, h, hd], seed) },
          { t: randomTensor('f32', [rows, h, hd], seed + 1), shape: [S, h, hd] },
          { t: blocks, shape: [S, m] },
          { t: i32([rows], lens.map((l) => l - 1)), shape: [S] },
        ],
      }];
    },
  },
  {
    op: 'paged_attention',
    draw: (d) => {
      const { rows, bs, lens, m, n, blocks } = layout(d);
      const hkv = d.int(1, 3), group = d.pick([1, 2, 4]), hd = d.pick([4, 8, 16, 64, d.int(1, 40)]), dv = d.pick([hd, d.int(1, 20)]);
      const seed = d.seed();
      const attrs: Record<string, AttrValue> = { scale: 1 / Math.sqrt(hd), window: d.pick([0, 0, d.int(1, 6)]), softcap: d.pick([0, 0, 5]) };
      return [{
        label: `paged_attention rows=${rows} BS=${bs} N=${n} Hq=${hkv * group} Hkv=${hkv} D=${hd} Dv=${dv} lens=[${lens}] ${JSON.stringify(attrs)}`,
        op: 'paged_attention', attrs,
        operands: [
          { t: randomTensor('f32', [rows, hkv * group, hd], seed, 1.5), shape: [S, hkv * group, hd] },
          { t: randomTensor('f32', [n, bs, hkv, hd], seed + 1, 1.5) },
          { t: randomTensor('f32', [n, bs, hkv, dv], seed + 2) },
          { t: blocks, shape: [S, m] },
          { t: i32([rows], lens), shape: [S] },
        ],
      }];
    },
  },
];
