// embedding: rows of a table picked by token ids. The table may be stored in any float or
// GGUF block-quantized dtype; only the rows asked for are decoded, so a 256k-row table costs
// nothing beyond the ids it is read at.
import { isQuantized, storageBytes } from '../dtype.js';
import { registerOp } from '../op.js';
import { bf16ToF32, f16ToF32, type HostTensor, tensor, toF32 } from '../tensor.js';
import { typeToString } from '../types.js';
import { expectDType, expectRank, f32Type, fail, outF32, stridesOf } from './util.js';

/** Row r of a [V, D] table as f32 values. */
function tableRow(table: HostTensor, r: number): ArrayLike<number> {
  const d = table.shape[1];
  switch (table.dtype) {
    case 'f32': return (table.data as Float32Array).subarray(r * d, (r + 1) * d);
    case 'f16': return Array.from((table.data as Uint16Array).subarray(r * d, (r + 1) * d), f16ToF32);
    case 'bf16': return Array.from((table.data as Uint16Array).subarray(r * d, (r + 1) * d), bf16ToF32);
    default: {
      if (!isQuantized(table.dtype)) throw new Error(`embedding table cannot be ${table.dtype}`);
      // Each row is its own run of whole blocks, so one row is a valid [D] tensor on its own.
      const bytes = storageBytes(table.dtype, [d]);
      return toF32(tensor(table.dtype, [d], (table.data as Uint8Array).subarray(r * bytes, (r + 1) * bytes)));
    }
  }
}

/** `ids[i, j]` for an error message, from a flat index. */
function position(shape: readonly number[], flat: number): string {
  return `[${stridesOf(shape).map((s, i) => Math.floor(flat / s) % shape[i]).join(', ')}]`;
}

registerOp({
  name: 'embedding',
  summary: 'out[..., :] = table[ids[...], :]; table [V, D] of any float or quantized dtype, ids i32',
  operands: ['table', 'ids'],
  attrs: {},
  infer([table, ids]) {
    expectRank(table, 'table', [2]);
    if (!(table.dtype === 'f32' || table.dtype === 'f16' || table.dtype === 'bf16' || isQuantized(table.dtype))) {
      fail(`table must be a float or quantized tensor, got ${typeToString(table)}`);
    }
    expectDType(ids, 'ids', ['i32']);
    return [f32Type([...ids.shape, table.shape[1]])];
  },
  evaluate([table, ids]) {
    const [v, d] = table.shape;
    const idv = ids.data as Int32Array;
    const out = new Float32Array(idv.length * d);
    for (let k = 0; k < idv.length; k++) {
      const id = idv[k];
      if (id < 0 || id >= v) throw new Error(`embedding: id ${id} at ids${position(ids.shape, k)} is out of range [0, ${v})`);
      out.set(tableRow(table, id), k * d);
    }
    return [outF32([...ids.shape, d], out)];
  },
});
