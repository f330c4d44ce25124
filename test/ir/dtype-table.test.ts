// The dtype table (ir/dtype.ts) against facts worked out here independently: block sizes from
// the layouts, the reference codecs against a second decoding written from the GGUF spec, the
// quantizers' round trip within each type's stated bound, and tensor sizes for odd shapes.
import fc from 'fast-check';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { DTYPES, type DType, dtypeInfo, fieldOffset, isDType, layoutString, QUANT_DTYPES, type QuantDType, QUANTIZE_DTYPES, type QuantizeDType, storageBytes } from '../../ir/dtype.js';
import { convertF32, f32, tensor, tensorFromBytes, toF32 } from '../../ir/tensor.js';
import { ggmlType, ggmlTypeOf } from '../../models/formats/ggml-types.js';

/** Sizes of the scalar field types, written out here rather than read from the table. */
const SIZES: Record<string, number> = { f32: 4, i32: 4, u32: 4, f16: 2, bf16: 2, u16: 2, i8: 1, u8: 1 };

/** IEEE half from its bits, by the formula (f64, exact). */
function half(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 31;
  const m = h & 1023;
  if (e === 31) return m ? NaN : sign * Infinity;
  return e === 0 ? sign * m * 2 ** -24 : sign * (1 + m / 1024) * 2 ** (e - 15);
}

/** Element e of one block, decoded from the spec: byte addresses and bit fields, one at a time. */
const INDEPENDENT: Record<string, (b: Uint8Array, e: number) => number> = {
  q8_0: (b, e) => half(b[0] + 256 * b[1]) * (b[2 + e] >= 128 ? b[2 + e] - 256 : b[2 + e]),
  q4_0: (b, e) => half(b[0] + 256 * b[1]) * (nibble(b, 2, e) - 8),
  // d·q rounds to f32 before m is added, as ggml's dequantize_row_q4_1 does.
  q4_1: (b, e) => Math.fround(half(b[0] + 256 * b[1]) * nibble(b, 4, e)) + half(b[2] + 256 * b[3]),
  q5_0: (b, e) => half(b[0] + 256 * b[1]) * (nibble(b, 6, e) + 16 * bit(b, 2, e) - 16),
  q5_1: (b, e) => Math.fround(half(b[0] + 256 * b[1]) * (nibble(b, 8, e) + 16 * bit(b, 4, e))) + half(b[2] + 256 * b[3]),
  iq4_nl: (b, e) => half(b[0] + 256 * b[1]) * [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113][nibble(b, 2, e)],
  // K-quants: each f32 step of ggml's dequantize_row_q*_K rounded in its order.
  q4_k: (b, e) => kQuant4(b, e, 16, false),
  q5_k: (b, e) => kQuant4(b, e, 48, true),
  q6_k: (b, e) => {
    const h = Math.floor(e / 128), r = e % 128;
    const low = Math.floor(b[64 * h + (r % 64)] / 16 ** Math.floor(r / 64)) % 16;
    const high = Math.floor(b[128 + 32 * h + (r % 32)] / 4 ** Math.floor(r / 32)) % 4;
    const sc = b[192 + Math.floor(e / 16)] >= 128 ? b[192 + Math.floor(e / 16)] - 256 : b[192 + Math.floor(e / 16)];
    return Math.fround(half(b[208] + 256 * b[209]) * sc) * (low + 16 * high - 32);
  },
  q3_k: (b, e) => {
    const g = Math.floor(e / 16), r = e % 128;
    const sc = (g < 8 ? b[96 + g] % 16 : Math.floor(b[88 + g] / 16)) + 16 * (Math.floor(b[104 + (g % 4)] / 4 ** Math.floor(g / 4)) % 4) - 32;
    const q = (Math.floor(b[32 + 32 * Math.floor(e / 128) + (r % 32)] / 4 ** Math.floor(r / 32)) % 4) - (bit(b, 0, 8 * (e % 32) + Math.floor(e / 32)) ? 0 : 4);
    return Math.fround(half(b[108] + 256 * b[109]) * sc) * q;
  },
  q2_k: (b, e) => {
    const sc = b[Math.floor(e / 16)], r = e % 128;
    const q = Math.floor(b[16 + 32 * Math.floor(e / 128) + (r % 32)] / 4 ** Math.floor(r / 32)) % 4;
    const f = Math.fround;
    return f(f(half(b[80] + 256 * b[81]) * (sc % 16)) * q) - f(half(b[82] + 256 * b[83]) * Math.floor(sc / 16));
  },
  iq4_xs: (b, e) => {
    const j = Math.floor(e / 32);
    const sc = (Math.floor(b[4 + Math.floor(j / 2)] / (j % 2 ? 16 : 1)) % 16) + 16 * (Math.floor((b[2] + 256 * b[3]) / 4 ** j) % 4) - 32;
    return Math.fround(half(b[0] + 256 * b[1]) * sc) * [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113][nibble(b, 8 + 16 * j, e % 32)];
  },
};

/** Q4_K/Q5_K element e: 6-bit scale and min of sub-block j from the 12 bytes at 4, nibbles at `qs`, Q5_K's fifth bit at 16. */
function kQuant4(b: Uint8Array, e: number, qs: number, fifth: boolean): number {
  const j = Math.floor(e / 32);
  const sc = j < 4 ? b[4 + j] % 64 : (b[8 + j] % 16) + 16 * Math.floor(b[j] / 64);
  const m = j < 4 ? b[8 + j] % 64 : Math.floor(b[8 + j] / 16) + 16 * Math.floor(b[4 + j] / 64);
  const q = (Math.floor(b[qs + 32 * Math.floor(j / 2) + (e % 32)] / (j % 2 ? 16 : 1)) % 16) + (fifth ? 16 * bit(b, 16, 8 * (e % 32) + j) : 0);
  const f = Math.fround;
  return f(f(half(b[0] + 256 * b[1]) * sc) * q) - f(half(b[2] + 256 * b[3]) * m);
}

/** Element e's nibble in a 32-element block whose 16 bytes of nibbles start at `qs`. */
function nibble(b: Uint8Array, qs: number, e: number): number {
  return e < 16 ? b[qs + e] % 16 : Math.floor(b[qs + e - 16] / 16);
}

/** Bit e of the little-endian 32-bit word at `at`. */
function bit(b: Uint8Array, at: number, e: number): number {
  return Math.floor(b[at + Math.floor(e / 8)] / 2 ** (e % 8)) % 2;
}

const SPECIAL_HALVES = [
  0x0000, 0x8000, 0x0001, 0x8001, 0x03ff, 0x83ff, // zeros and subnormals (smallest, largest)
  0x0400, 0x8400, 0x7bff, 0xfbff, // smallest normals, ±65504
  0x3c00, 0xbc00, 0x3555, 0x1400, // 1, −1, 1/3, tiny
];
const finiteHalf = fc.oneof(fc.constantFrom(...SPECIAL_HALVES), fc.integer({ min: 0, max: 0xffff }).filter((h) => (h & 0x7c00) !== 0x7c00));

describe('the dtype table', () => {
  it('has a block size agreeing with each row\'s layout and a host array that holds it', () => {
    for (const d of DTYPES) {
      const info = dtypeInfo(d);
      const bytes = info.layout.reduce((n, f) => n + SIZES[f.type] * f.count, 0);
      expect(bytes, `${d}: ${layoutString(d)}`).toBe(info.blockBytes);
      if (info.kind === 'quant') {
        expect(info.host, d).toBe('u8');
        expect(info.codec, `${d} has no reference dequantizer`).toBeDefined();
        // The WGSL and wasm emitters index blocks with shifts and masks.
        expect(Math.log2(info.blockSize) % 1, `${d} block size ${info.blockSize} is not a power of two`).toBe(0);
      } else {
        expect(info.blockSize, d).toBe(1);
      }
      expect(isDType(d)).toBe(true);
    }
    expect(isDType('toString')).toBe(false);
    expect(layoutString('q8_0')).toBe('d: f16, qs: i8[32]');
    expect([fieldOffset('q4_0', 'd'), fieldOffset('q4_0', 'qs')]).toEqual([0, 2]);
  });

  it('maps to and from GGUF ggml type ids, one id per row', () => {
    const ids = DTYPES.flatMap((d) => (dtypeInfo(d).ggml ? [dtypeInfo(d).ggml!.id] : []));
    expect(new Set(ids).size).toBe(ids.length);
    for (const d of DTYPES) {
      const g = dtypeInfo(d).ggml;
      if (!g) continue;
      expect(ggmlType(g.id)).toMatchObject({ name: g.name, ours: d, blockSize: dtypeInfo(d).blockSize, blockBytes: dtypeInfo(d).blockBytes });
      expect(ggmlTypeOf(d).id).toBe(g.id);
    }
  });

  it('lists the quantized and the writable types', () => {
    expect(QUANT_DTYPES).toEqual(DTYPES.filter((d) => dtypeInfo(d).kind === 'quant'));
    for (const d of QUANTIZE_DTYPES) expect(dtypeInfo(d).codec?.roundTripBound, `${d} states no round-trip bound`).toBeDefined();
    expect(QUANTIZE_DTYPES).toEqual(expect.arrayContaining(['q8_0', 'q4_0']));
    // The code generators' tables and the CLI are typed by these unions: they must not collapse.
    expectTypeOf<'q8_0' | 'q4_0'>().toMatchTypeOf<QuantizeDType>();
    expectTypeOf<QuantizeDType>().toMatchTypeOf<QuantDType>();
    expectTypeOf<'f16'>().not.toMatchTypeOf<QuantDType>();
  });
});

describe('reference dequantization equals an independent decoding', () => {
  for (const d of QUANT_DTYPES) {
    it(`${d}: random blocks, extreme and subnormal scales, rows cut short of a whole block`, () => {
      const decode = INDEPENDENT[d];
      expect(decode, `write an independent decoding of ${d} in this test`).toBeDefined();
      const { blockSize, blockBytes } = dtypeInfo(d);
      // Every f16 field (the scale d, a min m) drawn from the finite halves.
      const halves16 = dtypeInfo(d).layout.filter((f) => f.type === 'f16').map((f) => fieldOffset(d, f.name));
      fc.assert(fc.property(
        fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 * blockSize }), fc.infiniteStream(finiteHalf), fc.infiniteStream(fc.nat(255)),
        (rows, len, halves, byteStream) => {
          const perRow = Math.ceil(len / blockSize);
          const bytes = Uint8Array.from({ length: rows * perRow * blockBytes }, () => byteStream.next().value);
          for (let b = 0; b < rows * perRow; b++) {
            for (const at of halves16) {
              const h = halves.next().value;
              bytes[b * blockBytes + at] = h & 0xff;
              bytes[b * blockBytes + at + 1] = h >> 8;
            }
          }
          const got = toF32(tensor(d, [rows, len], bytes));
          for (let r = 0; r < rows; r++) {
            for (let c = 0; c < len; c++) {
              const at = (r * perRow + Math.floor(c / blockSize)) * blockBytes;
              const want = Math.fround(decode(bytes.subarray(at, at + blockBytes), c % blockSize));
              if (!Object.is(got[r * len + c], want)) expect(got[r * len + c], `row ${r} element ${c}`).toBe(want);
            }
          }
        },
      ), { numRuns: 200 });
    });
  }
});

describe('quantize → dequantize stays within each type\'s bound', () => {
  /** Values in [−1, 1] times 2^e: e from subnormal-scale territory up to where scales near f16's max. */
  const rowsOf = fc.record({
    rows: fc.integer({ min: 1, max: 3 }),
    len: fc.integer({ min: 1, max: 100 }),
    e: fc.integer({ min: -40, max: 15 }),
    special: fc.constantFrom('random', 'zeros', 'one-spike', 'constant', 'negative-max'),
    seed: fc.infiniteStream(fc.double({ min: -1, max: 1, noNaN: true })),
  });
  for (const d of QUANTIZE_DTYPES) {
    it(d, () => {
      const { blockSize, codec } = dtypeInfo(d);
      fc.assert(fc.property(rowsOf, ({ rows, len, e, special, seed }) => {
        const x = Float32Array.from({ length: rows * len }, (_, i) => {
          const v = seed.next().value;
          switch (special) {
            case 'zeros': return 0;
            case 'one-spike': return i % len === len - 1 ? 2 ** e : v * 2 ** (e - 20);
            case 'constant': return 2 ** e;
            case 'negative-max': return i % blockSize === 0 ? -(2 ** e) : v * 2 ** e;
            default: return v * 2 ** e;
          }
        });
        const q = convertF32(f32([rows, len], x), d);
        expect(q.data.byteLength).toBe(storageBytes(d, [rows, len]));
        const back = toF32(q);
        for (let r = 0; r < rows; r++) {
          for (let b = 0; b * blockSize < len; b++) {
            const cols = [...Array(Math.min(blockSize, len - b * blockSize)).keys()].map((i) => r * len + b * blockSize + i);
            const amax = Math.max(...cols.map((i) => Math.abs(x[i])));
            const bound = codec!.roundTripBound!(amax);
            for (const i of cols) {
              if (!(Math.abs(x[i] - back[i]) <= bound)) expect(Math.abs(x[i] - back[i]), `row ${r} element ${i - r * len} (block max ${amax})`).toBeLessThanOrEqual(bound);
            }
          }
        }
      }), { numRuns: 300 });
    });
  }
});

describe('storage sizes', () => {
  it('pad each row of a quantized tensor to whole blocks', () => {
    expect(storageBytes('q8_0', [3, 33])).toBe(3 * 2 * 34);
    expect(storageBytes('q4_0', [2, 1, 32])).toBe(2 * 18);
    expect(storageBytes('q4_0', [5])).toBe(18);
    expect(storageBytes('q8_0', [])).toBe(34);
    expect(storageBytes('q8_0', [0, 64])).toBe(0);
    expect(storageBytes('q8_0', [4, 0])).toBe(0);
    expect(storageBytes('f16', [3, 5])).toBe(30);
    expect(storageBytes('bf16', [])).toBe(2);
    expect(storageBytes('i32', [7, 1, 3])).toBe(84);
  });

  it('agree with rows × ⌈len / block⌉ × block bytes for drawn shapes', () => {
    fc.assert(fc.property(fc.constantFrom<DType>(...DTYPES), fc.array(fc.integer({ min: 0, max: 70 }), { minLength: 1, maxLength: 4 }), (d, shape) => {
      const { blockSize, blockBytes } = dtypeInfo(d);
      const len = shape[shape.length - 1];
      const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
      expect(storageBytes(d, shape)).toBe(rows * Math.ceil(len / blockSize) * blockBytes);
      expect(tensor(d, shape).data.byteLength).toBe(storageBytes(d, shape));
    }));
  });

  it('view raw bytes at an aligned offset and copy them at an unaligned one', () => {
    const buf = new Uint8Array(10);
    new DataView(buf.buffer).setFloat32(4, 1.5, true);
    const aligned = tensorFromBytes('f32', [1], buf.subarray(4, 8));
    expect(aligned.data.buffer).toBe(buf.buffer);
    expect(aligned.data[0]).toBe(1.5);
    new DataView(buf.buffer).setUint16(1, 0x3c00, true);
    const unaligned = tensorFromBytes('f16', [1], buf.subarray(1, 3));
    expect(unaligned.data.buffer).not.toBe(buf.buffer);
    expect(toF32(unaligned)[0]).toBe(1);
    expect(() => tensorFromBytes('f32', [1], buf.subarray(0, 3))).toThrow(/not whole 4-byte elements/);
  });
});
