// A quantized tensor whose block holds a NaN or infinite f16 scale (d, or a K-quant's dmin) is
// refused when read, naming the tensor, its type, the block, the field and the byte offset; every
// block-quantized dtype is checked through its codec's scale fields (ir/quant).
import { describe, expect, it } from 'vitest';
import { dtypeInfo, fieldOffset, QUANT_DTYPES } from '../../ir/dtype.js';
import { checkFinite } from '../../models/formats/finite.js';

describe('non-finite scales in quantized blocks', () => {
  for (const d of QUANT_DTYPES) {
    const { blockBytes, layout, ggml } = dtypeInfo(d);
    for (const field of layout.filter((f) => f.type === 'f16').map((f) => f.name)) {
      it(`${d}: ${field} = Inf in the second block`, () => {
        const bytes = new Uint8Array(3 * blockBytes);
        const at = blockBytes + fieldOffset(d, field);
        bytes[at + 1] = 0x7c; // +Inf
        const msg = new RegExp(`m\\.gguf: tensor "w" \\(${ggml!.name}\\) has scale ${field} = Infinity in block 1 \\(byte ${at} of its data\\)`);
        expect(() => checkFinite('m.gguf', 'w', d, bytes)).toThrow(msg);
        bytes[at + 1] = 0x3c; // 1.0
        expect(() => checkFinite('m.gguf', 'w', d, bytes)).not.toThrow();
      });
    }
  }
});
