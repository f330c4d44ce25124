import { beforeAll, describe, expect, it } from 'vitest';
import { f16ToF32, f32ToF16, toF32 } from '../../ir/tensor.js';
import { GgufStore, openGguf } from '../../models/formats/gguf.js';
import { MemorySource } from '../../models/formats/source.js';
import { openSafetensors } from '../../models/formats/safetensors.js';
import { isReadable } from '../../models/formats/store.js';
import { hasShared, sharedPath } from '../helpers/shared.js';
import { expectFormatError } from './errors.js';
import { Bytes, bytesOf, ggufBytes } from './writers.js';

const tiny = (...p: string[]) => sharedPath('models', 'tinystories-656k', ...p);
const open = (bytes: Uint8Array, name = 'mem.gguf') => new GgufStore(new MemorySource(name, bytes));

describe('gguf: files written here', () => {
  it('reads every metadata value type, v2 and v3', () => {
    for (const version of [2, 3]) {
      const g = open(ggufBytes({
        version,
        kv: [
          ['u8', 0, 200], ['i8', 1, -5], ['u16', 2, 65000], ['i16', 3, -300], ['u32', 4, 4e9], ['i32', 5, -7],
          ['f32', 6, 0.5], ['bool', 7, true], ['str', 8, 'héllo'], ['u64', 10, 2n ** 60n], ['i64', 11, -3n], ['f64', 12, Math.PI],
          ['strs', 9, [8, ['a', '', '▁b']]],
          ['f32s', 9, [6, [1, 2.5]]],
          ['bools', 9, [7, [true, false]]],
          ['nested', 9, [9, [[4, [1, 2]], [8, ['x']]]]],
        ],
      }));
      expect(g.version).toBe(version);
      const m = g.metadata;
      expect([m.get('u8'), m.get('i8'), m.get('u16'), m.get('i16'), m.get('u32'), m.get('i32')]).toEqual([200, -5, 65000, -300, 4e9, -7]);
      expect([m.get('f32'), m.get('bool'), m.get('str'), m.get('u64'), m.get('i64'), m.get('f64')]).toEqual([0.5, true, 'héllo', 2n ** 60n, -3n, Math.PI]);
      expect(m.getStrings('strs')).toEqual(['a', '', '▁b']);
      expect(m.get('f32s')).toBeInstanceOf(Float32Array);
      expect(Array.from(m.getNumbers('f32s')!)).toEqual([1, 2.5]);
      expect(m.get('bools')).toEqual([true, false]);
      const nested = m.get('nested') as unknown[];
      expect(Array.from(nested[0] as Uint32Array)).toEqual([1, 2]);
      expect(nested[1]).toEqual(['x']);
      expect(m.typeOf('nested')).toEqual({ array: { array: 'u32' } });
      expect(m.getNumber('i64')).toBe(-3);
      expectFormatError(() => m.getNumber('u64'), 'mem.gguf', '"u64"');
      expectFormatError(() => m.getString('u8'), '"u8" is u8, expected a string');
      expect(m.getString('absent')).toBeUndefined();
    }
  });

  it('reverses dims into a row-major shape and honours general.alignment', () => {
    const data = Float32Array.from({ length: 6 }, (_, i) => i);
    const bytes = ggufBytes({
      alignment: 64,
      kv: [['general.alignment', 4, 64]],
      tensors: [
        { name: 'a', dims: [3, 2], typeId: 0, data: bytesOf(data) },
        { name: 'h', dims: [2], typeId: 1, data: bytesOf(Uint16Array.of(f32ToF16(1.5), f32ToF16(-2))) },
      ],
    });
    const g = open(bytes);
    expect(g.alignment).toBe(64);
    expect(g.dataOffset % 64).toBe(0);
    expect(g.tensorInfo('a').dims).toEqual([3, 2]);
    expect(g.info('a')).toEqual({ dtype: 'f32', shape: [2, 3] });
    expect(Array.from(g.read('a').data)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(g.tensorInfo('h').offset).toBe(g.dataOffset + 64);
    expect(Array.from(g.read('h').data as Uint16Array, f16ToF32)).toEqual([1.5, -2]);
  });

  describe('positioned errors', () => {
    it('bad magic, unsupported versions', () => {
      const good = ggufBytes({});
      const b = good.slice();
      b[0] = 0x47 ^ 1;
      expectFormatError(() => open(b), 'mem.gguf', 'not a GGUF file');
      const v1 = good.slice();
      v1[4] = 1;
      expectFormatError(() => open(v1), 'version 1', 'at byte 4');
      const be = good.slice();
      be.set([0, 0, 0, 3], 4);
      expectFormatError(() => open(be), 'big-endian');
    });
    it('counts too large for the file', () => {
      const b = new Bytes().u32(0x46554747).u32(3).u64(2n ** 62n).u64(0).build();
      expectFormatError(() => open(b), 'tensor count', 'at byte 8');
      const kv = ggufBytes({ kv: [['a', 9, [4, [1, 2, 3]]]] });
      new DataView(kv.buffer).setBigUint64(24 + 8 + 1 + 4 + 4, 2n ** 40n, true); // the array's element count
      expectFormatError(() => open(kv), 'metadata "a" element count', 'remaining bytes');
    });
    it('strings longer than the file', () => {
      const b = ggufBytes({ kv: [['key', 8, 'value']] });
      new DataView(b.buffer).setBigUint64(24, 1000n, true); // the key's length
      expectFormatError(() => open(b), 'metadata key #0 length is 1000', 'at byte 24');
    });
    it('unknown value type, bad bool, duplicate keys, deep nesting', () => {
      const t = ggufBytes({ kv: [['k', 4, 1]] });
      new DataView(t.buffer).setUint32(24 + 8 + 1, 13, true);
      expectFormatError(() => open(t), 'metadata "k" has unknown value type 13', 'at byte 33');
      const bool = ggufBytes({ kv: [['k', 7, true]] });
      bool[24 + 8 + 1 + 4] = 2;
      expectFormatError(() => open(bool), 'bool byte is 2');
      expectFormatError(() => open(ggufBytes({ kv: [['k', 4, 1], ['k', 4, 2]] })), 'metadata key "k" appears twice');
      let deep: unknown = [4, [1]];
      for (let i = 0; i < 20; i++) deep = [9, [deep]];
      expectFormatError(() => open(ggufBytes({ kv: [['deep', 9, deep]] })), 'nested deeper');
    });
    it('tensor data past the end, misaligned offsets, partial blocks', () => {
      const t = { name: 'w', dims: [32, 2], typeId: 8, data: new Uint8Array(68) };
      const good = ggufBytes({ tensors: [t] });
      expect(open(good).info('w')).toEqual({ dtype: 'q8_0', shape: [2, 32] });
      expectFormatError(() => open(good.slice(0, good.length - 40)), 'tensor "w" data (68 bytes', 'past the end');
      expectFormatError(() => open(ggufBytes({ tensors: [{ ...t, dims: [30, 2] }] })), 'tensor "w" row length 30', 'Q8_0 block size 32');
      const mis = good.slice();
      const offsetAt = 24 + 8 + 1 + 4 + 16 + 4;
      new DataView(mis.buffer).setBigUint64(offsetAt, 4n, true);
      expectFormatError(() => open(mis), 'tensor "w" data offset 4 is not a multiple of the alignment 32');
      const dims = good.slice();
      new DataView(dims.buffer).setUint32(24 + 8 + 1, 9, true);
      expectFormatError(() => open(dims), 'tensor "w" has 9 dimensions');
    });
    it('unknown ggml type ids are listed, but cannot be read', () => {
      const g = open(ggufBytes({ tensors: [{ name: 'z', dims: [4], typeId: 99, data: new Uint8Array(16) }] }));
      expect(g.info('z').dtype).toBe('type 99');
      expectFormatError(() => g.read('z'), 'tensor "z"', 'type 99');
    });
  });
});

describe.runIf(hasShared('models', 'stories260K', 'stories260K.gguf'))('gguf: stories260K.gguf', () => {
  // Opened in a hook: vitest runs this body even when the suite is skipped.
  let g: GgufStore;
  beforeAll(() => { g = openGguf(sharedPath('models', 'stories260K', 'stories260K.gguf')); });
  it('metadata', () => {
    expect(g.version).toBe(3);
    const m = g.metadata;
    expect(m.getString('general.architecture')).toBe('llama');
    expect(m.getNumber('llama.embedding_length')).toBe(64);
    expect(m.getNumber('llama.block_count')).toBe(5);
    expect(m.getNumber('llama.attention.head_count')).toBe(8);
    expect(m.getNumber('llama.attention.head_count_kv')).toBe(4);
    expect(m.getNumber('llama.feed_forward_length')).toBe(172);
    expect(m.getNumber('llama.context_length')).toBe(2048);
    expect(m.getNumber('llama.attention.layer_norm_rms_epsilon')).toBeCloseTo(1e-5, 10);
    expect(m.getStrings('tokenizer.ggml.tokens')).toHaveLength(512);
  });
  it('tensors', () => {
    expect(g.names()).toHaveLength(3 + 5 * 9);
    expect(g.info('token_embd.weight')).toEqual({ dtype: 'f32', shape: [512, 64] });
    expect(g.info('blk.4.attn_k.weight')).toEqual({ dtype: 'f32', shape: [32, 64] });
    expect(g.info('blk.0.ffn_down.weight')).toEqual({ dtype: 'f32', shape: [64, 172] });
    expect(g.read('blk.0.ffn_up.weight').data).toHaveLength(172 * 64);
  });
});

describe.runIf(hasShared('models', 'tinystories-656k', 'TinyStories-656K.f16.gguf'))('gguf: TinyStories-656K F16 / Q8_0 / IQ4_NL', () => {
  // Opened in a hook: vitest runs this body even when the suite is skipped.
  let f16: GgufStore, q8: GgufStore;
  beforeAll(() => {
    f16 = openGguf(tiny('TinyStories-656K.f16.gguf'));
    q8 = openGguf(tiny('TinyStories-656K-Q8_0.gguf'));
  });

  it('metadata of the F16 file', () => {
    const m = f16.metadata;
    expect(m.getString('general.architecture')).toBe('llama');
    expect(m.getNumber('llama.context_length')).toBe(512);
    expect(m.getNumber('llama.embedding_length')).toBe(128);
    expect(m.getNumber('llama.rope.freq_base')).toBe(10000);
    expect(m.getNumber('general.file_type')).toBe(1);
    expect(m.typeOf('tokenizer.ggml.scores')).toEqual({ array: 'f32' });
    expect(m.getBool('tokenizer.ggml.add_bos_token')).toBe(true);
  });

  it('shapes and types', () => {
    expect(f16.info('token_embd.weight')).toEqual({ dtype: 'f16', shape: [2048, 128] });
    expect(q8.info('token_embd.weight')).toEqual({ dtype: 'q8_0', shape: [2048, 128] });
    expect(q8.info('blk.1.ffn_down.weight')).toEqual({ dtype: 'q8_0', shape: [128, 384] });
    expect(q8.info('output_norm.weight')).toEqual({ dtype: 'f32', shape: [128] });
    expect(new Set(q8.names())).toEqual(new Set(f16.names()));
  });

  it('Q8_0 tensors dequantize to the F16 values within half a quantization step', () => {
    for (const name of q8.names()) {
      const q = q8.read(name);
      if (q.dtype !== 'q8_0') continue;
      const ref = toF32(f16.read(name));
      const got = toF32(q);
      const blocks = q.data as Uint8Array;
      const view = new DataView(blocks.buffer, blocks.byteOffset);
      let worst = -Infinity; // error minus its bound, over all elements
      for (let b = 0; b < got.length / 32; b++) {
        const step = f16ToF32(view.getUint16(b * 34, true));
        for (let i = b * 32; i < b * 32 + 32; i++) {
          worst = Math.max(worst, Math.abs(got[i] - ref[i]) - (step / 2 + Math.abs(ref[i]) * 2 ** -10));
        }
      }
      expect(worst, name).toBeLessThanOrEqual(0);
    }
  });

  it('F16 token embedding equals the safetensors weights rounded to f16 (the model ties it to lm_head)', () => {
    const st = openSafetensors(tiny('model.safetensors'));
    const ref = st.read('lm_head.weight').data as Float32Array;
    const got = f16.read('token_embd.weight').data as Uint16Array;
    expect(got).toHaveLength(ref.length);
    const mismatches = ref.filter((x, i) => got[i] !== f32ToF16(x)).length;
    expect(mismatches).toBe(0);
  });

  it('IQ4_NL tensors read as iq4_nl blocks, as stored', () => {
    const iq = openGguf(tiny('TinyStories-656K-IQ4_NL.gguf'));
    expect(iq.info('blk.0.attn_q.weight')).toEqual({ dtype: 'iq4_nl', shape: [128, 128] });
    expect(isReadable(iq.info('blk.0.attn_q.weight'))).toBe(true);
    expect(iq.readRaw('blk.0.attn_q.weight')).toHaveLength(128 * 4 * 18);
    expect(iq.read('blk.0.attn_q.weight').dtype).toBe('iq4_nl');
    expect(iq.read('token_embd.weight').dtype).toBe('q8_0');
  });
});
