// The block-quantization codecs against llama.cpp: every tensor of every shared quantized GGUF
// decodes to the SHA-256 that llama.cpp's reference dequantizer (gguf-py) wrote, random blocks
// decode exactly as a second, deliberately naive bit-by-bit decoder written here from the spec,
// NaN/Inf scales are found, and the Q8_0/Q4_0 quantizers write llama-quantize's very bytes.
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { dequantizeBlocks, findNonFiniteScale, type QuantCodec, QUANT_CODECS, readHalf } from '../../ir/quant/index.js';
import { f16ToF32 } from '../../ir/half.js';
import { ggmlType } from '../../models/formats/ggml-types.js';
import { GgufStore } from '../../models/formats/gguf.js';
import { hasShared, sharedPath } from '../helpers/shared.js';

const CODECS = Object.values(QUANT_CODECS) as QuantCodec[];

// ---- reference files ----

interface DequantRef {
  readonly file: string;
  readonly tensors: Record<string, { type: string; shape_ggml: number[]; sha256_f32: string; head: number[] }>;
}

const QUANT_DIR = ['models', 'quant'];
const haveQuant = hasShared(...QUANT_DIR);
/** Listing the folder reads no tensor data; each file is read inside its own test. */
const refFiles = haveQuant ? readdirSync(sharedPath(...QUANT_DIR)).filter((f) => f.endsWith('.dequant.json')).sort() : [];

function loadRef(jsonName: string): DequantRef {
  return JSON.parse(readFileSync(sharedPath(...QUANT_DIR, jsonName), 'utf8')) as DequantRef;
}

/** The GGUF a reference describes: beside it, or (the two shipped with the model) in the model's folder. */
function ggufFor(ref: DequantRef): string {
  const here = sharedPath(...QUANT_DIR, ref.file);
  return existsSync(here) ? here : sharedPath('models', 'tinystories-656k', ref.file);
}

function codecFor(type: string): QuantCodec | undefined {
  return (QUANT_CODECS as Record<string, QuantCodec>)[type.toLowerCase()];
}

function dequantizeTensor(store: GgufStore, name: string): Float32Array {
  const info = store.tensorInfo(name);
  const raw = store.readRaw(name);
  const count = info.dims.reduce((a, b) => a * b, 1);
  if (info.typeName === 'F32') return new Float32Array(raw.buffer, raw.byteOffset, count);
  const codec = codecFor(info.typeName);
  if (!codec) throw new Error(`no codec for ${info.typeName} (tensor "${name}")`);
  expect(raw.length).toBe((count / codec.blockSize) * codec.blockBytes);
  const blocks = count / codec.blockSize;
  expect(findNonFiniteScale(codec, raw, 0, blocks)).toBeUndefined();
  const out = new Float32Array(count);
  dequantizeBlocks(codec, raw, 0, blocks, out, 0);
  return out;
}

function sha256(values: Float32Array): string {
  // Float32Array bytes are little-endian on every platform Node runs on.
  return createHash('sha256').update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength)).digest('hex');
}

describe('dequantization equals llama.cpp (gguf-py) bit for bit on the shared GGUFs', () => {
  it.skipIf(!haveQuant)('the shared folder has reference files for every codec', () => {
    expect(refFiles.length).toBeGreaterThan(0);
    const types = new Set(refFiles.flatMap((f) => Object.values(loadRef(f).tensors).map((t) => t.type.toLowerCase())));
    for (const name of Object.keys(QUANT_CODECS)) expect(types, `no reference tensor of type ${name}`).toContain(name);
  });

  for (const jsonName of refFiles) {
    it(jsonName.replace('.dequant.json', ''), () => {
      const ref = loadRef(jsonName);
      const path = ggufFor(ref);
      expect(existsSync(path), `${path} is missing`).toBe(true);
      const store = new GgufStore(path);
      const names = Object.keys(ref.tensors);
      expect(names.sort()).toEqual(store.names().sort());
      for (const name of names) {
        const want = ref.tensors[name];
        expect(store.tensorInfo(name).typeName, name).toBe(want.type);
        expect(store.tensorInfo(name).dims, name).toEqual(want.shape_ggml);
        const got = dequantizeTensor(store, name);
        expect(Array.from(got.subarray(0, 16)), `${name} (${want.type}) first values`).toEqual(want.head);
        expect(sha256(got), `${name} (${want.type}) SHA-256 of the f32 bytes`).toBe(want.sha256_f32);
      }
    });
  }
});

describe('codec geometry', () => {
  it('agrees with the GGUF type table', () => {
    for (const [key, codec] of Object.entries(QUANT_CODECS)) {
      expect(key).toBe(codec.ggmlType.toLowerCase());
      const row = Array.from({ length: 64 }, (_, id) => ggmlType(id)).find((t) => t?.name === codec.ggmlType);
      expect(row, codec.ggmlType).toBeDefined();
      expect([codec.blockSize, codec.blockBytes]).toEqual([row!.blockSize, row!.blockBytes]);
    }
  });
});

// ---- a second, naive decoder: bit addresses, one element at a time ----

/** n bits starting at bit position pos of the block (bit 0 = least significant bit of byte 0). */
function bits(block: Uint8Array, pos: number, n: number): number {
  let v = 0;
  for (let k = 0; k < n; k++) v += ((block[(pos + k) >> 3] >> ((pos + k) & 7)) & 1) * 2 ** k;
  return v;
}

const signed = (v: number, n: number): number => (v >= 2 ** (n - 1) ? v - 2 ** n : v);

/** IEEE half from its fields, in exact (f64) arithmetic. */
function half(block: Uint8Array, byte: number): number {
  const h = bits(block, 8 * byte, 16);
  const sign = h >= 0x8000 ? -1 : 1;
  const e = Math.floor(h / 1024) % 32;
  const m = h % 1024;
  return e === 0 ? sign * m * 2 ** -24 : sign * (1 + m / 1024) * 2 ** (e - 15);
}

const f = Math.fround;
const LEVELS = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

/** Element i's nibble in a 32-element run of 16 bytes at `byte` (i < 16 low nibbles, then high). */
const nibble32 = (b: Uint8Array, byte: number, i: number): number => bits(b, 8 * (byte + (i % 16)) + 4 * Math.floor(i / 16), 4);

/** Element e's 2-bit field in the K-quant layout: 32 bytes per 128 elements, 2 bits per 32. */
const crumbK = (b: Uint8Array, byte: number, e: number): number =>
  bits(b, 8 * (byte + 32 * Math.floor(e / 128) + (e % 32)) + 2 * Math.floor((e % 128) / 32), 2);

/** ggml's get_scale_min_k4, as ggml-quants.c writes it (shift by 6, then by 4). */
function scaleMinK4(b: Uint8Array, at: number, j: number): [number, number] {
  const q = (k: number) => b[at + k];
  if (j < 4) return [q(j) & 63, q(j + 4) & 63];
  return [(q(j + 4) & 0xf) | ((q(j - 4) >> 6) << 4), (q(j + 4) >> 4) | ((q(j) >> 6) << 4)];
}

const NAIVE: Record<string, (b: Uint8Array, e: number) => number> = {
  Q8_0: (b, e) => f(half(b, 0) * signed(bits(b, 16 + 8 * e, 8), 8)),
  Q4_0: (b, e) => f(half(b, 0) * (nibble32(b, 2, e) - 8)),
  Q4_1: (b, e) => f(f(half(b, 0) * nibble32(b, 4, e)) + half(b, 2)),
  Q5_0: (b, e) => f(half(b, 0) * (nibble32(b, 6, e) + 16 * bits(b, 16 + e, 1) - 16)),
  Q5_1: (b, e) => f(f(half(b, 0) * (nibble32(b, 8, e) + 16 * bits(b, 32 + e, 1))) + half(b, 2)),
  Q2_K: (b, e) => {
    const g = Math.floor(e / 16);
    const dl = f(half(b, 80) * bits(b, 8 * g, 4));
    const ml = f(half(b, 82) * bits(b, 8 * g + 4, 4));
    return f(f(dl * crumbK(b, 16, e)) - ml);
  },
  Q3_K: (b, e) => {
    const g = Math.floor(e / 16);
    const low = bits(b, 8 * (96 + (g % 8)) + 4 * Math.floor(g / 8), 4);
    const high = bits(b, 8 * (104 + (g % 4)) + 2 * Math.floor(g / 4), 2);
    const hbit = bits(b, 8 * (e % 32) + Math.floor(e / 32), 1);
    return f(f(half(b, 108) * (low + 16 * high - 32)) * (crumbK(b, 32, e) - (hbit ? 0 : 4)));
  },
  Q4_K: (b, e) => {
    const [sc, m] = scaleMinK4(b, 4, Math.floor(e / 32));
    const q = bits(b, 8 * (16 + 32 * Math.floor(e / 64) + (e % 32)) + 4 * (Math.floor(e / 32) % 2), 4);
    return f(f(f(half(b, 0) * sc) * q) - f(half(b, 2) * m));
  },
  Q5_K: (b, e) => {
    const [sc, m] = scaleMinK4(b, 4, Math.floor(e / 32));
    const q = bits(b, 8 * (48 + 32 * Math.floor(e / 64) + (e % 32)) + 4 * (Math.floor(e / 32) % 2), 4) + 16 * bits(b, 8 * (16 + (e % 32)) + Math.floor(e / 32), 1);
    return f(f(f(half(b, 0) * sc) * q) - f(half(b, 2) * m));
  },
  Q6_K: (b, e) => {
    const r = e % 128;
    const low = bits(b, 8 * (64 * Math.floor(e / 128) + (r % 64)) + 4 * Math.floor(r / 64), 4);
    const high = crumbK(b, 128, e);
    const sc = signed(bits(b, 8 * (192 + Math.floor(e / 16)), 8), 8);
    return f(f(half(b, 208) * sc) * (low + 16 * high - 32));
  },
  IQ4_NL: (b, e) => f(half(b, 0) * LEVELS[nibble32(b, 2, e)]),
  IQ4_XS: (b, e) => {
    const ib = Math.floor(e / 32);
    const sc = bits(b, 32 + 4 * ib, 4) + 16 * bits(b, 16 + 2 * ib, 2) - 32;
    return f(f(half(b, 0) * sc) * LEVELS[nibble32(b, 8 + 16 * ib, e % 32)]);
  },
};

// ---- random blocks ----

const SPECIAL_HALVES = [
  0x0000, 0x8000, // ±0
  0x0001, 0x8001, 0x0002, 0x03ff, 0x83ff, // subnormals, smallest to largest
  0x0400, 0x8400, // smallest normals
  0x7bff, 0xfbff, // ±65504
  0x3c00, 0xbc00, 0x3555, 0x1400, 0x7800, 0x0d00, // 1, −1, 1/3, tiny, huge, small normal
];
const isFiniteHalfBits = (h: number) => (h & 0x7c00) !== 0x7c00;
const finiteHalf = fc.oneof(fc.constantFrom(...SPECIAL_HALVES), fc.integer({ min: 0, max: 0xffff }).filter(isFiniteHalfBits));
const nonFiniteHalf = fc.oneof(fc.constantFrom(0x7c00, 0xfc00, 0x7e00, 0xfe00, 0x7c01, 0x7fff), fc.integer({ min: 0x7c00, max: 0x7fff }).map((h) => h | (h & 1 ? 0x8000 : 0)));

/** Random blocks whose f16 scale fields are drawn from `scale` (the rest: random bytes). */
function blocks(codec: QuantCodec, count: number, scale: fc.Arbitrary<number>): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(fc.uint8Array({ minLength: count * codec.blockBytes, maxLength: count * codec.blockBytes }), fc.array(scale, { minLength: count * codec.scales.length, maxLength: count * codec.scales.length }))
    .map(([bytes, halves]) => {
      const out = bytes.slice();
      let k = 0;
      for (let b = 0; b < count; b++) {
        for (const field of codec.scales) {
          const at = b * codec.blockBytes + field.at;
          out[at] = halves[k] & 0xff;
          out[at + 1] = halves[k++] >> 8;
        }
      }
      return out;
    });
}

function firstBitDifference(a: Float32Array, b: Float32Array): number {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return i;
  return -1;
}

describe('random blocks decode as the naive decoder does, bit for bit', () => {
  for (const codec of CODECS) {
    it(codec.ggmlType, () => {
      const naive = NAIVE[codec.ggmlType];
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 3 }).chain((n) => fc.tuple(blocks(codec, n, finiteHalf), fc.nat(7), fc.nat(5))),
          ([data, pad, outPad]) => {
            const n = data.length / codec.blockBytes;
            // Decode from an unaligned offset into an offset output, to catch base-offset slips.
            const bytes = new Uint8Array(pad + data.length);
            bytes.set(data, pad);
            const got = new Float32Array(outPad + n * codec.blockSize).fill(NaN);
            dequantizeBlocks(codec, bytes, pad, n, got, outPad);
            const want = new Float32Array(got.length).fill(NaN);
            for (let b = 0; b < n; b++) {
              const block = data.subarray(b * codec.blockBytes, (b + 1) * codec.blockBytes);
              for (let e = 0; e < codec.blockSize; e++) want[outPad + b * codec.blockSize + e] = naive(block, e);
            }
            const i = firstBitDifference(got, want);
            expect(i, i < 0 ? '' : `element ${i - outPad}: codec ${got[i]}, naive ${want[i]}`).toBe(-1);
          },
        ),
        { numRuns: 300 },
      );
    });
  }

  it('f16 scales read as the naive formula for all 65536 halves', () => {
    const two = new Uint8Array(2);
    const wrong: string[] = [];
    for (let h = 0; h < 0x10000; h++) {
      two[0] = h & 0xff;
      two[1] = h >> 8;
      const got = readHalf(two, 0);
      const ok = isFiniteHalfBits(h) ? Object.is(got, half(two, 0)) : !Number.isFinite(got) && Number.isNaN(got) === (h & 0x3ff) > 0;
      if (!ok) wrong.push(`0x${h.toString(16)} → ${got}`);
    }
    expect(wrong.slice(0, 8)).toEqual([]);
  });
});

describe('NaN/Inf scales are reported with their offset', () => {
  for (const codec of CODECS) {
    it(codec.ggmlType, () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 3 }).chain((n) =>
            fc.tuple(blocks(codec, n, finiteHalf), fc.nat(n - 1), fc.nat(codec.scales.length - 1), nonFiniteHalf, fc.nat(5)),
          ),
          ([data, badBlock, fieldIndex, bad, pad]) => {
            const n = data.length / codec.blockBytes;
            const bytes = new Uint8Array(pad + data.length);
            bytes.set(data, pad);
            expect(findNonFiniteScale(codec, bytes, pad, n)).toBeUndefined();
            const field = codec.scales[fieldIndex];
            const at = pad + badBlock * codec.blockBytes + field.at;
            bytes[at] = bad & 0xff;
            bytes[at + 1] = bad >> 8;
            const fault = findNonFiniteScale(codec, bytes, pad, n);
            expect(fault).toMatchObject({ offset: at, block: badBlock, field: field.name });
            expect(Number.isFinite(fault!.value)).toBe(false);
          },
        ),
        { numRuns: 100 },
      );
    });
  }
});

// llama-quantize made these files from TinyStories-656K.f16.gguf without an importance matrix, so
// it used ggml's reference quantizers: ours must write the same bytes.
describe('quantizers write the blocks llama-quantize wrote', () => {
  const model = ['models', 'tinystories-656k'];
  const cases = [
    { codec: QUANT_CODECS.q8_0, file: [...model, 'TinyStories-656K-Q8_0.gguf'] },
    { codec: QUANT_CODECS.q4_0, file: [...QUANT_DIR, 'TinyStories-656K-Q2_K.gguf'] }, // its 128-wide rows fall back to Q4_0
  ];
  for (const { codec, file } of cases) {
    it.skipIf(!hasShared(...model, 'TinyStories-656K.f16.gguf') || !hasShared(...file))(`${codec.ggmlType} (${file.at(-1)})`, () => {
      const source = new GgufStore(sharedPath(...model, 'TinyStories-656K.f16.gguf'));
      const quantized = new GgufStore(sharedPath(...file));
      const names = quantized.names().filter((n) => quantized.tensorInfo(n).typeName === codec.ggmlType);
      expect(names.length).toBeGreaterThan(0);
      for (const name of names) {
        const info = source.tensorInfo(name);
        const raw = source.readRaw(name);
        const count = info.dims.reduce((a, b) => a * b, 1);
        const x = info.typeName === 'F16' ? Float32Array.from(new Uint16Array(raw.buffer, raw.byteOffset, count), f16ToF32) : new Float32Array(raw.buffer, raw.byteOffset, count);
        const want = quantized.readRaw(name);
        const got = new Uint8Array(want.length);
        for (let b = 0; b < count / codec.blockSize; b++) codec.quantizeBlock!(x, b * codec.blockSize, codec.blockSize, got, b * codec.blockBytes);
        const i = got.findIndex((v, k) => v !== want[k]);
        expect(i, i < 0 ? '' : `${name}: block ${Math.floor(i / codec.blockBytes)} byte ${i % codec.blockBytes} is ${got[i]}, llama.cpp wrote ${want[i]}`).toBe(-1);
      }
    });
  }
});
