// Packing the GEMM's weight panels (gemm.ts): the weight rows of one column panel, transposed
// K-major into a thread's scratch as f32, one group per part: group p holds GROUP_COLUMNS columns
// of part p (n0 + c), as GROUP_VECTORS vectors at each k (group[p][k][j][c], column n0 + 4j + c),
// each group contiguous so the micro-kernel streams one at a time. Float rows (f32, f16, bf16) are
// read 4 k at a time and transposed 4 × 4 by shuffles; a quantized row is decoded one block at a
// time by its dtype's gather (WASM_QUANT in loads.ts, the decoding the embedding gather uses) into
// a staging buffer of 4 rows, then transposed the same way: a panel is dequantized once and serves
// every row of a slab. Columns past a part's end are zero (their rows are read from the part's
// first row and masked off), so the micro-kernel never branches.
import { dtypeInfo, type QuantDType } from '../../ir/dtype.js';
import { elemBytes, loadF32, loadF32x4, type PlainFloat, WASM_QUANT } from './loads.js';

/** Vectors per k of a group: the micro-kernel's tile width (gemm.ts). */
export const GROUP_VECTORS = 3;
/** Product columns of a part in a panel. */
export const GROUP_COLUMNS = 4 * GROUP_VECTORS;

/** Where a panel's weights come from: float rows, or block-quantized rows decoded while packing. */
export type PanelSource =
  | { readonly kind: 'float'; readonly dtype: PlainFloat; readonly stagingBytes: 0 }
  | { readonly kind: 'quant'; readonly dtype: QuantDType; readonly stagingBytes: number };

export function floatPanel(dtype: PlainFloat): PanelSource {
  return { kind: 'float', dtype, stagingBytes: 0 };
}

/** Four rows' decoded blocks (f32) per thread. */
export function quantPanel(dtype: QuantDType): PanelSource {
  return { kind: 'quant', dtype, stagingBytes: 4 * dtypeInfo(dtype).blockSize * 4 };
}

/** Rows of k a panel holds: K rounded up to whole vectors (float) or whole blocks (quantized). */
export function panelRows(src: PanelSource, K: number): number {
  const step = src.kind === 'float' ? 4 : dtypeInfo(src.dtype).blockSize;
  return Math.ceil(K / step) * step;
}

/** Bytes of one part's group in a panel. */
export function groupBytes(src: PanelSource, K: number): number {
  return panelRows(src, K) * GROUP_VECTORS * 16;
}

export interface PackShape {
  /** The local holding the weights' address. */
  readonly wp: string;
  readonly K: number;
  /** Columns per part. */
  readonly m: number;
  readonly parts: number;
  /** The local holding this thread's staging buffer (quantized weights). */
  readonly stage: string;
}

const ROW = GROUP_VECTORS * 16;

/** Lines storing the 4 × 4 transpose of the rows r0…r3 (f32x4 each) as 4 vectors `stride` bytes apart from `dst`. */
function transposeStore(r: readonly string[], dst: string, first: number, stride: number): string[] {
  const at = (i: number) => first + i * stride;
  return [
    `{ const t0 = v128.shuffle<f32>(${r[0]}, ${r[1]}, 0, 4, 1, 5), t1 = v128.shuffle<f32>(${r[2]}, ${r[3]}, 0, 4, 1, 5);`,
    `const t2 = v128.shuffle<f32>(${r[0]}, ${r[1]}, 2, 6, 3, 7), t3 = v128.shuffle<f32>(${r[2]}, ${r[3]}, 2, 6, 3, 7);`,
    `v128.store(${dst}, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5), ${at(0)});`,
    `v128.store(${dst}, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7), ${at(1)});`,
    `v128.store(${dst}, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5), ${at(2)});`,
    `v128.store(${dst}, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7), ${at(3)}); }`,
  ];
}

/**
 * Lines packing panel `pn` (its first column n0, both in scope) into `gpp`. Vector j of part p's
 * group, lane c: ok{p}_{j}_{c} says whether its column n0 + 4j + c exists, wr{p}_{j}_{c} is its
 * weight row (the part's first row when not), mk{p}_{j}_{c} the mask that zeroes it when not.
 */
export function packPanel(src: PanelSource, s: PackShape): string[] {
  return src.kind === 'float' ? packFloat(src, s) : packQuant(src, s);
}

function packFloat(src: PanelSource & { kind: 'float' }, s: PackShape): string[] {
  const { K, m } = s;
  const dtype = src.dtype;
  const rowBytes = K * elemBytes(dtype);
  const group = groupBytes(src, K);
  const P = [...Array(s.parts).keys()], J = [...Array(GROUP_VECTORS).keys()], C = [0, 1, 2, 3];
  const PJ = P.flatMap((p) => J.map((j) => [p, j] as const));
  const id = (p: number, j: number, c: number) => `${p}_${j}_${c}`;
  const lines: string[] = [];
  for (const [p, j] of PJ) {
    for (const c of C) {
      const idx = `n0 + ${4 * j + c}`, v = id(p, j, c);
      lines.push(
        `const ok${v} = ${idx} < ${m};`,
        `const wr${v} = ${s.wp} + (<usize>(ok${v} ? ${idx}${p ? ` + ${p * m}` : ''} : ${p * m})) * ${rowBytes};`,
        `const mk${v} = i32x4.splat(ok${v} ? -1 : 0);`,
      );
    }
  }
  const K4 = K & ~3;
  if (K4) {
    lines.push(`for (let k = 0; k < ${K4}; k += 4) {`, `const dst = gpp + (<usize>k) * ${ROW};`);
    for (const [p, j] of PJ) lines.push(...transposeStore(C.map((c) => `v128.and(${loadF32x4(dtype, `wr${id(p, j, c)}`, 'k')}, mk${id(p, j, c)})`), 'dst', p * group + j * 16, ROW));
    lines.push('}');
  }
  for (let k = K4; k < K; k++) {
    for (const [p, j] of PJ) for (const c of C) lines.push(`store<f32>(gpp, ok${id(p, j, c)} ? ${loadF32(dtype, `wr${id(p, j, c)}`, String(k))} : <f32>0.0, ${p * group + k * ROW + j * 16 + c * 4});`);
  }
  return lines;
}

function packQuant(src: PanelSource & { kind: 'quant' }, s: PackShape): string[] {
  const { K, m } = s;
  const dtype = src.dtype;
  const { blockSize: bs, blockBytes } = dtypeInfo(dtype);
  const nb = Math.ceil(K / bs);
  const q = WASM_QUANT[dtype];
  const value = (v: number, f: string) => (q.offset ? `f32x4.add(f32x4.mul(${f}, f32x4.splat(d${v})), f32x4.splat(m${v}))` : `f32x4.mul(${f}, f32x4.splat(d${v}))`);
  const decode: string[] = [];
  for (let v = 0; v < bs / 16; v++) {
    decode.push(`{ const lo = i16x8.extend_low_i8x16_s(q${v}), hi = i16x8.extend_high_i8x16_s(q${v});`);
    const f = ['i32x4.extend_low_i16x8_s(lo)', 'i32x4.extend_high_i16x8_s(lo)', 'i32x4.extend_low_i16x8_s(hi)', 'i32x4.extend_high_i16x8_s(hi)'];
    f.forEach((e, h) => decode.push(`v128.store(dst, ${value(v, `f32x4.convert_i32x4_s(${e})`)}, ${v * 64 + h * 16});`));
    decode.push('}');
  }
  return [
    `for (let b = 0; b < ${nb}; b++) {`,
    // Vector pj of the panel: vector j of part p's group; each of its 4 rows' block decoded into staging row c.
    `for (let pj = 0; pj < ${s.parts * GROUP_VECTORS}; pj++) {`,
    `const p = pj / ${GROUP_VECTORS}, j = pj - p * ${GROUP_VECTORS}, c0 = n0 + j * 4;`,
    'for (let c = 0; c < 4; c++) {',
    `const blk = ${s.wp} + (<usize>(c0 + c < ${m} ? c0 + c + p * ${m} : p * ${m})) * ${nb * blockBytes} + (<usize>b) * ${blockBytes};`,
    `const dst = ${s.stage} + (<usize>c) * ${bs * 4};`,
    '{', ...q.gatherVectors('blk'), ...decode, '}',
    '}',
    ...[0, 1, 2, 3].map((c) => `const mk${c} = i32x4.splat(c0 + ${c} < ${m} ? -1 : 0);`),
    `const dst = gpp + (<usize>p) * ${groupBytes(src, K)} + (<usize>b) * ${bs * ROW} + (<usize>j) * 16;`,
    `for (let k = 0; k < ${bs}; k += 4) {`,
    `const sq = ${s.stage} + (<usize>k) * 4, dk = dst + (<usize>k) * ${ROW};`,
    ...transposeStore([0, 1, 2, 3].map((c) => `v128.and(v128.load(sq, ${c * bs * 4}), mk${c})`), 'dk', 0, ROW),
    '}',
    '}',
    '}',
  ];
}
