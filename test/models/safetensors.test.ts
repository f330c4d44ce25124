import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from '../../ir/tensor.js';
import { SafetensorsStore, openSafetensors } from '../../models/formats/safetensors.js';
import { MemorySource } from '../../models/formats/source.js';
import { refModels } from '../helpers/refs.js';
import { hasShared, sharedPath } from '../helpers/shared.js';
import { expectFormatError } from './errors.js';
import { Bytes, safetensorsBytes } from './writers.js';

const tempDirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tessera-st-'));
  tempDirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

/** Sections of refs/TENSORS.md: arch → name → shape. */
function tensorsMd(): Map<string, Map<string, number[]>> {
  const md = readFileSync(sharedPath('refs', 'TENSORS.md'), 'utf8');
  const out = new Map<string, Map<string, number[]>>();
  let current: Map<string, number[]> | undefined;
  for (const line of md.split('\n')) {
    const head = /^## (\S+) \(/.exec(line);
    if (head) out.set(head[1], (current = new Map()));
    const row = /^(\S+)\s+\[([\d, ]*)\]$/.exec(line);
    if (row && current) current.set(row[1], row[2] === '' ? [] : row[2].split(',').map(Number));
  }
  return out;
}

describe('safetensors: files written here', () => {
  it('reads F32, F16, BF16, I32 and U32 values back exactly', () => {
    const f32 = Float32Array.of(1.5, -2, 3.25, 0, 1e-8, -7);
    const f16 = Uint16Array.from([0.5, -1, 65504, 6e-5], f32ToF16);
    const bf16 = Uint16Array.from([1, -3.5, 1e30, 0.1], f32ToBf16);
    const bytes = safetensorsBytes(
      [
        { name: 'a', dtype: 'F32', shape: [2, 3], data: f32 },
        { name: 'h', dtype: 'F16', shape: [4], data: f16 },
        { name: 'b', dtype: 'BF16', shape: [2, 2], data: bf16 },
        { name: 'i', dtype: 'I32', shape: [3], data: Int32Array.of(-1, 0, 2147483647) },
        { name: 'u', dtype: 'U32', shape: [1], data: Uint32Array.of(4000000000) },
        { name: 'empty', dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
      ],
      { format: 'pt' },
    );
    const dir = tempDir();
    writeFileSync(join(dir, 'model.safetensors'), bytes);
    const st = openSafetensors(dir);
    expect(st.format).toBe('safetensors');
    expect(st.names().sort()).toEqual(['a', 'b', 'empty', 'h', 'i', 'u']);
    expect(st.metadata?.get('format')).toBe('pt');
    expect(st.info('a')).toEqual({ dtype: 'f32', shape: [2, 3] });
    const a = st.read('a');
    expect(a.dtype).toBe('f32');
    expect(a.shape).toEqual([2, 3]);
    expect(Array.from(a.data)).toEqual(Array.from(f32));
    const h = st.read('h');
    expect(h.dtype).toBe('f16');
    expect(Array.from(h.data as Uint16Array, f16ToF32)).toEqual([0.5, -1, 65504, f16ToF32(f32ToF16(6e-5))]);
    const b = st.read('b');
    expect(b.dtype).toBe('bf16');
    expect(Array.from(b.data as Uint16Array, bf16ToF32)).toEqual([1, -3.5, bf16ToF32(f32ToBf16(1e30)), bf16ToF32(f32ToBf16(0.1))]);
    expect(Array.from(st.read('i').data)).toEqual([-1, 0, 2147483647]);
    expect(Array.from(st.read('u').data)).toEqual([4000000000]);
    expect(st.read('empty').shape).toEqual([0, 4]);
  });

  it('reports unreadable dtypes by name in info() and refuses to read them', () => {
    const st = new SafetensorsStore(new MemorySource('x.safetensors', safetensorsBytes([{ name: 'd', dtype: 'F64', shape: [2], data: Float64Array.of(1, 2) }])));
    expect(st.info('d')).toEqual({ dtype: 'F64', shape: [2] });
    expectFormatError(() => st.read('d'), 'x.safetensors', '"d"', 'F64');
    expectFormatError(() => st.read('nope'), 'no tensor named "nope"');
  });

  it('merges a sharded checkpoint through its index', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'model-00001-of-00002.safetensors'), safetensorsBytes([{ name: 'x', dtype: 'F32', shape: [2], data: Float32Array.of(1, 2) }]));
    writeFileSync(join(dir, 'model-00002-of-00002.safetensors'), safetensorsBytes([{ name: 'y', dtype: 'F32', shape: [1], data: Float32Array.of(3) }]));
    const index = { metadata: { total_size: 12 }, weight_map: { x: 'model-00001-of-00002.safetensors', y: 'model-00002-of-00002.safetensors' } };
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify(index));
    const st = openSafetensors(dir);
    expect(st.names().sort()).toEqual(['x', 'y']);
    expect(Array.from(st.read('y').data)).toEqual([3]);
    expect(st.metadata?.get('total_size')).toBe(12);

    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { x: 'model-00002-of-00002.safetensors' } }));
    expectFormatError(() => openSafetensors(dir), 'model.safetensors.index.json', '"x"');
  });

  describe('rejects malformed headers with a FormatError naming the problem', () => {
    const good = safetensorsBytes([
      { name: 'w', dtype: 'F32', shape: [2, 2], data: new Float32Array(4) },
      { name: 'v', dtype: 'F32', shape: [2], data: new Float32Array(2) },
    ]);
    const withHeader = (header: object, dataBytes = 24): Uint8Array => {
      const json = new TextEncoder().encode(JSON.stringify(header));
      return new Bytes().u64(json.length).raw(json).raw(new Uint8Array(dataBytes)).build();
    };
    const open = (bytes: Uint8Array) => new SafetensorsStore(new MemorySource('bad.safetensors', bytes));

    it('header length past the end of the file', () => {
      const b = good.slice();
      new DataView(b.buffer).setBigUint64(0, 1000n, true);
      expectFormatError(() => open(b), 'bad.safetensors', 'header length 1000', 'past the end');
      new DataView(b.buffer).setBigUint64(0, 2n ** 63n, true);
      expectFormatError(() => open(b), 'exceeds');
      expectFormatError(() => open(b.slice(0, 5)), 'header length');
    });
    it('bad JSON', () => {
      const b = good.slice();
      b[8] = 0x5b; // '[' where '{' was
      expectFormatError(() => open(b), 'not valid UTF-8 JSON');
    });
    it('offsets out of range', () => {
      expectFormatError(() => open(withHeader({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, v: { dtype: 'F32', shape: [2], data_offsets: [20, 28] } })), '"v"', 'ends at byte');
    });
    it('overlapping tensors', () => {
      expectFormatError(() => open(withHeader({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] }, v: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } })), 'overlaps');
    });
    it('size that does not match shape × dtype', () => {
      expectFormatError(() => open(withHeader({ w: { dtype: 'F16', shape: [3], data_offsets: [0, 8] } })), '"w"', '8 bytes', 'needs 6');
    });
    it('unknown dtype, bad shape, bad offsets', () => {
      expectFormatError(() => open(withHeader({ w: { dtype: 'F17', shape: [2], data_offsets: [0, 8] } })), '"w"', 'unknown dtype "F17"');
      expectFormatError(() => open(withHeader({ w: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } })), '"w"', 'shape');
      expectFormatError(() => open(withHeader({ w: { dtype: 'F32', shape: [2], data_offsets: [8] } })), '"w"', 'data_offsets');
      expectFormatError(() => open(withHeader({ w: { dtype: 'F32', shape: [0], data_offsets: [8, 0] } })), '"w"', 'end before begin');
    });
  });
});

describe.runIf(hasShared('models', 'tinystories-656k', 'model.safetensors'))('safetensors: tinystories-656k', () => {
  it('has the Llama tensors of its config', () => {
    const st = openSafetensors(sharedPath('models', 'tinystories-656k', 'model.safetensors'));
    expect(st.names()).toHaveLength(20);
    expect(st.info('lm_head.weight')).toEqual({ dtype: 'f32', shape: [2048, 128] });
    expect(st.info('model.layers.1.self_attn.k_proj.weight')).toEqual({ dtype: 'f32', shape: [64, 128] });
    expect(st.info('model.layers.0.mlp.down_proj.weight')).toEqual({ dtype: 'f32', shape: [128, 384] });
    const norm = st.read('model.norm.weight').data as Float32Array;
    expect(norm).toHaveLength(128);
    expect(norm.every(Number.isFinite)).toBe(true);
  });
});

type TensorShapes = Map<string, number[]>;

/**
 * Refs folders that TENSORS.md has no section for, each with the reason and the tensors it must
 * hold instead, derived from the documented sections.
 */
const UNDOCUMENTED: Readonly<Record<string, { readonly reason: string; readonly tensors: (md: ReadonlyMap<string, TensorShapes>) => TensorShapes }>> = {
  bert_reranker: {
    reason: 'added after TENSORS.md was written: the README describes it as the bert config with one label',
    // BertForSequenceClassification: BertModel's tensors under `bert.`, plus the one-label head.
    tensors: (md) => new Map([
      ...[...md.get('bert')!].map(([name, shape]): [string, number[]] => [`bert.${name}`, shape]),
      ['classifier.weight', [1, 64]],
      ['classifier.bias', [1]],
    ]),
  },
};

describe.runIf(hasShared('refs', 'TENSORS.md'))('safetensors: every refs/*/model.safetensors matches TENSORS.md', () => {
  // Read in a hook: vitest runs this body even when the suite is skipped.
  let documented: Map<string, TensorShapes>;
  beforeAll(() => { documented = tensorsMd(); });
  it('TENSORS.md documents every refs folder but the listed exceptions', () => {
    expect([...documented.keys(), ...Object.keys(UNDOCUMENTED)].sort()).toEqual(refModels().map((m) => m.name));
  });
  for (const { name: arch } of refModels()) {
    it(arch, () => {
      const st = openSafetensors(sharedPath('refs', arch));
      const want = documented.get(arch) ?? UNDOCUMENTED[arch]?.tensors(documented);
      if (!want) expect.fail(`TENSORS.md has no section for refs/${arch}: add one, or a row to UNDOCUMENTED with the reason`);
      expect(st.names().sort()).toEqual([...want.keys()].sort());
      for (const name of st.names()) {
        expect(st.info(name), name).toEqual({ dtype: 'f32', shape: want.get(name) });
        const t = st.read(name);
        expect(t.data.length).toBe(want.get(name)!.reduce((a, b) => a * b, 1));
      }
    });
  }
});
