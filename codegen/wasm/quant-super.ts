// WASM_QUANT rows (loads.ts) of the 256-element super-block types: the K-quants and IQ4_XS. Their
// activations are quantized per 256 elements, as llama.cpp's Q8_K, and kept as bytes: the quants
// unpack to unsigned bytes (≤ 127) that meet the activations in byte dots (_t_dot8, quant-dot.ts:
// pmaddubsw with relaxed SIMD), and a sub-block's scale, broadcast from a vector of the block's
// scales, widens the i16 sums to i32 in the same pmaddwd; an offset in the quants (Q6_K's 32,
// Q3_K's 4) is removed with the sub-block sums of the activations, as mins are. IQ4_XS's signed
// levels give their sign to the activations instead (exact: |x| ≤ 127).
// A step's sums are exact in i32 (|Σ sc·q·x| < 2^28 over a super-block); the block's f16 scale d
// is applied once per block by matmul-quant.ts. Layouts and element order are those of the
// reference decoders (ir/quant/kquants.ts, iq4.ts); the gathers decode as they do, bit for bit.
import { fieldOffset, type QuantDType } from '../../ir/dtype.js';
import { IQ4_LEVELS } from '../../ir/quant/iq4.js';
import type { WasmQuantKernels } from './loads.js';

/**
 * The bits `mask` of every byte of `v` after shifting it by `by` (left when positive), with i16
 * shifts (x86 has no byte shifts: V8 emulates i8x16 ones in three instructions). Bits that cross
 * into the neighbouring byte are masked off: a mask below bit `by` (left) or above 7 − |by| (right)
 * would keep them, and is refused.
 */
function bitsOf(v: string, by: number, mask: number): string {
  if (by > 0 ? mask & ((1 << by) - 1) : by < 0 && mask >> (8 + by)) throw new Error(`internal error: mask ${mask} takes bits a shift by ${by} moves across bytes`);
  const shifted = by > 0 ? `i16x8.shl(${v}, ${by})` : by < 0 ? `i16x8.shr_u(${v}, ${-by})` : v;
  return `v128.and(${shifted}, i8x16.splat(${mask}))`;
}

/** Lane j (0–7) of the i16x8 `v` in every lane (pshuflw/pshufhw + pshufd: no constant). */
const lane16 = (v: string, j: number) => `v128.shuffle<i16>(${v}, ${v}, ${Array(8).fill(j).join(', ')})`;

/**
 * An i32x4 whose lanes sum to sc · Σ x·q over 16 or 32 elements: the i16 byte-dot sums `sum16`
 * (each |lane| ≤ 2·2·63·127 < 2^15) times the sub-block scale in every lane of `scale16`, which
 * pmaddwd multiplies and widens in one instruction.
 */
const scaled = (sum16: string, scale16: string) => `i32x4.dot_i16x8_s(${sum16}, ${scale16})`;
/** Bytes of `v` shifted right by a constant (none for 0). */
const shr = (v: string, n: number) => (n ? `i8x16.shr_u(${v}, ${n})` : v);
const low = (v: string, bits: number) => `v128.and(${v}, i8x16.splat(${(1 << bits) - 1}))`;
const f16 = (blk: string, at: number) => `_t_h2f(<u32>load<u16>(${blk}${at ? `, ${at}` : ''}))`;

/**
 * Q4_K/Q5_K's eight 6-bit scales and mins, packed in 12 bytes at `at` (ggml's get_scale_min_k4),
 * unpacked four to a u32 word as ggml's SIMD kernels do: sl{c}/sh{c} hold scales 0–3 / 4–7, and
 * mins{c} is the eight mins as i16x8.
 */
function k4Scales(c: string, blk: string, at: number): string[] {
  return [
    `const k0${c} = load<u32>(${blk}, ${at}), k1${c} = load<u32>(${blk}, ${at + 4}), k2${c} = load<u32>(${blk}, ${at + 8});`,
    `const sl${c} = k0${c} & 0x3f3f3f3f, sh${c} = (k2${c} & 0x0f0f0f0f) | (((k0${c} >> 6) & 0x03030303) << 4);`,
    `const mins${c} = i16x8.extend_low_i8x16_u(i32x4.replace_lane(i32x4.splat(k1${c} & 0x3f3f3f3f), 1, ((k2${c} >> 4) & 0x0f0f0f0f) | (((k1${c} >> 6) & 0x03030303) << 4)));`,
  ];
}

/** Scale j (0–7) of k4Scales's words, as a u32 expression. */
const k4Scale = (c: string, j: number) => `((${j < 4 ? 'sl' : 'sh'}${c} >> ${8 * (j % 4)}) & 0xff)`;

/**
 * Q4_K and Q5_K: 8 sub-blocks of 32, x = (d·sc_j)·q − dmin·m_j. A step is 64 elements, the 32
 * bytes holding sub-block 2u (low nibbles) and 2u + 1 (high); Q5_K's fifth bits are bits 2u, 2u + 1
 * of the 32 bytes of qh. Quants 0–31 meet the i8 activations in byte dots; the eight scales are an
 * i16x8 (scl) whose lane 2u + k multiplies sub-block 2u + k's sums.
 */
function k4(dtype: 'q4_k' | 'q5_k'): WasmQuantKernels {
  const SC = fieldOffset(dtype, 'scales'), QS = fieldOffset(dtype, 'qs');
  const QH = dtype === 'q5_k' ? fieldOffset(dtype, 'qh') : -1;
  /** The 32 quants of sub-block 2u + k (k = 0, 1) as bytes a (elements 0–15) and b (16–31), for a gather (i8 shifts, as the reference). */
  const unpack = (blk: string, off: number, u: number, name: (k: number, half: 'a' | 'b') => string, hname: (half: 'a' | 'b') => string): string[] => {
    const lines = [`const ${hname('a')} = v128.load(${blk}, ${off + QS + 32 * u}), ${hname('b')} = v128.load(${blk}, ${off + QS + 32 * u + 16});`];
    if (QH >= 0) lines.push(`const ${hname('a')}h = v128.load(${blk}, ${off + QH}), ${hname('b')}h = v128.load(${blk}, ${off + QH + 16});`);
    for (const k of [0, 1]) {
      for (const half of ['a', 'b'] as const) {
        const nib = k ? shr(hname(half), 4) : low(hname(half), 4);
        const fifth = QH >= 0 ? `v128.or(${nib}, i8x16.shl(${low(shr(`${hname(half)}h`, 2 * u + k), 1)}, 4))` : nib;
        lines.push(`const ${name(k, half)} = ${fifth};`);
      }
    }
    return lines;
  };
  /** The same quants for the dot, with i16 shifts (bitsOf). */
  const unpackDot = (c: number, blk: string, off: number, u: number): string[] => {
    const q = (half: 'a' | 'b') => `q${half}_${c}`;
    const lines = [`const ${q('a')} = v128.load(${blk}, ${off + QS + 32 * u}), ${q('b')} = v128.load(${blk}, ${off + QS + 32 * u + 16});`];
    if (QH >= 0) lines.push(`const ${q('a')}h = v128.load(${blk}, ${off + QH}), ${q('b')}h = v128.load(${blk}, ${off + QH + 16});`);
    for (const k of [0, 1]) {
      for (const half of ['a', 'b'] as const) {
        const nib = bitsOf(q(half), -4 * k, 0x0f);
        const fifth = QH >= 0 ? `v128.or(${nib}, ${bitsOf(`${q(half)}h`, 4 - (2 * u + k), 0x10)})` : nib;
        lines.push(`const w${k}${half}_${c} = ${fifth};`);
      }
    }
    return lines;
  };
  return {
    act: 'i8', zero: 0, units: 4, offset: true,
    block: (c, blk, off) => [
      ...k4Scales(`_${c}`, blk, off + SC),
      `const scl_${c} = i16x8.extend_low_i8x16_u(i32x4.replace_lane(i32x4.splat(sl_${c}), 1, sh_${c}));`,
      // For the rolled steps: the scales moved down by two lanes a step, Q5_K's fifth bits by two bits.
      `let scr_${c} = scl_${c};`,
      ...(QH >= 0 ? [`let qha_${c} = v128.load(${blk}, ${off + QH}), qhb_${c} = v128.load(${blk}, ${off + QH + 16});`] : []),
    ],
    weights: (c, blk, off, u) => unpackDot(c, blk, off, u),
    rolled: {
      weights: (c, blk, off, u) => {
        const lines = [`const qa_${c} = v128.load(${blk} + (<usize>${u}) * 32, ${off + QS}), qb_${c} = v128.load(${blk} + (<usize>${u}) * 32, ${off + QS + 16});`];
        for (const k of [0, 1]) {
          for (const half of ['a', 'b'] as const) {
            const nib = bitsOf(`q${half}_${c}`, -4 * k, 0x0f);
            lines.push(`const w${k}${half}_${c} = ${QH >= 0 ? `v128.or(${nib}, ${bitsOf(`qh${half}_${c}`, 4 - k, 0x10)})` : nib};`);
          }
        }
        lines.push(`const sc0_${c} = ${lane16(`scr_${c}`, 0)}, sc1_${c} = ${lane16(`scr_${c}`, 1)};`, `scr_${c} = v128.shuffle<i32>(scr_${c}, scr_${c}, 1, 2, 3, 3);`);
        // Bits 2u, 2u + 1 of each byte are bits 0, 1 after u shifts by two (what crosses from the byte above stays above bit 1).
        if (QH >= 0) lines.push(`qha_${c} = i16x8.shr_u(qha_${c}, 2); qhb_${c} = i16x8.shr_u(qhb_${c}, 2);`);
        return lines;
      },
      dot: (r, c, xv) => {
        const sub = (k: number) => scaled(`i16x8.add(_t_dot8(${xv(r, 2 * k)}, w${k}a_${c}), _t_dot8(${xv(r, 2 * k + 1)}, w${k}b_${c}))`, `sc${k}_${c}`);
        return [`const s${r}${c} = i32x4.add(${sub(0)}, ${sub(1)});`];
      },
    },
    dot: (r, c, xv, u) => {
      const sub = (k: number) => scaled(`i16x8.add(_t_dot8(${xv(r, 2 * k)}, w${k}a_${c}), _t_dot8(${xv(r, 2 * k + 1)}, w${k}b_${c}))`, lane16(`scl_${c}`, 2 * u + k));
      return [`const s${r}${c} = i32x4.add(${sub(0)}, ${sub(1)});`];
    },
    subMins: { field: 'dmin', span: 32, dot: (r, c, sums) => [`const ms${r}${c} = i32x4.dot_i16x8_s(mins_${c}, ${sums(r, 0)});`] },
    gatherVectors: (blk) => [
      ...k4Scales('', blk, SC),
      `const d: f32 = ${f16(blk, fieldOffset(dtype, 'd'))}, dmin: f32 = ${f16(blk, fieldOffset(dtype, 'dmin'))};`,
      ...[0, 1, 2, 3].flatMap((u) => unpack(blk, 0, u, (k, half) => `q${4 * u + 2 * k + (half === 'a' ? 0 : 1)}`, (half) => `g${u}${half}`)),
      // Vector v holds elements 16v…16v + 15 of sub-block j = v / 2; its min is lane (j % 4) of word j / 4.
      ...[...Array(8).keys()].map((j) => `const d${2 * j} = d * <f32>${k4Scale('', j)}, d${2 * j + 1} = d${2 * j};`),
      ...[...Array(8).keys()].map((j) => `const m${2 * j} = -(dmin * <f32>i16x8.extract_lane_u(mins, ${j})), m${2 * j + 1} = m${2 * j};`),
    ],
  };
}

/**
 * Q6_K: 16 sub-blocks of 16, x = (d·sc_j)·(q − 32), q = 4 low bits (ql) + 2 high (qh), sc a
 * signed byte. A step is a half h (128 elements) of four quarters s, whose low nibbles are
 * ql[64h + 32·(s % 2) …] >> 4·(s / 2) and high pairs qh[32h …] >> 2s. The dot takes q (0–63)
 * as bytes; the 32 comes off as a sub-block min, d·32·sc_j·Σx_j, from the sub-block sums.
 */
function q6k(): WasmQuantKernels {
  const QL = fieldOffset('q6_k', 'ql'), QH = fieldOffset('q6_k', 'qh'), SC = fieldOffset('q6_k', 'scales');
  /** Elements 16k … 16k + 15 of step u as signed bytes (q − 32), for a gather (i8 shifts, as the reference). */
  const unpack = (blk: string, off: number, u: number, name: (k: number) => string, tmp: string): string[] => {
    const h = u >> 2, s = u & 3;
    const lines = [`const ${tmp}l = v128.load(${blk}, ${off + QL + 64 * h + 32 * (s & 1)}), ${tmp}L = v128.load(${blk}, ${off + QL + 64 * h + 32 * (s & 1) + 16});`,
      `const ${tmp}h = v128.load(${blk}, ${off + QH + 32 * h}), ${tmp}H = v128.load(${blk}, ${off + QH + 32 * h + 16});`];
    for (const k of [0, 1]) {
      const [l, hi] = k ? [`${tmp}L`, `${tmp}H`] : [`${tmp}l`, `${tmp}h`];
      lines.push(`const ${name(k)} = i8x16.sub(v128.or(${low(shr(l, 4 * (s >> 1)), 4)}, i8x16.shl(${low(shr(hi, 2 * s), 2)}, 4)), i8x16.splat(32));`);
    }
    return lines;
  };
  /**
   * A half's 128 elements as unsigned bytes q (0–63), w{s}{k}_c for quarter s (elements 32s + 16k
   * …), with i16 shifts, from its 64 bytes of ql at `ql` + `qlAt` and 32 of qh at `qh` + `qhAt`.
   */
  const unpackHalf = (c: number, ql: string, qh: string, qlAt: number, qhAt: number): string[] => [
    `const l0_${c} = v128.load(${ql}, ${qlAt}), l1_${c} = v128.load(${ql}, ${qlAt + 16}), l2_${c} = v128.load(${ql}, ${qlAt + 32}), l3_${c} = v128.load(${ql}, ${qlAt + 48});`,
    `const h0_${c} = v128.load(${qh}, ${qhAt}), h1_${c} = v128.load(${qh}, ${qhAt + 16});`,
    ...[0, 1, 2, 3].flatMap((q) => [0, 1].map((k) =>
      `const w${q}${k}_${c} = v128.or(${bitsOf(`l${2 * (q & 1) + k}_${c}`, -4 * (q >> 1), 0x0f)}, ${bitsOf(`h${k}_${c}`, 4 - 2 * q, 0x30)});`)),
  ];
  /** Quarter q's two 16-element sums, scaled by their sub-blocks' scales (lanes 2q, 2q + 1 of `sc`). */
  const halfDot = (r: number, c: number, xv: (r: number, i: number) => string, sc: string) => [
    `const s${r}${c} = ${[0, 1, 2, 3].map((q) => `i32x4.add(${scaled(`_t_dot8(${xv(r, 2 * q)}, w${q}0_${c})`, lane16(sc, 2 * q))}, ${scaled(`_t_dot8(${xv(r, 2 * q + 1)}, w${q}1_${c})`, lane16(sc, 2 * q + 1))})`).reduce((x, y) => `i32x4.add(${x}, ${y})`)};`,
  ];
  return {
    act: 'i8', zero: 0, units: 2, offset: false,
    block: (c, blk, off) => [
      `const scv_${c} = v128.load(${blk}, ${off + SC});`,
      `const sca_${c} = i16x8.extend_low_i8x16_s(scv_${c}), scb_${c} = i16x8.extend_high_i8x16_s(scv_${c});`,
      // For the rolled halves: half 0's eight scales, then half 1's.
      `let scr_${c} = sca_${c};`,
    ],
    weights: (c, blk, off, h) => unpackHalf(c, blk, blk, off + QL + 64 * h, off + QH + 32 * h),
    dot: (r, c, xv, h) => halfDot(r, c, xv, h ? `scb_${c}` : `sca_${c}`),
    // A half per trip (its 6 quant and 8 activation vectors); unrolled, V8 loads a whole
    // super-block's 28 vectors up front and spills (130 of 344 instructions a row-block).
    rolled: {
      weights: (c, blk, off, u) => [
        `const qlp_${c} = ${blk} + (<usize>${u}) * 64, qhp_${c} = ${blk} + (<usize>${u}) * 32;`,
        ...unpackHalf(c, `qlp_${c}`, `qhp_${c}`, off + QL, off + QH),
        `const sch_${c} = scr_${c};`, `scr_${c} = scb_${c};`,
      ],
      dot: (r, c, xv) => halfDot(r, c, xv, `sch_${c}`),
    },
    // The quants' offset: Σ_j (32·sc_j)·Σx_j, scaled by d (|32·sc| ≤ 4096: exact in i16).
    subMins: {
      field: 'd', span: 16,
      dot: (r, c, sums) => [`const ms${r}${c} = i32x4.add(i32x4.dot_i16x8_s(i16x8.shl(sca_${c}, 5), ${sums(r, 0)}), i32x4.dot_i16x8_s(i16x8.shl(scb_${c}, 5), ${sums(r, 1)}));`],
    },
    gatherVectors: (blk) => [
      `const d: f32 = ${f16(blk, fieldOffset('q6_k', 'd'))};`,
      ...[...Array(8).keys()].flatMap((u) => unpack(blk, 0, u, (k) => `q${2 * u + k}`, `g${u}`)),
      ...[...Array(16).keys()].map((v) => `const d${v} = d * <f32>load<i8>(${blk}, ${SC + v});`),
    ],
  };
}

/**
 * Q3_K: 16 sub-blocks of 16, x = (d·(sc_j − 32))·q, q = 2 low bits (qs) minus 4 where the hmask
 * bit is clear (−4…3), sc a 6-bit value packed in 12 bytes. A step is 32 elements: half h = u / 4,
 * quarter s = u % 4, low bits qs[32h …] >> 2s, high bits hmask[…] bit u. The dot takes the stored
 * 3 bits (q + 4, 0–7) as bytes; the 4 comes off as a sub-block min, d·4·(sc_j − 32)·Σx_j, as Q6_K's 32.
 */
function q3k(): WasmQuantKernels {
  const HM = fieldOffset('q3_k', 'hmask'), QS = fieldOffset('q3_k', 'qs'), SC = fieldOffset('q3_k', 'scales');
  /** Sub-block g's signed scale (an i32 expression; ggml's unpacking of the 12 bytes), for a gather. */
  const scale = (blk: string, off: number, g: number) => {
    const low = g < 8 ? `(load<u8>(${blk}, ${off + SC + g}) & 15)` : `(load<u8>(${blk}, ${off + SC + g - 8}) >> 4)`;
    return `(<i32>(${low} | (((load<u8>(${blk}, ${off + SC + 8 + (g & 3)}) >> ${2 * (g >> 2)}) & 3) << 4)) - 32)`;
  };
  const unpack = (blk: string, off: number, u: number, name: (k: number) => string, tmp: string): string[] => {
    const h = u >> 2, s = u & 3;
    const lines = [`const ${tmp}q = v128.load(${blk}, ${off + QS + 32 * h}), ${tmp}Q = v128.load(${blk}, ${off + QS + 32 * h + 16});`,
      `const ${tmp}m = v128.load(${blk}, ${off + HM}), ${tmp}M = v128.load(${blk}, ${off + HM + 16});`];
    for (const k of [0, 1]) {
      const [q, m] = k ? [`${tmp}Q`, `${tmp}M`] : [`${tmp}q`, `${tmp}m`];
      lines.push(`const ${name(k)} = i8x16.sub(v128.or(${low(shr(q, 2 * s), 2)}, i8x16.shl(${low(shr(m, u), 1)}, 2)), i8x16.splat(4));`);
    }
    return lines;
  };
  /**
   * A half's 128 elements as the stored 3 bits (0–7), w{s}{k}_c for quarter s (elements 32s + 16k
   * …), with i16 shifts: low pairs from the half's 32 bytes of qs at `qs` + `qsAt`, high bits from
   * hmask vectors `m0`, `m1` whose bit `first` + s is quarter s's.
   */
  const unpackHalf = (c: number, qs: string, qsAt: number, m0: string, m1: string, first: number): string[] => [
    `const q0_${c} = v128.load(${qs}, ${qsAt}), q1_${c} = v128.load(${qs}, ${qsAt + 16});`,
    ...[0, 1, 2, 3].flatMap((q) => [0, 1].map((k) =>
      `const w${q}${k}_${c} = v128.or(${bitsOf(`q${k}_${c}`, -2 * q, 3)}, ${bitsOf(k ? m1 : m0, 2 - (first + q), 4)});`)),
  ];
  /** Quarter q's two 16-element sums, scaled by their sub-blocks' scales (lanes 2q, 2q + 1 of `sc`). */
  const halfDot = (r: number, c: number, xv: (r: number, i: number) => string, sc: string) => [
    `const s${r}${c} = ${[0, 1, 2, 3].map((q) => `i32x4.add(${scaled(`_t_dot8(${xv(r, 2 * q)}, w${q}0_${c})`, lane16(sc, 2 * q))}, ${scaled(`_t_dot8(${xv(r, 2 * q + 1)}, w${q}1_${c})`, lane16(sc, 2 * q + 1))})`).reduce((x, y) => `i32x4.add(${x}, ${y})`)};`,
  ];
  return {
    act: 'i8', zero: 0, units: 2, offset: false,
    // The 16 scales − 32 as two i16x8: low nibbles of bytes 0–7 (scales 0–7) and their high nibbles
    // (8–15), with the top two bits of scale g at bits 2·(g / 4) of byte 8 + g % 4.
    block: (c, blk, off) => [
      `const sl_${c} = v128.load64_zero(${blk}, ${off + SC}), sh_${c} = load<u32>(${blk}, ${off + SC + 8});`,
      `const sn_${c} = v128.shuffle<u8>(${bitsOf(`sl_${c}`, 0, 15)}, ${bitsOf(`sl_${c}`, -4, 15)}, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);`,
      `const st_${c} = i32x4.replace_lane(i32x4.replace_lane(i32x4.replace_lane(i32x4.splat(sh_${c}), 1, sh_${c} >> 2), 2, sh_${c} >> 4), 3, sh_${c} >> 6);`,
      `const sc_${c} = i8x16.sub(v128.or(sn_${c}, ${bitsOf(`st_${c}`, 4, 0x30)}), i8x16.splat(32));`,
      `const sca_${c} = i16x8.extend_low_i8x16_s(sc_${c}), scb_${c} = i16x8.extend_high_i8x16_s(sc_${c});`,
      // For the rolled halves: half 0's eight scales, then half 1's; hmask moved down four bits a half.
      `let scr_${c} = sca_${c};`,
      `let hm0_${c} = v128.load(${blk}, ${off + HM}), hm1_${c} = v128.load(${blk}, ${off + HM + 16});`,
    ],
    weights: (c, blk, off, h) => [
      `const m0_${c} = v128.load(${blk}, ${off + HM}), m1_${c} = v128.load(${blk}, ${off + HM + 16});`,
      ...unpackHalf(c, blk, off + QS + 32 * h, `m0_${c}`, `m1_${c}`, 4 * h),
    ],
    dot: (r, c, xv, h) => halfDot(r, c, xv, h ? `scb_${c}` : `sca_${c}`),
    // A half per trip, as Q6_K's (unrolled, 153 of 385 instructions a row-block were stack traffic).
    // Bits 4h + s of each hmask byte are bits s after h shifts by four (what crosses from the byte above stays above bit 3).
    rolled: {
      weights: (c, blk, off, u) => [
        `const qsp_${c} = ${blk} + (<usize>${u}) * 32;`,
        ...unpackHalf(c, `qsp_${c}`, off + QS, `hm0_${c}`, `hm1_${c}`, 0),
        `const sch_${c} = scr_${c};`, `scr_${c} = scb_${c};`,
        `hm0_${c} = i16x8.shr_u(hm0_${c}, 4); hm1_${c} = i16x8.shr_u(hm1_${c}, 4);`,
      ],
      dot: (r, c, xv) => halfDot(r, c, xv, `sch_${c}`),
    },
    // The stored quants' offset: Σ_j (4·(sc_j − 32))·Σx_j, scaled by d (|4·(sc − 32)| ≤ 128: exact in i16).
    subMins: {
      field: 'd', span: 16,
      dot: (r, c, sums) => [`const ms${r}${c} = i32x4.add(i32x4.dot_i16x8_s(i16x8.shl(sca_${c}, 2), ${sums(r, 0)}), i32x4.dot_i16x8_s(i16x8.shl(scb_${c}, 2), ${sums(r, 1)}));`],
    },
    gatherVectors: (blk) => [
      `const d: f32 = ${f16(blk, fieldOffset('q3_k', 'd'))};`,
      ...[...Array(8).keys()].flatMap((u) => unpack(blk, 0, u, (k) => `q${2 * u + k}`, `g${u}`)),
      ...[...Array(16).keys()].map((v) => `const d${v} = d * <f32>${scale(blk, 0, v)};`),
    ],
  };
}

/**
 * Q2_K: 16 sub-blocks of 16, x = (d·sc_j)·q − dmin·m_j, q 2 bits, sc_j and m_j the low and high
 * nibbles of scales[j]. A step is 32 elements: q = qs[32h …] >> 2s (h = u / 4, s = u % 4).
 */
function q2k(): WasmQuantKernels {
  const SC = fieldOffset('q2_k', 'scales'), QS = fieldOffset('q2_k', 'qs');
  const unpack = (blk: string, off: number, u: number, name: (k: number) => string, tmp: string): string[] => {
    const h = u >> 2, s = u & 3;
    return [`const ${tmp}q = v128.load(${blk}, ${off + QS + 32 * h}), ${tmp}Q = v128.load(${blk}, ${off + QS + 32 * h + 16});`,
      `const ${name(0)} = ${low(shr(`${tmp}q`, 2 * s), 2)}, ${name(1)} = ${low(shr(`${tmp}Q`, 2 * s), 2)};`];
  };
  /** Elements 16k … 16k + 15 of step u as bytes 0–3, w{k}_c, with i16 shifts. */
  const unpackDot = (c: number, blk: string, off: number, u: number): string[] => {
    const h = u >> 2, s = u & 3;
    return [`const q0_${c} = v128.load(${blk}, ${off + QS + 32 * h}), q1_${c} = v128.load(${blk}, ${off + QS + 32 * h + 16});`,
      `const w0_${c} = ${bitsOf(`q0_${c}`, -2 * s, 3)}, w1_${c} = ${bitsOf(`q1_${c}`, -2 * s, 3)};`];
  };
  const scale16 = (c: number, j: number) => lane16(j < 8 ? `sca_${c}` : `scb_${c}`, j & 7);
  return {
    act: 'i8', zero: 0, units: 8, offset: true,
    // The 16 scales and the 16 mins as two i16x8 each (the mins for the dot with the 16 sub-block sums of the activations).
    block: (c, blk, off) => [
      `const sc_${c} = v128.load(${blk}, ${off + SC});`,
      `const scl_${c} = ${bitsOf(`sc_${c}`, 0, 15)}, mn_${c} = ${bitsOf(`sc_${c}`, -4, 15)};`,
      `const sca_${c} = i16x8.extend_low_i8x16_u(scl_${c}), scb_${c} = i16x8.extend_high_i8x16_u(scl_${c});`,
      `const mlo_${c} = i16x8.extend_low_i8x16_u(mn_${c}), mhi_${c} = i16x8.extend_high_i8x16_u(mn_${c});`,
    ],
    weights: (c, blk, off, u) => unpackDot(c, blk, off, u),
    dot: (r, c, xv, u) => [`const s${r}${c} = i32x4.add(${scaled(`_t_dot8(${xv(r, 0)}, w0_${c})`, scale16(c, 2 * u))}, ${scaled(`_t_dot8(${xv(r, 1)}, w1_${c})`, scale16(c, 2 * u + 1))});`],
    subMins: {
      field: 'dmin', span: 16,
      dot: (r, c, sums) => [`const ms${r}${c} = i32x4.add(i32x4.dot_i16x8_s(mlo_${c}, ${sums(r, 0)}), i32x4.dot_i16x8_s(mhi_${c}, ${sums(r, 1)}));`],
    },
    gatherVectors: (blk) => [
      `const d: f32 = ${f16(blk, fieldOffset('q2_k', 'd'))}, dmin: f32 = ${f16(blk, fieldOffset('q2_k', 'dmin'))};`,
      ...[...Array(8).keys()].flatMap((u) => unpack(blk, 0, u, (k) => `q${2 * u + k}`, `g${u}`)),
      ...[...Array(16).keys()].map((v) => `const d${v} = d * <f32>(load<u8>(${blk}, ${SC + v}) & 15), m${v} = -(dmin * <f32>(load<u8>(${blk}, ${SC + v}) >> 4));`),
    ],
  };
}

/** IQ4_NL's 16 levels as an i8x16: a swizzle by the nibbles looks them up (for a gather). */
const LEVELS = `i8x16(${IQ4_LEVELS.join(', ')})`;
/** The levels' magnitudes (≤ 127: the byte dots' unsigned operand) and their signs (0xff where negative), for the dot. */
const LEVEL_MAGNITUDES = `i8x16(${IQ4_LEVELS.map(Math.abs).join(', ')})`;
const LEVEL_SIGNS = `i8x16(${IQ4_LEVELS.map((l) => (l < 0 ? -1 : 0)).join(', ')})`;

/**
 * IQ4_XS: 8 sub-blocks of 32, x = (d·(sc_j − 32))·level(q), each 16 bytes of nibbles in IQ4_NL's
 * order (element i low, i + 16 high); sc_j's low 4 bits in scales_l, top 2 in scales_h. A step is
 * one sub-block. The dot meets |level| (unsigned) with the activations given the level's sign,
 * (x ^ s) − s for a sign mask s: exact, since |x| ≤ 127. A byte dot's i16 lanes (≤ 2·127·127) are
 * widened by the sub-block scale one at a time: two would overflow i16.
 */
function iq4xs(): WasmQuantKernels {
  const SH = fieldOffset('iq4_xs', 'scales_h'), SL = fieldOffset('iq4_xs', 'scales_l'), QS = fieldOffset('iq4_xs', 'qs');
  const scale = (blk: string, off: number, u: number) =>
    `(<i32>(((load<u8>(${blk}, ${off + SL + (u >> 1)}) >> ${4 * (u & 1)}) & 15) | (((load<u16>(${blk}, ${off + SH}) >> ${2 * u}) & 3) << 4)) - 32)`;
  const unpack = (blk: string, off: number, u: number, lo: string, hi: string, tmp: string) => [
    `const ${tmp} = v128.load(${blk}, ${off + QS + 16 * u});`,
    `const ${lo} = i8x16.swizzle(${LEVELS}, ${low(tmp, 4)}), ${hi} = i8x16.swizzle(${LEVELS}, i8x16.shr_u(${tmp}, 4));`,
  ];
  /** Lane j of an i16x8 holding the 16-bit `v` in every lane, times 2^(top − bits·(j % per)), shifted right by top: field j % per of v. */
  const fields = (v: string, bits: number, per: number) => {
    const top = 16 - bits;
    return `i16x8.shr_u(i16x8.mul(${v}, i16x8(${[...Array(8).keys()].map((j) => 1 << (top - bits * (j % per))).join(', ')})), ${top})`;
  };
  return {
    act: 'i8', zero: 0, units: 8, offset: false,
    // The eight scales − 32 as an i16x8: nibble j of the u32 scales_l (lanes 0–3 from its low
    // half, 4–7 from its high half) and bits 2j, 2j + 1 of the u16 scales_h, each field moved to
    // the top of its lane by a multiply (a per-lane left shift) and back down by one shift.
    block: (c, blk, off) => [
      `const sl_${c} = v128.load32_splat(${blk}, ${off + SL});`,
      `const sn_${c} = ${fields(`v128.shuffle<i16>(sl_${c}, sl_${c}, 0, 0, 0, 0, 1, 1, 1, 1)`, 4, 4)};`,
      `const sh_${c} = ${fields(`v128.load16_splat(${blk}, ${off + SH})`, 2, 8)};`,
      `const scs_${c} = i16x8.sub(v128.or(sn_${c}, i16x8.shl(sh_${c}, 4)), i16x8.splat(32));`,
    ],
    weights: (c, blk, off, u) => [
      `const t${c} = v128.load(${blk}, ${off + QS + 16 * u});`,
      `const n0_${c} = ${bitsOf(`t${c}`, 0, 15)}, n1_${c} = ${bitsOf(`t${c}`, -4, 15)};`,
      `const w0_${c} = _t_lut16(${LEVEL_MAGNITUDES}, n0_${c}), w1_${c} = _t_lut16(${LEVEL_MAGNITUDES}, n1_${c});`,
      `const g0_${c} = _t_lut16(${LEVEL_SIGNS}, n0_${c}), g1_${c} = _t_lut16(${LEVEL_SIGNS}, n1_${c});`,
    ],
    dot: (r, c, xv, u) => {
      const signed = (k: number) => `i8x16.sub(v128.xor(${xv(r, k)}, g${k}_${c}), g${k}_${c})`;
      const sc = lane16(`scs_${c}`, u);
      return [`const s${r}${c} = i32x4.add(${scaled(`_t_dot8(${signed(0)}, w0_${c})`, sc)}, ${scaled(`_t_dot8(${signed(1)}, w1_${c})`, sc)});`];
    },
    gatherVectors: (blk) => [
      `const d: f32 = ${f16(blk, fieldOffset('iq4_xs', 'd'))};`,
      ...[...Array(8).keys()].flatMap((u) => [...unpack(blk, 0, u, `q${2 * u}`, `q${2 * u + 1}`, `g${u}`), `const d${2 * u} = d * <f32>${scale(blk, 0, u)}, d${2 * u + 1} = d${2 * u};`]),
    ],
  };
}

/** Every super-block row, keyed by dtype (spread into WASM_QUANT). */
export const SUPER_BLOCK_QUANT = {
  q4_k: k4('q4_k'),
  q5_k: k4('q5_k'),
  q6_k: q6k(),
  q3_k: q3k(),
  q2_k: q2k(),
  iq4_xs: iq4xs(),
} satisfies Partial<Record<QuantDType, WasmQuantKernels>>;
