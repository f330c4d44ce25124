// WGSL_QUANT rows (access.ts) of the 256-element super-block types: the K-quants and IQ4_XS. Two
// functions per type over a u32 buffer of GGUF blocks (read through quantByteReaders):
//  - `<buf>_<type>_at(base, i)`: element i of the block at byte `base`, decoded as the reference
//    decodes it (ir/quant/kquants.ts, iq4.ts): each f32 product rounded in the same order, so a
//    gather is bit-exact;
//  - `w_<type>_unit(o, u, xs, n)`: the dot product of step u (elements 32u … 32u + 31) of the weight
//    block at byte o with the 32 activations xs, for the GEMV, which spreads a row's (block, step)
//    pairs over its invocations. Sub-block sums are formed in f32 and scaled once. `n` is 8, the
//    vec4 count of a step, passed in so that software devices get it from the uniform (a
//    constant-bound loop here, unrolled, hangs lavapipe).
// The GEMV reads quants four per u32 word; nothing needs shader-f16.
import { fieldOffset, type QuantDType } from '../../ir/dtype.js';
import { IQ4_LEVELS } from '../../ir/quant/iq4.js';
import type { WgslQuantKernels } from './access.js';

/** Steps of 32 elements in a super-block. */
const STEPS = 8;

/** The four bytes of the u32 `w` as a vec4u. */
const bytes4 = (w: string) => `vec4u(${w}, ${w} >> 8u, ${w} >> 16u, ${w} >> 24u)`;
/** The signed byte at `o` of `buf`, as f32. */
const signedByte = (buf: string, o: string) => `f32(bitcast<i32>(${buf}_byte(${o}) << 24u) >> 24u)`;

interface SuperBlockType {
  readonly dtype: QuantDType;
  /** Module-scope functions over `buf` (defining `<buf>_<dtype>_at`), and the unit function over `w`. */
  readonly at: (buf: string) => string;
  readonly unit: string;
}

function kernels(t: SuperBlockType): WgslQuantKernels {
  return {
    helpers: t.at,
    element: (buf) => `  return ${buf}_${t.dtype}_at(base, i);`,
    gemv: {
      units: STEPS,
      helpers: t.unit,
      block: (bound) => `    var xs: array<vec4f, 8>;
    for (var j = 0u; j < ${bound(8)}; j++) { xs[j] = x_chunk(m, blk * 256u + unit * 32u + 4u * j, K); }
    acc += vec4f(${[0, 1, 2, 3].map((c) => `w_${t.dtype}_unit(o${c}, unit, &xs, ${bound(8)})`).join(', ')});`,
    },
  };
}

/**
 * Q4_K/Q5_K's 6-bit scale (x) and min (y) of sub-block j, packed in the 12 bytes at `at` of the
 * block (ggml's get_scale_min_k4).
 */
function k4ScaleMin(buf: string, dtype: QuantDType): string {
  const at = fieldOffset(dtype, 'scales');
  return `fn ${buf}_${dtype}_sm(o: u32, j: u32) -> vec2f {
  if (j < 4u) { return vec2f(f32(${buf}_byte(o + ${at}u + j) & 63u), f32(${buf}_byte(o + ${at + 4}u + j) & 63u)); }
  let a = ${buf}_byte(o + ${at + 4}u + j);
  return vec2f(f32((a & 15u) | ((${buf}_byte(o + ${at - 4}u + j) >> 6u) << 4u)), f32((a >> 4u) | ((${buf}_byte(o + ${at}u + j) >> 6u) << 4u)));
}`;
}

/** Q4_K and Q5_K: sub-blocks of 32, x = (d·sc_j)·q − dmin·m_j; Q5_K's fifth bit j of qh byte i % 32. */
function k4(dtype: 'q4_k' | 'q5_k'): WgslQuantKernels {
  const QS = fieldOffset(dtype, 'qs'), D = fieldOffset(dtype, 'd'), DMIN = fieldOffset(dtype, 'dmin');
  const QH = dtype === 'q5_k' ? fieldOffset(dtype, 'qh') : -1;
  const at = (buf: string) => `${k4ScaleMin(buf, dtype)}
fn ${buf}_${dtype}_at(base: u32, i: u32) -> f32 {
  let j = i >> 5u;
  let sm = ${buf}_${dtype}_sm(base, j);
  var q = (${buf}_byte(base + ${QS}u + 32u * (j >> 1u) + (i & 31u)) >> (4u * (j & 1u))) & 15u;
${QH >= 0 ? `  q |= ((${buf}_byte(base + ${QH}u + (i & 31u)) >> j) & 1u) << 4u;\n` : ''}  let dl = ${buf}_scale(base + ${D}u) * sm.x;
  let ml = ${buf}_scale(base + ${DMIN}u) * sm.y;
  return dl * f32(q) - ml;
}`;
  const fifth = QH >= 0 ? ` | ((${bytes4('hw')} & vec4u(1u)) << vec4u(4u))` : '';
  const unit = `${k4ScaleMin('w', dtype)}
fn w_${dtype}_unit(o: u32, u: u32, xs: ptr<function, array<vec4f, 8>>, n: u32) -> f32 {
  let sm = w_${dtype}_sm(o, u);
  let qs = o + ${QS}u + 32u * (u >> 1u);
  let sh = 4u * (u & 1u);
  var dq = 0.0;
  var sx = 0.0;
  for (var j = 0u; j < n; j++) {
    let x = (*xs)[j];
    let qw = w_word(qs + 4u * j) >> sh;
${QH >= 0 ? `    let hw = w_word(o + ${QH}u + 4u * j) >> u;\n` : ''}    dq += dot(vec4f((${bytes4('qw')} & vec4u(15u))${fifth}), x);
    sx += dot(x, vec4f(1.0));
  }
  return w_scale(o + ${D}u) * sm.x * dq - w_scale(o + ${DMIN}u) * sm.y * sx;
}`;
  return kernels({ dtype, at, unit });
}

/** Q6_K: sub-blocks of 16, x = (d·sc_j)·(q − 32), q = 4 bits of ql + 2 of qh, sc a signed byte. */
function q6k(): WgslQuantKernels {
  const QL = fieldOffset('q6_k', 'ql'), QH = fieldOffset('q6_k', 'qh'), SC = fieldOffset('q6_k', 'scales'), D = fieldOffset('q6_k', 'd');
  const at = (buf: string) => `fn ${buf}_q6_k_at(base: u32, i: u32) -> f32 {
  let h = i >> 7u;
  let r = i & 127u;
  let lo = (${buf}_byte(base + ${QL}u + 64u * h + (r & 63u)) >> (4u * (r >> 6u))) & 15u;
  let hi = (${buf}_byte(base + ${QH}u + 32u * h + (r & 31u)) >> (2u * (r >> 5u))) & 3u;
  let dl = ${buf}_scale(base + ${D}u) * ${signedByte(buf, `base + ${SC}u + (i >> 4u)`)};
  return dl * f32(i32(lo | (hi << 4u)) - 32);
}`;
  const unit = `fn w_q6_k_unit(o: u32, u: u32, xs: ptr<function, array<vec4f, 8>>, n: u32) -> f32 {
  let h = u >> 2u;
  let s = u & 3u;
  let ql = o + ${QL}u + 64u * h + 32u * (s & 1u);
  let qh = o + ${QH}u + 32u * h;
  var p = vec2f(0.0);
  for (var j = 0u; j < n; j++) {
    let lw = w_word(ql + 4u * j) >> (4u * (s >> 1u));
    let hw = w_word(qh + 4u * j) >> (2u * s);
    let lo = ${bytes4('lw')} & vec4u(15u);
    let hi = ${bytes4('hw')} & vec4u(3u);
    p[j >> 2u] += dot(vec4f(vec4i(lo | (hi << vec4u(4u))) - vec4i(32)), (*xs)[j]);
  }
  let sc = o + ${SC}u + 2u * u;
  return w_scale(o + ${D}u) * (${signedByte('w', 'sc')} * p.x + ${signedByte('w', 'sc + 1u')} * p.y);
}`;
  return kernels({ dtype: 'q6_k', at, unit });
}

/** Q3_K: sub-blocks of 16, x = (d·(sc_j − 32))·q, q = 2 bits of qs minus 4 where hmask's bit is clear. */
function q3k(): WgslQuantKernels {
  const HM = fieldOffset('q3_k', 'hmask'), QS = fieldOffset('q3_k', 'qs'), SC = fieldOffset('q3_k', 'scales'), D = fieldOffset('q3_k', 'd');
  /** Sub-block g's 6-bit scale, unbiased: low nibble of byte g % 8 (g < 8) or its high one, top bits from bytes 8…11. */
  const scale = (buf: string) => `fn ${buf}_q3_k_sc(o: u32, g: u32) -> f32 {
  let b = ${buf}_byte(o + ${SC}u + (g & 7u));
  let hi = (${buf}_byte(o + ${SC + 8}u + (g & 3u)) >> (2u * (g >> 2u))) & 3u;
  return f32(i32(select(b >> 4u, b & 15u, g < 8u) | (hi << 4u)) - 32);
}`;
  const at = (buf: string) => `${scale(buf)}
fn ${buf}_q3_k_at(base: u32, i: u32) -> f32 {
  let r = i & 127u;
  let lo = (${buf}_byte(base + ${QS}u + 32u * (i >> 7u) + (r & 31u)) >> (2u * (r >> 5u))) & 3u;
  let q = i32(lo) - select(4, 0, ((${buf}_byte(base + ${HM}u + (i & 31u)) >> (i >> 5u)) & 1u) == 1u);
  let dl = ${buf}_scale(base + ${D}u) * ${buf}_q3_k_sc(base, i >> 4u);
  return dl * f32(q);
}`;
  const unit = `${scale('w')}
fn w_q3_k_unit(o: u32, u: u32, xs: ptr<function, array<vec4f, 8>>, n: u32) -> f32 {
  let qs = o + ${QS}u + 32u * (u >> 2u);
  let sh = 2u * (u & 3u);
  var p = vec2f(0.0);
  for (var j = 0u; j < n; j++) {
    let lw = w_word(qs + 4u * j) >> sh;
    let hw = w_word(o + ${HM}u + 4u * j) >> u;
    let q = vec4i(${bytes4('lw')} & vec4u(3u)) + vec4i((${bytes4('hw')} & vec4u(1u)) << vec4u(2u)) - vec4i(4);
    p[j >> 2u] += dot(vec4f(q), (*xs)[j]);
  }
  return w_scale(o + ${D}u) * (w_q3_k_sc(o, 2u * u) * p.x + w_q3_k_sc(o, 2u * u + 1u) * p.y);
}`;
  return kernels({ dtype: 'q3_k', at, unit });
}

/** Q2_K: sub-blocks of 16, x = (d·sc_j)·q − dmin·m_j, sc_j/m_j the nibbles of scales[j], q 2 bits. */
function q2k(): WgslQuantKernels {
  const SC = fieldOffset('q2_k', 'scales'), QS = fieldOffset('q2_k', 'qs'), D = fieldOffset('q2_k', 'd'), DMIN = fieldOffset('q2_k', 'dmin');
  const at = (buf: string) => `fn ${buf}_q2_k_at(base: u32, i: u32) -> f32 {
  let sc = ${buf}_byte(base + ${SC}u + (i >> 4u));
  let r = i & 127u;
  let q = (${buf}_byte(base + ${QS}u + 32u * (i >> 7u) + (r & 31u)) >> (2u * (r >> 5u))) & 3u;
  let dl = ${buf}_scale(base + ${D}u) * f32(sc & 15u);
  let ml = ${buf}_scale(base + ${DMIN}u) * f32(sc >> 4u);
  return dl * f32(q) - ml;
}`;
  const unit = `fn w_q2_k_unit(o: u32, u: u32, xs: ptr<function, array<vec4f, 8>>, n: u32) -> f32 {
  let qs = o + ${QS}u + 32u * (u >> 2u);
  let sh = 2u * (u & 3u);
  var p = vec2f(0.0);
  var sx = vec2f(0.0);
  for (var j = 0u; j < n; j++) {
    let x = (*xs)[j];
    let qw = w_word(qs + 4u * j) >> sh;
    p[j >> 2u] += dot(vec4f(${bytes4('qw')} & vec4u(3u)), x);
    sx[j >> 2u] += dot(x, vec4f(1.0));
  }
  let a = w_byte(o + ${SC}u + 2u * u);
  let b = w_byte(o + ${SC}u + 2u * u + 1u);
  return w_scale(o + ${D}u) * (f32(a & 15u) * p.x + f32(b & 15u) * p.y) - w_scale(o + ${DMIN}u) * (f32(a >> 4u) * sx.x + f32(b >> 4u) * sx.y);
}`;
  return kernels({ dtype: 'q2_k', at, unit });
}

/** IQ4_XS: sub-blocks of 32, x = (d·(sc_j − 32))·level(nibble), nibbles in IQ4_NL's order. */
function iq4xs(): WgslQuantKernels {
  const D = fieldOffset('iq4_xs', 'd'), SH = fieldOffset('iq4_xs', 'scales_h'), SL = fieldOffset('iq4_xs', 'scales_l'), QS = fieldOffset('iq4_xs', 'qs');
  // A function-scope var: WGSL indexes it at run time on every implementation.
  const levels = `var levels = array<f32, 16>(${IQ4_LEVELS.map((v) => v.toFixed(1)).join(', ')});`;
  const scale = (buf: string) => `fn ${buf}_iq4_xs_sc(o: u32, j: u32) -> f32 {
  let lo = (${buf}_byte(o + ${SL}u + (j >> 1u)) >> (4u * (j & 1u))) & 15u;
  let hi = (${buf}_word(o + ${SH}u) >> (2u * j)) & 3u;
  return f32(i32(lo | (hi << 4u)) - 32);
}`;
  const at = (buf: string) => `${scale(buf)}
fn ${buf}_iq4_xs_at(base: u32, i: u32) -> f32 {
  let b = ${buf}_byte(base + ${QS}u + 16u * (i >> 5u) + (i & 15u));
  ${levels}
  let dl = ${buf}_scale(base + ${D}u) * ${buf}_iq4_xs_sc(base, i >> 5u);
  return dl * levels[select(b & 15u, b >> 4u, (i & 31u) >= 16u)];
}`;
  // Elements 4j… of the step: the low nibbles of word j (j < 4), then the high nibbles of word j − 4.
  const unit = `${scale('w')}
fn w_iq4_xs_unit(o: u32, u: u32, xs: ptr<function, array<vec4f, 8>>, n: u32) -> f32 {
  ${levels}
  var p = 0.0;
  for (var j = 0u; j < n; j++) {
    let qw = w_word(o + ${QS}u + 16u * u + 4u * (j & 3u)) >> (4u * (j >> 2u));
    let q = ${bytes4('qw')} & vec4u(15u);
    p += dot(vec4f(levels[q.x], levels[q.y], levels[q.z], levels[q.w]), (*xs)[j]);
  }
  return w_scale(o + ${D}u) * w_iq4_xs_sc(o, u) * p;
}`;
  return kernels({ dtype: 'iq4_xs', at, unit });
}

/** Every super-block row, keyed by dtype (spread into WGSL_QUANT). */
export const SUPER_BLOCK_WGSL = {
  q4_k: k4('q4_k'),
  q5_k: k4('q5_k'),
  q6_k: q6k(),
  q3_k: q3k(),
  q2_k: q2k(),
  iq4_xs: iq4xs(),
} satisfies Partial<Record<QuantDType, WgslQuantKernels>>;
