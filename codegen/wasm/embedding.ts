// embedding: out[t, :] = table[ids[t], :], decoding only the rows asked for (f32 copied; f16/bf16
// widened; block-quantized types dequantized a block at a time). Threads split the ids. An id
// outside the table is reported through the control block (the runtime throws) and its row is
// zero-filled.
import { dimProduct } from '../../ir/dim.js';
import { type DType, dtypeInfo, isQuantized } from '../../ir/dtype.js';
import type { Node } from '../../ir/graph.js';
import { ERR_EMBEDDING_ID } from './abi.js';
import { KernelWriter, type WasmKernel } from './kernel.js';
import { loadF32, loadF32x4, WASM_QUANT } from './loads.js';

/**
 * Lines that write the first `n` (≤ 16) of the 16 signed bytes q{v} (i8x16) times d{v}, plus m{v}
 * where the type has an offset, at dst + 64·v. Product and sum round apart (no fused multiply-add),
 * as the reference decodes; lanes past `n` (a row's padded last block) are not stored.
 */
function storeVector(v: number, n: number, offset: boolean): string[] {
  const value = (x: string) => (offset ? `f32x4.add(f32x4.mul(${x}, f32x4.splat(d${v})), f32x4.splat(m${v}))` : `f32x4.mul(${x}, f32x4.splat(d${v}))`);
  const parts = ['f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(l))', 'f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(l))',
    'f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(h))', 'f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(h))'];
  const lines = [`{ const l = i16x8.extend_low_i8x16_s(q${v}), h = i16x8.extend_high_i8x16_s(q${v});`];
  parts.forEach((p, k) => {
    const at = 64 * v + 16 * k, lanes = Math.min(4, n - 4 * k);
    if (lanes === 4) lines.push(`v128.store(dst, ${value(p)}, ${at});`);
    else if (lanes > 0) {
      lines.push(`{ const e = ${value(p)};`, ...[...Array(lanes).keys()].map((l) => `store<f32>(dst, f32x4.extract_lane(e, ${l}), ${at + 4 * l});`), '}');
    }
  });
  lines.push('}');
  return lines;
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
      // One block at a time: the dtype's row of WASM_QUANT (loads.ts) decodes it, 16 a vector.
      const { blockSize: bs, blockBytes: bb } = dtypeInfo(dtype);
      const q = WASM_QUANT[dtype];
      const nb = Math.ceil(D / bs), full = Math.floor(D / bs), tail = D % bs;
      const block = (blk: string, n: number) => [
        ...q.gatherVectors(blk),
        ...[...Array(Math.ceil(n / 16)).keys()].flatMap((v) => storeVector(v, Math.min(16, n - 16 * v), q.offset)),
      ];
      const lines = [
        `const row = tp + (<usize>id) * ${nb * bb};`,
        `for (let b = 0; b < ${full}; b++) {`,
        `const blk = row + (<usize>b) * ${bb};`,
        `const dst = yr + (<usize>b) * ${bs * 4};`,
        ...block('blk', bs),
        '}',
      ];
      // The row's last, padded block: only its first `tail` elements are stored.
      if (tail) lines.push(`{ const blk = row + ${full * bb};`, `const dst = yr + ${full * bs * 4};`, ...block('blk', tail), '}');
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
