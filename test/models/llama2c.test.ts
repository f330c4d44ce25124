import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { f32ToF16, tensor } from '../../ir/tensor.js';
import { openGguf } from '../../models/formats/gguf.js';
import { permuteRopeRows, unpermuteRopeRows } from '../../models/formats/gguf-permute.js';
import { type Llama2cHeader, LLAMA2C_MAGIC, Llama2cStore, llama2cFileBytes, openLlama2c } from '../../models/formats/llama2c.js';
import { openSafetensors } from '../../models/formats/safetensors.js';
import { MemorySource } from '../../models/formats/source.js';
import { hasShared, sharedPath } from '../helpers/shared.js';
import { expectFormatError } from './errors.js';
import { Bytes } from './writers.js';

type Dims = Pick<Llama2cHeader, 'dim' | 'hiddenDim' | 'nLayers' | 'nHeads' | 'nKvHeads' | 'vocabSize' | 'seqLen'>;
const SMALL: Dims = { dim: 8, hiddenDim: 12, nLayers: 2, nHeads: 2, nKvHeads: 1, vocabSize: 5, seqLen: 3 };

/** A checkpoint whose i-th float is i, so every tensor's position in the file is visible. */
function checkpoint(version: 0 | 1, shared: boolean, d: Dims = SMALL): Uint8Array {
  const h: Llama2cHeader = { ...d, version, sharedClassifier: shared, headerBytes: version === 1 ? 256 : 28 };
  const b = new Bytes();
  if (version === 1) b.u32(LLAMA2C_MAGIC).i32(1);
  for (const v of [d.dim, d.hiddenDim, d.nLayers, d.nHeads, d.nKvHeads, version === 0 && !shared ? -d.vocabSize : d.vocabSize, d.seqLen]) b.i32(v);
  if (version === 1) b.u8(shared ? 1 : 0).pad(256);
  const floats = (llama2cFileBytes(h) - h.headerBytes) / 4;
  for (let i = 0; i < floats; i++) b.f32(i);
  return b.build();
}

const first = (s: Llama2cStore, name: string) => (s.read(name).data as Float32Array)[0];

describe('llama2c: checkpoints written here', () => {
  it('v0 layout: embedding first, RoPE tables skipped, classifier last when unshared', () => {
    const s = new Llama2cStore(new MemorySource('v0.bin', checkpoint(0, false)));
    const { dim: D, hiddenDim: H, vocabSize: V, seqLen: T } = SMALL;
    const kv = 4; // n_kv_heads × head_size
    expect(s.header).toMatchObject({ version: 0, vocabSize: V, sharedClassifier: false });
    expect(first(s, 'tok_embeddings.weight')).toBe(0);
    expect(first(s, 'layers.0.attention_norm.weight')).toBe(V * D);
    expect(first(s, 'layers.1.attention_norm.weight')).toBe(V * D + D);
    expect(first(s, 'layers.0.attention.wq.weight')).toBe(V * D + 2 * D);
    expect(first(s, 'layers.0.attention.wk.weight')).toBe(V * D + 2 * D + 2 * D * D);
    expect(s.info('layers.1.attention.wk.weight').shape).toEqual([kv, D]);
    expect(s.info('layers.1.feed_forward.w2.weight').shape).toEqual([D, H]);
    const norm = V * D + 2 * D + 2 * D * D + 4 * kv * D + 2 * D * D + 2 * D + 6 * D * H;
    expect(first(s, 'norm.weight')).toBe(norm);
    expect(first(s, 'output.weight')).toBe(norm + D + 2 * T * 2); // after freq_cis_real/imag, [T, head_size / 2] each
    expect(s.names()).toHaveLength(2 * 9 + 3); // 9 per layer, embedding, final norm, classifier
  });

  it('v1 layout: norms first, shared classifier flag from the header byte', () => {
    const s = new Llama2cStore(new MemorySource('v1.bin', checkpoint(1, true)));
    const { dim: D, nLayers: L, vocabSize: V } = SMALL;
    expect(s.header).toMatchObject({ version: 1, sharedClassifier: true, headerBytes: 256 });
    expect(first(s, 'layers.0.attention_norm.weight')).toBe(0);
    expect(first(s, 'layers.0.ffn_norm.weight')).toBe(L * D);
    expect(first(s, 'norm.weight')).toBe(2 * L * D);
    expect(first(s, 'tok_embeddings.weight')).toBe(2 * L * D + D);
    expect(first(s, 'layers.0.attention.wq.weight')).toBe(2 * L * D + D + V * D);
    expect(s.has('output.weight')).toBe(false);
    const unshared = new Llama2cStore(new MemorySource('v1u.bin', checkpoint(1, false)));
    expect(unshared.has('output.weight')).toBe(true);
  });

  it('file size must match the header exactly', () => {
    const b = checkpoint(0, true);
    expectFormatError(() => new Llama2cStore(new MemorySource('short.bin', b.slice(0, b.length - 4))), 'short.bin', `implies ${b.length} bytes`, `has ${b.length - 4}`);
    const big = new Uint8Array(b.length + 1);
    big.set(b);
    expectFormatError(() => new Llama2cStore(new MemorySource('long.bin', big)), `has ${b.length + 1}`);
  });

  it('rejects implausible headers and other versions', () => {
    const b = checkpoint(0, true);
    new DataView(b.buffer).setInt32(12, 3, true); // n_heads = 3 does not divide dim 8
    expectFormatError(() => new Llama2cStore(new MemorySource('h.bin', b)), 'implausible header', 'n_heads');
    const v2 = checkpoint(1, true);
    new DataView(v2.buffer).setInt32(4, 2, true);
    expectFormatError(() => new Llama2cStore(new MemorySource('q.bin', v2)), 'version 2', 'at byte 4');
    expectFormatError(() => new Llama2cStore(new MemorySource('tiny.bin', new Uint8Array(10))), 'less than a llama2.c header');
  });
});

describe.runIf(hasShared('models', 'stories260K', 'stories260K.bin'))('llama2c: stories260K.bin', () => {
  // Opened in a hook: vitest runs this body even when the suite is skipped.
  let bin: Llama2cStore;
  beforeAll(() => { bin = openLlama2c(sharedPath('models', 'stories260K', 'stories260K.bin')); });

  it('header', () => {
    expect(bin.header).toEqual({
      version: 0, dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, seqLen: 512,
      sharedClassifier: true, headerBytes: 28,
    });
    expect(bin.has('output.weight')).toBe(false);
    expect(bin.info('layers.4.attention.wk.weight')).toEqual({ dtype: 'f32', shape: [32, 64] });
  });

  it.runIf(hasShared('models', 'stories260K', 'stories260K.gguf'))('equals stories260K.gguf tensor for tensor (no RoPE permutation there)', () => {
    const gguf = openGguf(sharedPath('models', 'stories260K', 'stories260K.gguf'));
    const pairs: [string, string][] = [
      ['tok_embeddings.weight', 'token_embd.weight'],
      ['tok_embeddings.weight', 'output.weight'],
      ['norm.weight', 'output_norm.weight'],
    ];
    const perLayer: [string, string][] = [
      ['attention_norm.weight', 'attn_norm.weight'], ['attention.wq.weight', 'attn_q.weight'], ['attention.wk.weight', 'attn_k.weight'],
      ['attention.wv.weight', 'attn_v.weight'], ['attention.wo.weight', 'attn_output.weight'], ['ffn_norm.weight', 'ffn_norm.weight'],
      ['feed_forward.w1.weight', 'ffn_gate.weight'], ['feed_forward.w2.weight', 'ffn_down.weight'], ['feed_forward.w3.weight', 'ffn_up.weight'],
    ];
    for (let l = 0; l < 5; l++) for (const [a, b] of perLayer) pairs.push([`layers.${l}.${a}`, `blk.${l}.${b}`]);
    for (const [ours, theirs] of pairs) {
      const x = bin.read(ours);
      const y = gguf.read(theirs);
      expect(y.shape, theirs).toEqual(x.shape);
      expect(Buffer.from(y.data.buffer).equals(Buffer.from(x.data.buffer)), `${ours} = ${theirs}`).toBe(true);
    }
    // llama2.c is already in llama.cpp's interleaved RoPE order: un-permuting would change wq.
    const wq = bin.read('layers.0.attention.wq.weight').data as Float32Array;
    expect(Array.from(unpermuteRopeRows(gguf.read('blk.0.attn_q.weight'), 8).data)).not.toEqual(Array.from(wq));
  });
});

describe('gguf-permute', () => {
  it('unpermute undoes permute for any dtype and head count', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 5 }), (heads, halfDim, cols) => {
        const rows = heads * halfDim * 2;
        const t = tensor('f32', [rows, cols], Float32Array.from({ length: rows * cols }, (_, i) => i));
        const p = permuteRopeRows(t, heads);
        expect(Array.from(unpermuteRopeRows(p, heads).data)).toEqual(Array.from(t.data));
        const h = tensor('f16', [rows, cols], Uint16Array.from({ length: rows * cols }, (_, i) => i));
        expect(Array.from(unpermuteRopeRows(permuteRopeRows(h, heads), heads).data)).toEqual(Array.from(h.data));
      }),
    );
  });

  it('permute pairs element i of a head with element i + D/2 (HF halves → interleaved)', () => {
    // One head of dim 4, one column: HF rows [a0 a1 b0 b1] → GGUF rows [a0 b0 a1 b1].
    const t = tensor('f32', [4, 1], Float32Array.of(10, 11, 20, 21));
    expect(Array.from(permuteRopeRows(t, 1).data)).toEqual([10, 20, 11, 21]);
    expect(() => permuteRopeRows(t, 3)).toThrow(/divisible/);
  });

  it.runIf(hasShared('models', 'tinystories-656k', 'TinyStories-656K.f16.gguf'))('undoes llama.cpp\'s permutation of TinyStories attn_q / attn_k exactly', () => {
    const gguf = openGguf(sharedPath('models', 'tinystories-656k', 'TinyStories-656K.f16.gguf'));
    const st = openSafetensors(sharedPath('models', 'tinystories-656k', 'model.safetensors'));
    for (let l = 0; l < 2; l++) {
      for (const [g, hf, heads] of [['attn_q', 'q_proj', 8], ['attn_k', 'k_proj', 4]] as const) {
        const ref = Uint16Array.from(st.read(`model.layers.${l}.self_attn.${hf}.weight`).data as Float32Array, f32ToF16);
        const raw = gguf.read(`blk.${l}.${g}.weight`);
        expect(Array.from(raw.data), `${g} is stored permuted`).not.toEqual(Array.from(ref));
        expect(Array.from(unpermuteRopeRows(raw, heads).data), `${g} layer ${l}`).toEqual(Array.from(ref));
      }
      const v = gguf.read(`blk.${l}.attn_v.weight`).data;
      const refV = Uint16Array.from(st.read(`model.layers.${l}.self_attn.v_proj.weight`).data as Float32Array, f32ToF16);
      expect(Array.from(v)).toEqual(Array.from(refV));
    }
  });
});
