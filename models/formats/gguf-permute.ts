// llama.cpp's RoPE row order for Q and K projection weights.
//
// Hugging Face Llama checkpoints rotate the two halves of each head (rotate_half: element i pairs
// with element i + head_dim/2). llama.cpp's converter (convert_hf_to_gguf.py, LlamaModel.permute)
// reorders the output rows of attn_q and attn_k so that the pairs sit next to each other
// (element 2i pairs with 2i + 1, the layout Meta's original checkpoints and llama2.c use):
//
//   GGUF row h*D + 2*i + j  =  HF row h*D + j*(D/2) + i      (head h, D = head_dim, i < D/2, j ∈ {0, 1})
//
// with n_heads for attn_q and n_kv_heads for attn_k. Checkpoints that were already interleaved
// (llama2.c's .bin, and stories260K.gguf made from one by convert-llama2c-to-ggml) are copied
// through unchanged, so there GGUF rows equal the llama2.c rows.
import { type HostTensor, tensor } from '../../ir/tensor.js';

/** GGUF (interleaved pairs) → HF (halves) row order. `t` is [n_heads*head_dim, in], any dtype. */
export function unpermuteRopeRows(t: HostTensor, nHeads: number): HostTensor {
  return reorderRows(t, nHeads, (h, D, i, j) => [h * D + j * (D / 2) + i, h * D + 2 * i + j]);
}

/** HF (halves) → GGUF (interleaved pairs) row order: what llama.cpp's converter does. */
export function permuteRopeRows(t: HostTensor, nHeads: number): HostTensor {
  return reorderRows(t, nHeads, (h, D, i, j) => [h * D + 2 * i + j, h * D + j * (D / 2) + i]);
}

/** Copies rows; `map` gives [destination row, source row] for head h, pair i, half j. */
function reorderRows(t: HostTensor, nHeads: number, map: (h: number, D: number, i: number, j: number) => [number, number]): HostTensor {
  const rows = t.shape[0];
  if (t.shape.length < 1 || rows % nHeads !== 0 || (rows / nHeads) % 2 !== 0) {
    throw new Error(`RoPE row permutation needs rows (${rows}) divisible by 2 × n_heads (${nHeads})`);
  }
  const D = rows / nHeads;
  const src = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const rowBytes = src.byteLength / rows;
  const out = new Uint8Array(src.byteLength);
  for (let h = 0; h < nHeads; h++) {
    for (let i = 0; i < D / 2; i++) {
      for (let j = 0; j < 2; j++) {
        const [to, from] = map(h, D, i, j);
        out.set(src.subarray(from * rowBytes, (from + 1) * rowBytes), to * rowBytes);
      }
    }
  }
  return tensor(t.dtype, t.shape, retype(t, out));
}

function retype(t: HostTensor, bytes: Uint8Array<ArrayBuffer>): HostTensor['data'] {
  const Ctor = t.data.constructor as new (b: ArrayBuffer, o: number, n: number) => HostTensor['data'];
  return new Ctor(bytes.buffer, 0, t.data.length);
}
