// Packing the GEMM's weight panels (gemm.ts): the weight rows of one column panel, transposed
// K-major into a thread's scratch as f32: at each k, 4·V values (V vectors, gemm.ts's register tile),
// lane f holding product column n0 + f mod C of part f div C (C = 4·V / parts columns per part),
// vector j = f div 4 (panel[k][j][f mod 4]). Float rows (f32, f16, bf16) are read 4 k at a time and transposed 4 × 4
// by shuffles; a quantized row is decoded one block at a time by its dtype's gather (WASM_QUANT in
// loads.ts, the decoding the embedding gather uses) into a staging buffer of 4 rows, then
// transposed the same way: a panel is dequantized once and serves every row of a slab. Columns
// past a part's end are zero (their rows are read from the part's first row and masked off), so the
// micro-kernel never branches.
import { dtypeInfo, type QuantDType } from '../../ir/dtype.js';
import { elemBytes, loadF32, loadF32x4, type PlainFloat, WASM_QUANT } from './loads.js';

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

export interface PackShape {
  /** The local holding the weights' address. */
  readonly wp: string;
  readonly K: number;
  /** Columns per part. */
  readonly m: number;
  /** Vectors per k. */
  readonly V: number;
  /** Columns per part in a panel (4·V / parts). */
  readonly cols: number;
  /** The local holding this thread's staging buffer (quantized weights). */
  readonly stage: string;
}

/** Part and column within the panel of lane f (static). */
function laneColumn(f: number, cols: number): { part: number; col: number } {
  return { part: Math.floor(f / cols), col: f % cols };
}

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
 * Lines packing panel `pn` (its first column n0, both in scope) into `gpp`. Lane f = 4j + c (vector
 * j, lane c): ok{j}_{c} says whether its column exists, wr{j}_{c} is its weight row (the part's
 * first row when not), mk{j}_{c} the mask that zeroes it when not.
 */
export function packPanel(src: PanelSource, s: PackShape): string[] {
  return src.kind === 'float' ? packFloat(src.dtype, s) : packQuant(src.dtype, s);
}

function packFloat(dtype: PlainFloat, s: PackShape): string[] {
  const { K, m, V, cols } = s;
  const rowBytes = K * elemBytes(dtype);
  const J = [...Array(V).keys()], C = [0, 1, 2, 3];
  const lines: string[] = [];
  for (const j of J) {
    for (const c of C) {
      const { part: p, col } = laneColumn(4 * j + c, cols);
      const idx = `n0 + ${col}`;
      lines.push(
        `const ok${j}_${c} = ${idx} < ${m};`,
        `const wr${j}_${c} = ${s.wp} + (<usize>(ok${j}_${c} ? ${idx}${p ? ` + ${p * m}` : ''} : ${p * m})) * ${rowBytes};`,
        `const mk${j}_${c} = i32x4.splat(ok${j}_${c} ? -1 : 0);`,
      );
    }
  }
  const K4 = K & ~3;
  if (K4) {
    lines.push(`for (let k = 0; k < ${K4}; k += 4) {`, `const dst = gpp + (<usize>k) * ${V * 16};`);
    for (const j of J) lines.push(...transposeStore(C.map((c) => `v128.and(${loadF32x4(dtype, `wr${j}_${c}`, 'k')}, mk${j}_${c})`), 'dst', j * 16, V * 16));
    lines.push('}');
  }
  for (let k = K4; k < K; k++) {
    for (const j of J) for (const c of C) lines.push(`store<f32>(gpp, ok${j}_${c} ? ${loadF32(dtype, `wr${j}_${c}`, String(k))} : <f32>0.0, ${(k * V + j) * 16 + c * 4});`);
  }
  return lines;
}

function packQuant(dtype: QuantDType, s: PackShape): string[] {
  const { K, m, V, cols } = s;
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
    `for (let j = 0; j < ${V}; j++) {`,
    // Lane f = 4j + c is column n0 + f % cols of part f / cols; each of the 4 rows' block decoded into staging row c.
    'for (let c = 0; c < 4; c++) {',
    `const f = j * 4 + c, fp = f / ${cols}, col = n0 + f - fp * ${cols};`,
    `const blk = ${s.wp} + (<usize>(col < ${m} ? col + fp * ${m} : fp * ${m})) * ${nb * blockBytes} + (<usize>b) * ${blockBytes};`,
    `const dst = ${s.stage} + (<usize>c) * ${bs * 4};`,
    '{', ...q.gatherVectors('blk'), ...decode, '}',
    '}',
    ...[0, 1, 2, 3].map((c) => `const mk${c} = i32x4.splat(n0 + (j * 4 + ${c}) % ${cols} < ${m} ? -1 : 0);`),
    `const dst = gpp + ((<usize>b) * ${bs * V} + <usize>j) * 16;`,
    `for (let k = 0; k < ${bs}; k += 4) {`,
    `const sq = ${s.stage} + (<usize>k) * 4, dk = dst + (<usize>k) * ${V * 16};`,
    ...transposeStore([0, 1, 2, 3].map((c) => `v128.and(v128.load(sq, ${c * bs * 4}), mk${c})`), 'dk', 0, V * 16),
    '}',
    '}',
    '}',
  ];
}
