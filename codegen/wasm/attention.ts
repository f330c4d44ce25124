// attention: softmax(scale·q·kᵀ, masked)·v, flash-attention style. For each query row (batch b,
// head h, query i at absolute position T−S+i) the keys are visited in tiles of TILE: a tile's
// scores go to per-thread scratch, then the running max m, running sum l and the f32 output
// accumulator are rescaled by e^(m_old − m_new) once per tile (online softmax; memory O(TILE+Dv)
// per thread, whatever T is). Keys hidden by the causal mask or the sliding window are never
// visited; keys hidden by the padding mask score −∞ and weigh exactly 0.
//
// Inner loops: scores are computed four keys at a time (one load of q per four products, one
// horizontal sum per four keys), and p·V runs with up to 16 vectors of the accumulator in
// registers across the tile's keys, so a key costs a load and a multiply-add per 4 value lanes.
//
// Work items are (b, h, i, key chunk), dealt round-robin to threads (so causal rows, whose cost
// grows with i, spread evenly). Prefill rows form one chunk each. A decode step (S = 1) has few
// rows, so its keys are split into up to `decodeSplits` chunks (flash-decoding): each chunk
// writes its partial (m, l, acc) to scratch, and a second kernel, after a barrier, merges them.
// Both kernels derive the chunk count from S and T the same way.
//
// As in the reference (Hugging Face adds finfo(f32).min), a query that sees no key at all (its
// every key padded away) gets the plain average of v over all T keys.
import { type Dim, dimMul } from '../../ir/dim.js';
import type { DType } from '../../ir/dtype.js';
import type { Node } from '../../ir/graph.js';
import { f32Lit, KernelWriter, type WasmEmitContext, type WasmKernel } from './kernel.js';
import { elemBytes, loadF32, loadF32x4 } from './loads.js';

/** Fewest keys per decode chunk: smaller chunks cost more to merge than they save. */
const DECODE_MIN_KEYS = 64;

interface Shapes {
  batched: boolean;
  B: Dim; S: Dim; T: Dim;
  Hq: number; Hkv: number; D: number; Dv: number;
}

function shapesOf(node: Node): Shapes {
  const [q, k, v] = node.inputs;
  const batched = q.type.shape.length === 4;
  const lead = (s: readonly Dim[]) => (batched ? s : [1, ...s]);
  const [B, S, Hq, D] = lead(q.type.shape), [, T, Hkv] = lead(k.type.shape), Dv = v.type.shape[v.type.shape.length - 1];
  for (const [name, d] of [['Hq', Hq], ['Hkv', Hkv], ['D', D], ['Dv', Dv]] as const) {
    if (typeof d !== 'number') throw new Error(`attention needs a static ${name}`);
  }
  return { batched, B, S, T, Hq: Hq as number, Hkv: Hkv as number, D: D as number, Dv: Dv as number };
}

const ceil4 = (n: number) => (n + 3) & ~3;

/** The chunk count both kernels compute (AS expression over S, T). */
function chunkCount(splits: number): string {
  return `(S == 1 ? min(${splits}, max(1, (T + ${DECODE_MIN_KEYS - 1}) / ${DECODE_MIN_KEYS})) : 1)`;
}

/** Lines that write the plain average of v over all T keys for (b, kh) to `dst` (no key visible). */
function uniformAverage(sh: Shapes, vt: DType, dst: string): string[] {
  return [
    `for (let c = 0; c < ${sh.Dv}; c++) {`,
    'let sum: f64 = 0;',
    `for (let j = 0; j < T; j++) sum += <f64>${loadF32(vt, 'pv', `((b * T + j) * ${sh.Hkv} + kh) * ${sh.Dv} + c`)};`,
    `store<f32>(${dst} + ((<usize>c) << 2), <f32>(sum / <f64>T));`,
    '}',
  ];
}

function emitPartials(node: Node, sh: Shapes, tile: number, splits: number): WasmKernel {
  const [, k, v, mask] = node.inputs;
  const { Hq, Hkv, D, Dv } = sh;
  const group = Hq / Hkv;
  const scale = node.attrs.scale as number, causal = node.attrs.causal as boolean;
  const window = node.attrs.window as number, cap = node.attrs.softcap as number;
  const kt = k.type.dtype, vt = v.type.dtype;
  const w = new KernelWriter('attention');
  w.ptr({ kind: 'operand', index: 0 }, 'pq');
  w.ptr({ kind: 'operand', index: 1 }, 'pk');
  w.ptr({ kind: 'operand', index: 2 }, 'pv');
  if (mask) w.ptr({ kind: 'operand', index: 3 }, 'pm');
  w.ptr({ kind: 'result', index: 0 }, 'py');
  w.ptr({ kind: 'scratch', slot: 0, bytes: dimMul(sh.B, Hq * splits * (Dv + 2) * 4), perThread: false }, 'ppart');
  const threadBytes = (tile + ceil4(Dv)) * 4;
  w.ptr({ kind: 'scratch', slot: 1, bytes: threadBytes, perThread: true }, 'pscr');

  // Visible-key range of query row i, before chunking.
  const lo = window > 0 ? `max(0, qpos - ${window - 1})` : '0';
  const hi = causal ? 'min(T, qpos + 1)' : 'T';
  const maskTest = mask
    ? `${mask.type.dtype === 'i32' ? 'load<i32>' : 'load<f32>'}(pm + ((<usize>(b * T + j)) << 2)) == 0`
    : '';

  const kStride = Hkv * D * elemBytes(kt), vStride = Hkv * Dv * elemBytes(vt);
  const d4 = D & ~3;
  const scaled = (e: string, vec: boolean): string => {
    const x = vec ? `f32x4.mul(${e}, f32x4.splat(${f32Lit(scale)}))` : `${e} * ${f32Lit(scale)}`;
    if (cap <= 0) return x;
    return vec
      ? `f32x4.mul(f32x4.splat(${f32Lit(cap)}), _t_tanh4(f32x4.div(${x}, f32x4.splat(${f32Lit(cap)}))))`
      : `${f32Lit(cap)} * _t_tanh(${x} / ${f32Lit(cap)})`;
  };

  // Scores of four keys at once (rows krow + u·kStride): four accumulators, one q load per four
  // lanes of the head dim, one horizontal sum for all four; then the head dim's tail, if any.
  const score4: string[] = ['let e0 = f32x4.splat(0.0), e1 = f32x4.splat(0.0), e2 = f32x4.splat(0.0), e3 = f32x4.splat(0.0);'];
  for (let c = 0; c < d4; c += 4) {
    score4.push(`{ const qv = v128.load(qrow, ${c * 4});`);
    for (let u = 0; u < 4; u++) score4.push(`e${u} = _t_madd(qv, ${loadF32x4(kt, `krow + ${u * kStride}`, String(c))}, e${u});`);
    score4.push('}');
  }
  score4.push('let sv = _t_hsum4(e0, e1, e2, e3);');
  if (D > d4) {
    const tails = [0, 1, 2, 3].map((u) => Array.from({ length: D - d4 }, (_, i) =>
      `load<f32>(qrow, ${(d4 + i) * 4}) * ${loadF32(kt, `krow + ${u * kStride}`, String(d4 + i))}`).join(' + '));
    score4.push(`sv = f32x4.add(sv, f32x4.replace_lane(f32x4.replace_lane(f32x4.replace_lane(f32x4.splat(${tails[0]}), 1, ${tails[1]}), 2, ${tails[2]}), 3, ${tails[3]}));`);
  }
  score4.push(`sv = ${scaled('sv', true)};`);

  // One key's score (the tile's last keys), with two accumulators.
  const score1: string[] = ['let d0 = f32x4.splat(0.0), d1 = f32x4.splat(0.0);'];
  let c = 0;
  for (; c + 8 <= D; c += 8) {
    score1.push(`d0 = _t_madd(v128.load(qrow, ${c * 4}), ${loadF32x4(kt, 'krow', String(c))}, d0);`,
      `d1 = _t_madd(v128.load(qrow, ${(c + 4) * 4}), ${loadF32x4(kt, 'krow', String(c + 4))}, d1);`);
  }
  if (c + 4 <= D) { score1.push(`d0 = _t_madd(v128.load(qrow, ${c * 4}), ${loadF32x4(kt, 'krow', String(c))}, d0);`); c += 4; }
  score1.push('let s = _t_hsum(f32x4.add(d0, d1));');
  for (; c < D; c++) score1.push(`s += load<f32>(qrow, ${c * 4}) * ${loadF32(kt, 'krow', String(c))};`);
  score1.push(`s = ${scaled('s', false)};`);

  // acc += Σ_jj p_jj · v_row(jj) over the tile. The accumulator lives in registers for up to 16
  // vectors of the value dim at a time (loaded from and stored back to scratch once per tile);
  // the value dim's tail lanes, if any, one at a time.
  const dv4 = Dv & ~3;
  const GROUP = 16;
  const pv: string[] = [];
  for (let g0 = 0; g0 < dv4; g0 += GROUP * 4) {
    const vecs = Array.from({ length: Math.min(GROUP, (dv4 - g0) / 4) }, (_, i) => g0 + i * 4);
    pv.push('{', `let ${vecs.map((cc) => `o${cc} = v128.load(acc, ${cc * 4})`).join(', ')};`,
      'let vrow = vbase;',
      'for (let jj = 0; jj < jn; jj++) {',
      'const p = f32x4.splat(load<f32>(sc + ((<usize>jj) << 2)));');
    for (const cc of vecs) pv.push(`o${cc} = _t_madd(p, ${loadF32x4(vt, 'vrow', String(cc))}, o${cc});`);
    pv.push(`vrow += ${vStride};`, '}');
    for (const cc of vecs) pv.push(`v128.store(acc, o${cc}, ${cc * 4});`);
    pv.push('}');
  }
  if (Dv > dv4) {
    pv.push('{', 'let vrow = vbase;', 'for (let jj = 0; jj < jn; jj++) {', 'const p = load<f32>(sc + ((<usize>jj) << 2));');
    for (let cc = dv4; cc < Dv; cc++) pv.push(`store<f32>(acc, load<f32>(acc, ${cc * 4}) + p * ${loadF32(vt, 'vrow', String(cc))}, ${cc * 4});`);
    pv.push(`vrow += ${vStride};`, '}', '}');
  }

  // acc *= f (the online-softmax rescale), once per tile.
  const rescale = [`for (let c = 0; c < ${dv4}; c += 4) v128.store(acc + ((<usize>c) << 2), f32x4.mul(v128.load(acc + ((<usize>c) << 2)), corr));`];
  if (Dv > dv4) rescale.push(`for (let c = ${dv4}; c < ${Dv}; c++) store<f32>(acc + ((<usize>c) << 2), load<f32>(acc + ((<usize>c) << 2)) * f32x4.extract_lane(corr, 0));`);

  w.line(
    `const S: i32 = ${w.dim(sh.S)}, T: i32 = ${w.dim(sh.T)};`,
    `const nc: i32 = ${chunkCount(splits)};`,
    `const items: i32 = ${w.dim(sh.B)} * ${Hq} * S * nc;`,
    `const sc = pscr + (<usize>tid) * ${threadBytes};`,
    `const acc = sc + ${tile * 4};`,
    'for (let item = tid; item < items; item += nthreads) {',
    'const ch = item % nc;',
    'const row = item / nc;',
    'const i = row % S;',
    `const h = (row / S) % ${Hq};`,
    `const b = row / (S * ${Hq});`,
    `const kh = h / ${group};`,
    'const qpos = T - S + i;',
    `const lo0: i32 = ${lo}, hi0: i32 = ${hi};`,
    'const span = max(hi0 - lo0, 0);',
    'const lo = lo0 + <i32>((<i64>span * ch) / nc), hi = lo0 + <i32>((<i64>span * (ch + 1)) / nc);',
    `const qrow = pq + (<usize>((b * S + i) * ${Hq} + h)) * ${D * 4};`,
    `memory.fill(acc, 0, ${Dv * 4});`,
    'let m: f32 = -Infinity, l: f32 = 0;',
    `for (let j0 = lo; j0 < hi; j0 += ${tile}) {`,
    `const jn = min(${tile}, hi - j0);`,
    `const kbase = pk + (<usize>((b * T + j0) * ${Hkv} + kh)) * ${D * elemBytes(kt)};`,
    `const vbase = pv + (<usize>((b * T + j0) * ${Hkv} + kh)) * ${Dv * elemBytes(vt)};`,
    'let mtv = f32x4.splat(-Infinity);',
    'let jj = 0;',
    'for (; jj + 4 <= jn; jj += 4) {',
    `const krow = kbase + (<usize>jj) * ${kStride};`,
    ...score4,
  );
  if (mask) {
    for (let u = 0; u < 4; u++) {
      w.line(`if (${maskTest.replace('(b * T + j)', `(b * T + j0 + jj + ${u})`)}) sv = f32x4.replace_lane(sv, ${u}, -Infinity);`);
    }
  }
  w.line(
    'v128.store(sc + ((<usize>jj) << 2), sv);',
    'mtv = f32x4.max(mtv, sv);',
    '}',
    'let mt = _t_hmax(mtv);',
    'for (; jj < jn; jj++) {',
    'const j = j0 + jj;',
  );
  if (mask) w.line(`if (${maskTest}) { store<f32>(sc + ((<usize>jj) << 2), -Infinity); continue; }`);
  w.line(`const krow = kbase + (<usize>jj) * ${kStride};`, ...score1,
    'store<f32>(sc + ((<usize>jj) << 2), s);',
    'mt = max(mt, s);',
    '}',
    'if (mt == -Infinity) continue;',
    'const mn = max(m, mt);',
    'if (mn > m) {',
    'const corr = f32x4.splat(_t_exp(m - mn));',
    'l *= f32x4.extract_lane(corr, 0);',
    ...rescale,
    'm = mn;',
    '}',
    // Pad the tile to whole vectors with −∞ (weight 0), then exponentiate four scores at a time.
    'for (let jj = jn; jj < ((jn + 3) & ~3); jj++) store<f32>(sc + ((<usize>jj) << 2), -Infinity);',
    'const mv = f32x4.splat(m);',
    'let lv = f32x4.splat(0.0);',
    'for (let jj = 0; jj < jn; jj += 4) {',
    'const at = sc + ((<usize>jj) << 2);',
    'const p = _t_exp4(f32x4.sub(v128.load(at), mv));',
    'v128.store(at, p);',
    'lv = f32x4.add(lv, p);',
    '}',
    'l += _t_hsum(lv);',
    ...pv,
    '}',
    'if (nc == 1) {',
    `const out = py + (<usize>((b * S + i) * ${Hq} + h)) * ${Dv * 4};`,
    'if (l > 0) {',
    'const lv = f32x4.splat(l);',
    `for (let c = 0; c < ${dv4}; c += 4) v128.store(out + ((<usize>c) << 2), f32x4.div(v128.load(acc + ((<usize>c) << 2)), lv));`,
    `for (let c = ${dv4}; c < ${Dv}; c++) store<f32>(out + ((<usize>c) << 2), load<f32>(acc + ((<usize>c) << 2)) / l);`,
    '} else {',
    ...uniformAverage(sh, vt, 'out'),
    '}',
    '} else {',
    `const part = ppart + (<usize>(((b * ${Hq} + h) * ${splits} + ch) * ${Dv + 2})) * 4;`,
    'store<f32>(part, m);',
    'store<f32>(part, l, 4);',
    `_t_copy(part + 8, acc, ${Dv * 4});`,
    '}',
    '}',
  );
  return w.finish();
}

/** Merges decode chunks: out = Σ_c e^(m_c − M)·acc_c / Σ_c e^(m_c − M)·l_c. No-op when nc = 1. */
function emitCombine(node: Node, sh: Shapes, splits: number): WasmKernel {
  const { Hq, Hkv, Dv } = sh;
  const vt = node.inputs[2].type.dtype;
  const w = new KernelWriter('attention_combine');
  w.ptr({ kind: 'operand', index: 2 }, 'pv');
  w.ptr({ kind: 'result', index: 0 }, 'py');
  w.ptr({ kind: 'scratch', slot: 0, bytes: dimMul(sh.B, Hq * splits * (Dv + 2) * 4), perThread: false }, 'ppart');
  w.line(
    `const S: i32 = ${w.dim(sh.S)}, T: i32 = ${w.dim(sh.T)};`,
    `const nc: i32 = ${chunkCount(splits)};`,
    'if (nc == 1) return;',
    `const items: i32 = ${w.dim(sh.B)} * ${Hq};`,
    'for (let item = tid; item < items; item += nthreads) {',
    `const b = item / ${Hq}, h = item % ${Hq}, kh = h / ${Hq / Hkv};`,
    `const parts = ppart + (<usize>(item * ${splits})) * ${(Dv + 2) * 4};`,
    `const out = py + (<usize>item) * ${Dv * 4};`,
    'let M: f32 = -Infinity;',
    `for (let c = 0; c < nc; c++) M = max(M, load<f32>(parts + (<usize>c) * ${(Dv + 2) * 4}));`,
    'if (M == -Infinity) {',
    ...uniformAverage(sh, vt, 'out'),
    'continue;',
    '}',
    // Each chunk's weight e^(m_c − M) once; the output accumulates the weighted partials in place.
    `for (let e = 0; e < ${Dv}; e++) store<f32>(out + ((<usize>e) << 2), 0);`,
    'let L: f32 = 0;',
    'for (let c = 0; c < nc; c++) {',
    `const pc = parts + (<usize>c) * ${(Dv + 2) * 4};`,
    'const mc = load<f32>(pc);',
    'if (mc == -Infinity) continue;',
    'const wc = _t_exp(mc - M);',
    'L += load<f32>(pc, 4) * wc;',
    'const wv = f32x4.splat(wc);',
    `for (let e = 0; e < ${Dv & ~3}; e += 4) { const at = out + ((<usize>e) << 2); v128.store(at, _t_madd(wv, v128.load(pc + 8 + ((<usize>e) << 2)), v128.load(at))); }`,
    `for (let e = ${Dv & ~3}; e < ${Dv}; e++) { const at = out + ((<usize>e) << 2); store<f32>(at, load<f32>(at) + wc * load<f32>(pc + 8 + ((<usize>e) << 2))); }`,
    '}',
    `for (let e = 0; e < ${Dv}; e++) { const at = out + ((<usize>e) << 2); store<f32>(at, load<f32>(at) / L); }`,
    '}',
  );
  return w.finish();
}

function emitAttention(node: Node, ctx: WasmEmitContext): WasmKernel[] {
  if (node.inputs[0].type.dtype !== 'f32') throw new Error(`q must be f32 (activations), got ${node.inputs[0].type.dtype}`);
  const sh = shapesOf(node);
  const tile = ctx.attentionTile ?? 64;
  if (tile < 4 || tile % 4 !== 0) throw new Error(`attentionTile must be a positive multiple of 4, got ${tile}`);
  const splits = Math.max(1, ctx.decodeSplits ?? 8);
  return [emitPartials(node, sh, tile, splits), emitCombine(node, sh, splits)];
}

/**
 * flash_attention is attention computed tile by tile, which this kernel already does: its key tile
 * becomes the score tile (whole vectors), its split_k the most decode chunks. tile_q has no
 * counterpart, since a work item here is one query row.
 */
function emitFlashAttention(node: Node, ctx: WasmEmitContext): WasmKernel[] {
  const a = node.attrs;
  return emitAttention(node, { ...ctx, attentionTile: Math.max(4, ceil4(a.tile_k as number)), decodeSplits: a.split_k as number });
}

export const attentionEmitters: Record<string, (node: Node, ctx: WasmEmitContext) => WasmKernel[]> = {
  attention: emitAttention,
  flash_attention: emitFlashAttention,
};
