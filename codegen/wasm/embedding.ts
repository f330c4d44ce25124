// embedding: out[t, :] = table[ids[t], :], decoding only the rows asked for (f32 copied; f16/bf16
// widened; block-quantized types dequantized a block at a time). Threads split the ids. An id
// outside the table is reported through the control block (the runtime throws) and its row is
// zero-filled.
import { dimProduct } from '../../ir/dim.js';
import { type DType, dtypeInfo, fieldOffset, isQuantized } from '../../ir/dtype.js';
import type { Node } from '../../ir/graph.js';
import { ERR_EMBEDDING_ID } from './abi.js';
import { KernelWriter, type WasmKernel } from './kernel.js';
import { loadF32, loadF32x4, WASM_QUANT } from './loads.js';

/**
 * Lines that write four f32x4 from the 16 signed bytes in `q` (i8x16) times `dv`, plus `mv` where
 * the type has a min, at dst + off. Product and sum round apart (no fused multiply-add), as the
 * reference decodes.
 */
function storeBytes(q: string, off: number, min: boolean): string[] {
  const value = (v: string) => (min ? `f32x4.add(f32x4.mul(${v}, dv), mv)` : `f32x4.mul(${v}, dv)`);
  return [
    `{ const l = i16x8.extend_low_i8x16_s(${q}), h = i16x8.extend_high_i8x16_s(${q});`,
    `v128.store(dst, ${value('f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(l))')}, ${off});`,
    `v128.store(dst, ${value('f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(l))')}, ${off + 16});`,
    `v128.store(dst, ${value('f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(h))')}, ${off + 32});`,
    `v128.store(dst, ${value('f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(h))')}, ${off + 48}); }`,
  ];
}

function rowCopy(dtype: DType, D: number): string[] {
  switch (dtype) {
    case 'f32':
      return [`_t_copy(yr, tp + (<usize>id) * ${D * 4}, ${D * 4});`];
    case 'f16': case 'bf16':
      return [
        `const src = tp + (<usize>id) * ${D * 2};`,
        'let i = 0;',
        `for (; i + 4 <= ${D}; i += 4) v128.store(yr + ((<usize>i) << 2), ${loadF32x4(dtype, 'src', 'i')});`,
        `for (; i < ${D}; i++) store<f32>(yr + ((<usize>i) << 2), ${loadF32(dtype, 'src', 'i')});`,
      ];
    default: {
      if (!isQuantized(dtype)) break;
      // One block at a time: the dtype's row of WASM_QUANT (loads.ts) gives its quants, 16 a vector.
      const { blockSize: bs, blockBytes: bb } = dtypeInfo(dtype);
      const q = WASM_QUANT[dtype];
      const nb = Math.ceil(D / bs), full = Math.floor(D / bs), tail = D % bs;
      const half = (blk: string, field: string) => {
        const at = fieldOffset(dtype, field);
        return `_t_h2f(<u32>load<u16>(${blk}${at ? `, ${at}` : ''}))`;
      };
      const scale = (blk: string) => half(blk, 'd');
      const min = q.min;
      const lines = [
        `const row = tp + (<usize>id) * ${nb * bb};`,
        `for (let b = 0; b < ${full}; b++) {`,
        `const blk = row + (<usize>b) * ${bb};`,
        `const dst = yr + (<usize>b) * ${bs * 4};`,
        `const dv = f32x4.splat(${scale('blk')});`,
        ...(min ? [`const mv = f32x4.splat(${half('blk', min)});`] : []),
        ...q.gatherVectors('blk'), ...Array.from({ length: bs / 16 }, (_, v) => storeBytes(`q${v}`, 64 * v, min !== undefined)).flat(),
        '}',
      ];
      if (tail) {
        lines.push(
          `{ const blk = row + ${full * bb};`,
          `const d = ${scale('blk')}${min ? `, m = ${half('blk', min)}` : ''};`,
          `for (let i = 0; i < ${tail}; i++) store<f32>(yr + ((<usize>(${full * bs} + i)) << 2), d * ${q.gatherElement('blk', 'i')}${min ? ' + m' : ''}); }`,
        );
      }
      return lines;
    }
  }
  throw new Error(`embedding table cannot be ${dtype}`);
}

function emitEmbedding(node: Node): WasmKernel[] {
  const [table, ids] = node.inputs;
  const [V, D] = table.type.shape;
  if (typeof V !== 'number' || typeof D !== 'number') throw new Error('the embedding table must have a static shape');
  const w = new KernelWriter(`embedding_${table.type.dtype}`);
  w.ptr({ kind: 'operand', index: 0 }, 'tp');
  w.ptr({ kind: 'operand', index: 1 }, 'ip');
  w.ptr({ kind: 'result', index: 0 }, 'yp');
  const n = w.dim(dimProduct(ids.type.shape));
  w.line(
    `const t0 = _t_split(${n}, tid, nthreads), t1 = _t_split(${n}, tid + 1, nthreads);`,
    'for (let t = t0; t < t1; t++) {',
    'const id = load<i32>(ip + ((<usize>t) << 2));',
    `const yr = yp + (<usize>t) * ${D * 4};`,
    `if (<u32>id >= ${V}) {`,
    `_t_error(${ERR_EMBEDDING_ID}, id);`,
    `memory.fill(yr, 0, ${D * 4});`,
    'continue;',
    '}',
    ...rowCopy(table.type.dtype, D),
    '}',
  );
  return [w.finish()];
}

export const embeddingEmitters: Record<string, (node: Node) => WasmKernel[]> = { embedding: emitEmbedding };
