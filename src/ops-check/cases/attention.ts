// rope (partial, interleaved, llama3 and longrope scaling, batched and per-batch positions) and
// attention / flash_attention (causal, sliding window, softcap, GQA, padding masks, f16 K/V,
// S = 1 decode over a long past, T = P + S symbolic).
import { type AttrValue, dimAdd, type Dim, type DType, type HostTensor, i32, sym, tensor } from '../../../ir/index.js';
import { F32_ACTIVATIONS_ON_WASM, type Operand, type OpCases } from '../case.js';
import { type Draw, randomTensor, rng } from '../draw.js';

const S = sym('S'), P = sym('P'), T = sym('T'), B = sym('B');

/** RoPE attributes over `rd` rotated dims (0 = the whole head) of a head of `hd`. */
export function ropeAttrs(d: Draw, hd: number, allowScaling = true): Record<string, AttrValue> {
  const half = hd / 2;
  const rd = d.bool() && half > 1 ? 2 * Math.ceil(half / 2) : 0;
  const rdEff = rd || hd;
  const scaling = allowScaling ? d.pick(['none', 'llama3', 'longrope']) : 'none';
  const seed = d.seed();
  const attrs: Record<string, AttrValue> = { theta: d.pick([10000, 500000, 1e6]), rotary_dim: rd, interleaved: d.bool(), scaling };
  if (scaling === 'llama3') Object.assign(attrs, { factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_positions: 16 });
  if (scaling === 'longrope') {
    const r = rng(seed);
    Object.assign(attrs, {
      original_max_positions: 20, max_positions: 80,
      short_factor: Array.from({ length: rdEff / 2 }, () => 1 + r()), long_factor: Array.from({ length: rdEff / 2 }, () => 1 + 4 * r()),
    });
  }
  return attrs;
}

/** Positions past…past+s−1 (a second batch row 3 further on), shared or per batch row. */
export function positions(d: Draw, s: number, batched: boolean): { t: HostTensor; shape: Dim[]; past: number } {
  const past = d.pick([0, d.int(1, 40), d.int(1000, 5000)]);
  const perBatch = batched && d.bool();
  const shape = perBatch ? [2, s] : [s];
  const t = i32(shape, Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, k) => past + (k % s) + (k >= s ? 3 : 0)));
  return { t, shape: perBatch ? [B, S] : [S], past };
}

/** Attributes printed in labels (long factor lists left out). */
export const brief = (attrs: Record<string, AttrValue>) => JSON.stringify({ ...attrs, short_factor: undefined, long_factor: undefined });

function attentionDraw(op: 'attention' | 'flash_attention') {
  return (d: Draw) => {
    const s = d.pick([1, d.int(1, 12)]), past = d.pick([0, d.int(1, 20), d.int(60, 300)]);
    const hkv = d.int(1, 3), group = d.pick([1, 2, 3, 4]), hd = d.pick([4, 8, 16, 32, 64, d.int(1, 40)]), dv = d.pick([hd, d.int(1, 20)]);
    const mode = d.pick(['plain', 'batched', 'masked', 'maskedFlat', 'halfkv', 'symP']);
    const seed = d.seed(), t = past + s, hq = hkv * group;
    const batched = mode === 'batched' || mode === 'masked';
    const lead = batched ? [2] : [], sLead = batched ? [B] : [];
    const kvType: DType = mode === 'halfkv' ? 'f16' : 'f32';
    const tDim = mode === 'symP' ? dimAdd(P, S) : T;
    const operands: Operand[] = [
      { t: randomTensor('f32', [...lead, s, hq, hd], seed, 1.5), shape: [...sLead, S, hq, hd] },
      { t: randomTensor(kvType, [...lead, t, hkv, hd], seed + 1, 1.5), shape: [...sLead, tDim, hkv, hd] },
      { t: randomTensor(kvType, [...lead, t, hkv, dv], seed + 2), shape: [...sLead, tDim, hkv, dv] },
    ];
    if (mode === 'masked') {
      // Left padding in row 0; row 1 fully padded (every query then averages all of v).
      const mask = Array.from({ length: 2 * t }, (_, j) => (j < t ? (j < Math.floor(t / 3) ? 0 : 1) : 0));
      operands.push({ t: d.bool() ? i32([2, t], mask) : tensor('f32', [2, t], Float32Array.from(mask)), shape: [B, tDim] });
    }
    if (mode === 'maskedFlat') operands.push({ t: i32([t], Array.from({ length: t }, (_, j) => (j < Math.floor(t / 4) ? 0 : 1))), shape: [tDim] });
    const attrs: Record<string, AttrValue> = { scale: 1 / Math.sqrt(hd), causal: d.bool(), window: d.pick([0, d.int(1, 12)]), softcap: d.pick([0, 0, 5, 50]) };
    if (op === 'flash_attention') Object.assign(attrs, { tile_q: d.pick([1, 4, 16]), tile_k: d.pick([1, 3, 5, 8, 32, 64]), split_k: d.pick([1, 2, 3, 8]) });
    return [{
      label: `${op} ${mode} S=${s} P=${past} Hq=${hq} Hkv=${hkv} D=${hd} Dv=${dv} ${JSON.stringify(attrs)}`,
      op, operands, attrs, ...(mode === 'symP' ? { dims: { P: past } } : {}),
    }];
  };
}

export const attentionCases: readonly OpCases[] = [
  {
    op: 'rope',
    draw: (d) => {
      const s = d.pick([1, d.int(2, 9)]), h = d.int(1, 4), hd = 2 * d.int(1, 40), batched = d.bool();
      const attrs = ropeAttrs(d, hd), pos = positions(d, s, batched);
      const xShape = batched ? [2, s, h, hd] : [s, h, hd];
      const dtype = d.pick<DType>(['f32', 'f32', 'f16']);
      return [{
        label: `rope ${dtype}[${xShape}] pos[${pos.t.shape}]@${pos.past} ${brief(attrs)}`, op: 'rope', attrs,
        ...(dtype === 'f32' ? {} : { skip: { wasm: F32_ACTIVATIONS_ON_WASM } }),
        operands: [{ t: randomTensor(dtype, xShape, d.seed(), 2), shape: batched ? [B, S, h, hd] : [S, h, hd] }, { t: pos.t, shape: pos.shape }],
      }];
    },
  },
  { op: 'attention', draw: attentionDraw('attention') },
  { op: 'flash_attention', draw: attentionDraw('flash_attention') },
];
