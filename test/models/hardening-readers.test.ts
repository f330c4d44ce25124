// Issue 18, the readers' part: every case is a file generated here from the shared reference
// models (never a committed binary), and each must be refused with a typed error that names what
// is wrong; the fast-check properties mutate files the way the fuzzing campaign did and require
// that readers throw nothing but a TesseraError.
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { ModelFormatError, TesseraError } from '../../ir/errors.js';
import { configFromGguf } from '../../models/config/gguf.js';
import { configFromHf } from '../../models/config/hf.js';
import { ConfigError } from '../../models/config/model-config.js';
import { GgufStore } from '../../models/formats/gguf.js';
import { Llama2cStore } from '../../models/formats/llama2c.js';
import { openSafetensors, SafetensorsStore } from '../../models/formats/safetensors.js';
import { MemorySource } from '../../models/formats/source.js';
import { openModel } from '../../models/open.js';
import { loadTokenizer } from '../../models/tokenizers/load.js';
import { Model } from '../../src/model.js';
import { hasShared, sharedPath } from '../helpers/shared.js';
import { safetensorsBytes } from './writers.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'tessera-harden-'));

/** A copy of a shared reference model with its config edited (and optionally its tensors). */
function refModel(arch: string, edit: (c: Record<string, unknown>) => void = () => {}): string {
  const dir = tmp();
  const config = JSON.parse(readFileSync(sharedPath('refs', arch, 'config.json'), 'utf8')) as Record<string, unknown>;
  edit(config);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  copyFileSync(sharedPath('refs', arch, 'model.safetensors'), join(dir, 'model.safetensors'));
  return dir;
}

function refConfig(arch: string): Record<string, unknown> {
  return JSON.parse(readFileSync(sharedPath('refs', arch, 'config.json'), 'utf8')) as Record<string, unknown>;
}

/** Runs `f`; returns the error it threw (undefined if none). */
function thrown(f: () => unknown): unknown {
  try {
    f();
    return undefined;
  } catch (e) {
    return e;
  }
}

/** Overwrites the value of a GGUF u32 metadata key in place (key, type id 4, value). */
function patchGgufU32(bytes: Uint8Array, key: string, value: number): Uint8Array {
  const out = bytes.slice();
  const k = new TextEncoder().encode(key);
  const at = Buffer.from(out).indexOf(Buffer.from(k));
  if (at < 0) throw new Error(`test setup: key ${key} not in the file`);
  const dv = new DataView(out.buffer);
  expect(dv.getUint32(at + k.length, true)).toBe(4);
  dv.setUint32(at + k.length + 4, value, true);
  return out;
}

const haveRefs = hasShared('refs');
const haveStories = hasShared('models', 'stories260K');

describe.skipIf(!haveRefs)('item 2: fused tensors are covered exactly by their slices', () => {
  it('Phi-3 qkv_proj with num_key_value_heads changed is refused, naming the tensor and both row counts', () => {
    const e = thrown(() => Model.load(refModel('phi3', (c) => { c.num_key_value_heads = 1; })));
    expect(e).toBeInstanceOf(ModelFormatError);
    expect((e as Error).message).toMatch(/tensor "model\.layers\.0\.self_attn\.qkv_proj\.weight" has 128 rows, but the config .* reads 96 of them .*: 32 would be ignored/);
  });

  it('the unchanged Phi-3 still loads', () => {
    expect(Model.load(refModel('phi3')).config.numKvHeads).toBe(2);
  });

  it('a config needing more rows than the fused tensor has is a ModelFormatError naming the slice', () => {
    const e = thrown(() => Model.load(refModel('phi3', (c) => { c.num_key_value_heads = 4; })));
    expect(e).toBeInstanceOf(ModelFormatError);
    expect((e as Error).message).toMatch(/qkv_proj\.weight.*out of range/);
  });
});

describe.skipIf(!haveRefs)('item 3: integer tensors are not weights', () => {
  it('a safetensors v_proj stored as I32 is refused when the parameter is bound', () => {
    const dir = refModel('llama');
    const store = openSafetensors(join(dir, 'model.safetensors'));
    writeFileSync(join(dir, 'model.safetensors'), safetensorsBytes(store.names().map((name) => {
      const t = store.read(name);
      const asInt = name === 'model.layers.0.self_attn.v_proj.weight';
      return { name, dtype: asInt ? 'I32' : 'F32', shape: [...t.shape], data: asInt ? new Int32Array(t.data.length) : t.data };
    })));
    const e = thrown(() => Model.load(dir));
    expect(e).toBeInstanceOf(ModelFormatError);
    expect((e as Error).message).toMatch(/tensor "model\.layers\.0\.self_attn\.v_proj\.weight" \(for %l0\.wv\) is stored as i32, an integer type/);
  });
});

describe.skipIf(!haveRefs)('items 4 and 10: config values are range-checked at load, naming the key', () => {
  it.each<[string, unknown, RegExp]>([
    ['rms_norm_eps', -1e-5, /rms_norm_eps is -0\.00001; the norm epsilon must be a finite number > 0/],
    ['rms_norm_eps', 0, /rms_norm_eps is 0/],
    ['max_position_embeddings', -512, /max_position_embeddings is -512; it must be a whole number from 1 to/],
    ['max_position_embeddings', 0, /max_position_embeddings is 0/],
    ['max_position_embeddings', 2 ** 40, /max_position_embeddings is 1099511627776/],
    ['num_hidden_layers', 2 ** 53, /num_hidden_layers is 9007199254740992/],
    ['hidden_size', 64.5, /hidden_size is 64\.5/],
    ['rope_theta', 0, /rope_theta is 0; the RoPE base must be a finite number > 0/],
    ['vocab_size', 'many', /"vocab_size" must be a number/],
    ['bos_token_id', 1000, /bos_token_id is 1000, outside the vocabulary/],
  ])('%s = %j', (key, value, message) => {
    const e = thrown(() => configFromHf({ ...refConfig('llama'), [key]: value }));
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as Error).message).toMatch(message);
  });

  it('a huge exponent in config.json (JSON Infinity) is refused', () => {
    const dir = refModel('llama');
    writeFileSync(join(dir, 'config.json'), readFileSync(join(dir, 'config.json'), 'utf8').replace(/"rms_norm_eps":[^,}]+/, '"rms_norm_eps":1e999'));
    expect(() => openModel(dir)).toThrow(/"rms_norm_eps" must be a number, got null/);
    expect(thrown(() => openModel(dir))).toBeInstanceOf(ConfigError);
  });

  it('rope scaling fields must be complete and typed', () => {
    const base = refConfig('llama');
    expect(() => configFromHf({ ...base, rope_scaling: { rope_type: 'llama3', low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 } })).toThrow(/missing "factor"/);
    expect(() => configFromHf({ ...base, rope_scaling: { rope_type: 'llama3', factor: -8, original_max_position_embeddings: 64 } })).toThrow(/rope_scaling\.factor is -8/);
    expect(() => configFromHf({ ...base, rope_scaling: { rope_type: 'llama3', factor: 8, original_max_position_embeddings: 0 } })).toThrow(/original_max_position_embeddings is 0/);
    expect(configFromHf({ ...base, rope_scaling: { rope_type: 'llama3', factor: 8, original_max_position_embeddings: 64 } }).rope?.scaling.type).toBe('llama3');
  });
});

describe.skipIf(!haveRefs)('item 4: safetensors tensors tile the data section', () => {
  const file = () => new Uint8Array(readFileSync(sharedPath('refs', 'llama', 'model.safetensors')));
  const open = (b: Uint8Array) => new SafetensorsStore(new MemorySource('m.safetensors', b));

  it('the reference file opens', () => {
    expect(open(file()).names().length).toBeGreaterThan(0);
  });

  it('a header length shifted by whitespace leaves bytes no tensor owns', () => {
    const b = file();
    const n = Number(new DataView(b.buffer).getBigUint64(0, true));
    // Shifting the header length by 8 moves every offset: the header then ends in data bytes.
    const shifted = b.slice();
    new DataView(shifted.buffer).setBigUint64(0, BigInt(n - 8), true);
    expect(thrown(() => open(shifted))).toBeInstanceOf(ModelFormatError);
  });

  it('bytes appended after the last tensor are refused, naming how many', () => {
    const b = file();
    const longer = new Uint8Array(b.length + 16);
    longer.set(b);
    expect(() => open(longer)).toThrow(/16 bytes after the last tensor belong to no tensor/);
  });

  it('a gap between tensors is refused', () => {
    const a = new Float32Array(4), c = new Float32Array(4);
    const ok = safetensorsBytes([{ name: 'a', dtype: 'F32', shape: [4], data: a }, { name: 'c', dtype: 'F32', shape: [4], data: c }]);
    const text = new TextDecoder().decode(ok);
    const gap = new TextEncoder().encode(text.replace('"data_offsets":[16,32]', '"data_offsets":[20,36]'));
    const padded = new Uint8Array(gap.length + 4);
    padded.set(gap);
    expect(() => open(padded)).toThrow(/4 bytes before tensor "c" belong to no tensor/);
  });
});

describe.skipIf(!haveStories)('item 7: declared counts are checked against what the file holds', () => {
  const gguf = () => new Uint8Array(readFileSync(sharedPath('models', 'stories260K', 'stories260K.gguf')));
  const write = (name: string, b: Uint8Array) => {
    const path = join(tmp(), name);
    writeFileSync(path, b);
    return path;
  };

  it('block_count = 1000000 in a small GGUF fails fast with a ConfigError naming the key', () => {
    const path = write('inflated.gguf', patchGgufU32(gguf(), 'llama.block_count', 1_000_000));
    const t0 = performance.now();
    const e = thrown(() => openModel(path));
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as Error).message).toMatch(/llama\.block_count is 1000000/);
  });

  it('a block_count within limits but beyond the tensors present is refused before any graph is built', () => {
    const e = thrown(() => openModel(write('more.gguf', patchGgufU32(gguf(), 'llama.block_count', 4000))));
    expect((e as Error).message).toMatch(/declares 4000 layers but the file holds tensors for 5/);
  });

  it('a block_count below the tensors present (layers silently dropped) is refused', () => {
    expect(() => openModel(write('fewer.gguf', patchGgufU32(gguf(), 'llama.block_count', 2)))).toThrow(/declares 2 layers but the file holds tensors for 5/);
  });

  it('a GGUF tensor whose type is swapped (F32 → BF16: half the bytes) no longer tiles the data and is refused', () => {
    const b = gguf();
    const name = new TextEncoder().encode('blk.0.attn_k.weight');
    const at = Buffer.from(b).indexOf(Buffer.from(name)) + name.length;
    const dv = new DataView(b.buffer);
    const typeAt = at + 4 + 8 * dv.getUint32(at, true);
    expect(dv.getUint32(typeAt, true)).toBe(0); // F32
    dv.setUint32(typeAt, 30, true); // BF16
    expect(() => openModel(write('swapped.gguf', b))).toThrow(/data starts at byte \d+, but the tensors before it end at \d+/);
  });

  it('a GGUF context length of 0 is refused naming the key', () => {
    expect(() => openModel(write('ctx.gguf', patchGgufU32(gguf(), 'llama.context_length', 0)))).toThrow(/llama\.context_length is 0/);
  });

  it('a llama2.c header with a huge n_layers fails on the file size before any layout', () => {
    const b = new Uint8Array(readFileSync(sharedPath('models', 'stories260K', 'stories260K.bin')));
    new DataView(b.buffer).setInt32(8, 1 << 24, true); // v0: dim, hidden_dim, n_layers, …
    const t0 = performance.now();
    const e = thrown(() => new Llama2cStore(new MemorySource('big.bin', b)));
    expect(performance.now() - t0).toBeLessThan(3000);
    expect((e as Error).message).toMatch(/the header implies \d+ bytes .* but the file has \d+/);
  });
});

describe.skipIf(!haveStories)('NaN or Inf stored in a weight is refused when the weight is read', () => {
  it.each([NaN, Infinity, -Infinity])('llama2.c embedding element = %s', async (v) => {
    const b = new Uint8Array(readFileSync(sharedPath('models', 'stories260K', 'stories260K.bin')));
    new DataView(b.buffer).setFloat32(28 + 4 * 5, v, true); // v0 header, then tok_embeddings
    const path = join(tmp(), 'nan.bin');
    writeFileSync(path, b);
    const run = async () => {
      const m = Model.load(path);
      await m.logits([1, 2]);
    };
    await expect(run()).rejects.toThrow(/nan\.bin: tensor "tok_embeddings\.weight" holds a NaN or infinite value \(element 5\)/);
  });
});

describe.skipIf(!haveStories)('item 6: a tokenizer must fit the model', () => {
  it('a tokenizer with more tokens than the model is refused, naming both sizes and both files', () => {
    const tok = sharedPath('models', 'tinystories-656k', 'tokenizer.json');
    const e = thrown(() => loadTokenizer(tok, { vocabSize: 512, model: { path: 'stories260K.bin' } }));
    expect(e).toBeInstanceOf(ModelFormatError);
    expect((e as Error).message).toMatch(/tokenizer\.json: the tokenizer has 2048 tokens but the model \(stories260K\.bin\) has 512/);
  });

  it('a tokenizer far smaller than the embedding is refused; padding rows are not', () => {
    const tok = sharedPath('models', 'stories260K', 'tok512.bin');
    expect(() => loadTokenizer(sharedPath('models', 'tinystories-656k', 'tokenizer.json'), { vocabSize: 32000 })).toThrow(/has 2048 tokens but the model has 32000/);
    expect(loadTokenizer(sharedPath('models', 'tinystories-656k', 'tokenizer.json'), { vocabSize: 2048 + 64 }).vocabSize).toBe(2048);
    expect(loadTokenizer(tok, { vocabSize: 512 }).vocabSize).toBe(512);
  });

  it('a llama2.c tokenizer.bin holding more tokens than the model is refused', () => {
    expect(() => loadTokenizer(sharedPath('models', 'stories260K', 'tok512.bin'), { vocabSize: 300 })).toThrow(/vocab_size is 300 but the file holds more tokens/);
  });

  it('Model.load with --tokenizer of another model refuses it on first use', () => {
    const m = Model.load(sharedPath('models', 'stories260K', 'stories260K.bin'), { tokenizer: sharedPath('models', 'tinystories-656k', 'tokenizer.json') });
    expect(() => m.tokenizer).toThrow(/tokenizer\.json: the tokenizer has 2048 tokens but the model \(.*stories260K\.bin\) has 512/);
  });

  it("the models' own tokenizers raise no special-id warning (llama2.c stops at BOS by convention)", () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      for (const f of ['stories260K.bin', 'stories260K.gguf']) expect(Model.load(sharedPath('models', 'stories260K', f)).tokenizer.vocabSize).toBe(512);
      expect(warn).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
    }
  });

  it('special ids that disagree are warned about, not refused', () => {
    const warnings: string[] = [];
    const tok = loadTokenizer(sharedPath('models', 'tinystories-656k', 'tokenizer.json'), { vocabSize: 2048, model: { path: 'm', bosId: 5, eosIds: [7] }, warn: (w) => warnings.push(w) });
    expect(tok.vocabSize).toBe(2048);
    expect(warnings).toEqual([expect.stringMatching(/BOS id is 1 but the model \(m\) says 5/), expect.stringMatching(/EOS id is 2 but the model \(m\) stops at 7/)]);
    warnings.length = 0;
    loadTokenizer(sharedPath('models', 'tinystories-656k', 'tokenizer.json'), { vocabSize: 2048, model: { path: 'm', bosId: 1, eosIds: [2] }, warn: (w) => warnings.push(w) });
    expect(warnings).toEqual([]);
  });
});

/** Readers under mutation: anything they throw is a TesseraError (or they accept the input). */
function typedOrAccepted(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof TesseraError)) throw new Error(`untyped ${(e as Error).name}: ${(e as Error).message}`, { cause: e });
  }
}

describe.skipIf(!haveStories || !haveRefs)('mutation families (fast-check): readers throw only typed errors', () => {
  const gguf = new Uint8Array(readFileSync(sharedPath('models', 'stories260K', 'stories260K.gguf')));
  const st = new Uint8Array(readFileSync(sharedPath('refs', 'llama', 'model.safetensors')));
  const bin = new Uint8Array(readFileSync(sharedPath('models', 'stories260K', 'stories260K.bin')));
  const openGgufModel = (b: Uint8Array) => {
    const store = new GgufStore(new MemorySource('m.gguf', b));
    return configFromGguf(store.metadata, 'm.gguf', (n) => (store.has(n) ? store.info(n).shape : undefined));
  };
  const u64s = fc.oneof(fc.constantFrom(0n, 1n, 2n ** 32n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }));

  it('GGUF: declared-count inflation (tensor count, kv count, any u64 in the header region)', () => {
    fc.assert(fc.property(fc.integer({ min: 8, max: 2048 }), u64s, (at, v) => {
      const b = gguf.slice();
      new DataView(b.buffer).setBigUint64(at - (at % 8 === 0 ? 0 : at % 8), v, true);
      typedOrAccepted(() => openGgufModel(b));
    }), { numRuns: 200 });
  });

  it('GGUF: integer metadata values swapped (block_count, head counts, context length, lengths)', () => {
    const keys = ['llama.block_count', 'llama.context_length', 'llama.embedding_length', 'llama.attention.head_count', 'llama.attention.head_count_kv', 'llama.feed_forward_length', 'llama.rope.dimension_count'];
    fc.assert(fc.property(fc.constantFrom(...keys), fc.oneof(fc.constantFrom(0, 1, 3, 255, 2 ** 31, 2 ** 32 - 1), fc.nat()), (key, v) => {
      const has = Buffer.from(gguf).indexOf(Buffer.from(key)) >= 0;
      fc.pre(has);
      typedOrAccepted(() => openGgufModel(patchGgufU32(gguf, key, v >>> 0)));
    }), { numRuns: 200 });
  });

  it('GGUF: truncation and byte flips', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: gguf.length - 1 }), fc.integer({ min: 0, max: 255 }), fc.boolean(), (at, byte, cut) => {
      const b = cut ? gguf.slice(0, at) : gguf.slice();
      if (!cut) b[at] = byte;
      typedOrAccepted(() => openGgufModel(b));
    }), { numRuns: 300 });
  });

  it('safetensors: header length shifts always fail typed (the data no longer tiles)', () => {
    const n = Number(new DataView(st.buffer).getBigUint64(0, true));
    fc.assert(fc.property(fc.integer({ min: -n, max: 4096 }).filter((d) => d !== 0), (d) => {
      const b = st.slice();
      new DataView(b.buffer).setBigUint64(0, BigInt(n + d), true);
      const e = thrown(() => new SafetensorsStore(new MemorySource('m.safetensors', b)));
      expect(e).toBeInstanceOf(TesseraError);
    }), { numRuns: 200 });
  });

  it('safetensors: dtype swaps and offset edits in the header', () => {
    const n = Number(new DataView(st.buffer).getBigUint64(0, true));
    const header = new TextDecoder().decode(st.subarray(8, 8 + n));
    const dtypes = ['F32', 'F16', 'BF16', 'I32', 'U32', 'F64', 'I64', 'U8', 'BOOL', 'F8_E4M3', 'Q4', ''];
    fc.assert(fc.property(fc.nat(), fc.constantFrom(...dtypes), fc.integer({ min: -64, max: 64 }), (which, dtype, shift) => {
      let i = -1;
      const edited = header.replace(/"dtype":"F32"/g, (m) => (++i === which % 20 ? `"dtype":"${dtype}"` : m))
        .replace(/"data_offsets":\[(\d+),(\d+)\]/, (_, a: string, c: string) => `"data_offsets":[${Math.max(0, Number(a) + shift)},${Number(c)}]`);
      const body = new TextEncoder().encode(edited.padEnd(n, ' ').slice(0, Math.max(n, edited.length)));
      const b = new Uint8Array(8 + body.length + st.length - 8 - n);
      new DataView(b.buffer).setBigUint64(0, BigInt(body.length), true);
      b.set(body, 8);
      b.set(st.subarray(8 + n), 8 + body.length);
      typedOrAccepted(() => new SafetensorsStore(new MemorySource('m.safetensors', b)));
    }), { numRuns: 200 });
  });

  it('llama2.c: header fields set to anything', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 6 }), fc.oneof(fc.integer(), fc.constantFrom(0, -1, 1 << 24, 2 ** 31 - 1)), (field, v) => {
      const b = bin.slice();
      new DataView(b.buffer).setInt32(field * 4, v, true);
      typedOrAccepted(() => new Llama2cStore(new MemorySource('m.bin', b)));
    }), { numRuns: 200 });
  });

  it('config.json: value swaps (negative, zero, huge, fractional, wrong type) give a ConfigError or a valid config', () => {
    const base = refConfig('llama');
    const values = fc.constantFrom<unknown>(-512, -1, 0, 0.5, 1e308, 2 ** 53, 'x', null, true, [], {}, [1, 2]);
    fc.assert(fc.property(fc.constantFrom(...Object.keys(base)), values, (key, value) => {
      typedOrAccepted(() => configFromHf({ ...base, [key]: value }));
    }), { numRuns: 300 });
  });
});
