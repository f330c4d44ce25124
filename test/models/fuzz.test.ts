// Mutated model files must fail with a FormatError (or still read), never another exception or a hang.
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GgufStore } from '../../models/formats/gguf.js';
import { Llama2cStore } from '../../models/formats/llama2c.js';
import { SafetensorsStore } from '../../models/formats/safetensors.js';
import { MemorySource } from '../../models/formats/source.js';
import { FormatError, type TensorStore } from '../../models/formats/store.js';
import { ggufTokenizer } from '../../models/tokenizers/gguf.js';
import { readLlama2cTokenizer } from '../../models/tokenizers/llama2c.js';
import { hasShared, sharedPath } from '../helpers/shared.js';

type Mutation =
  | { kind: 'truncate'; at: number }
  | { kind: 'flip'; flips: [number, number][] }
  | { kind: 'int'; at: number; width: 4 | 8; value: bigint };

const HEADER_SPAN = 4096;
/** TESSERA_FUZZ_SCALE=50 runs fifty times as many mutations (for a long local hunt). */
const SCALE = Number(process.env.TESSERA_FUZZ_SCALE ?? 1);

function mutation(size: number): fc.Arbitrary<Mutation> {
  const span = Math.min(HEADER_SPAN, size);
  return fc.oneof(
    fc.record({ kind: fc.constant('truncate' as const), at: fc.integer({ min: 0, max: size - 1 }) }),
    fc.record({
      kind: fc.constant('flip' as const),
      flips: fc.array(fc.tuple(fc.integer({ min: 0, max: span - 1 }), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 }),
    }),
    fc.record({
      kind: fc.constant('int' as const),
      // Mostly the fixed header fields near the start, sometimes anywhere in the first 4 KiB.
      at: fc.oneof(fc.integer({ min: 0, max: 48 }), fc.integer({ min: 0, max: span - 8 })),
      width: fc.constantFrom(4 as const, 8 as const),
      value: fc.constantFrom(0n, 1n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 2n ** 32n + 1n, 2n ** 40n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n),
    }),
  );
}

function apply(m: Mutation, original: Uint8Array): Uint8Array {
  if (m.kind === 'truncate') return original.slice(0, m.at);
  const b = original.slice();
  const view = new DataView(b.buffer);
  if (m.kind === 'flip') for (const [at, mask] of m.flips) b[at] ^= mask;
  else if (m.width === 4) view.setUint32(m.at, Number(m.value & 0xffffffffn), true);
  else view.setBigUint64(m.at, m.value, true);
  return b;
}

function readEverything(store: TensorStore): void {
  for (const name of store.names()) {
    store.info(name);
    store.read(name);
  }
}

/** Runs `open` on mutated copies of a shared file; only FormatError may escape. */
function fuzz(file: string, open: (src: MemorySource) => void, numRuns: number): void {
  const original = new Uint8Array(readFileSync(file));
  let failures = 0;
  fc.assert(
    fc.property(mutation(original.length), (m) => {
      try {
        open(new MemorySource(file, apply(m, original)));
      } catch (e) {
        if (!(e instanceof FormatError)) throw e;
        expect(e.message.startsWith(file)).toBe(true);
        failures++;
      }
    }),
    { numRuns: numRuns * SCALE },
  );
  // The mutations are meant to break things: if nothing ever failed, they are not reaching the parser.
  expect(failures).toBeGreaterThan((numRuns * SCALE) / 4);
}

const gguf = (src: MemorySource) => {
  const store = new GgufStore(src);
  readEverything(store);
  ggufTokenizer(store);
};

describe('fuzz: mutated files throw FormatError or read cleanly', () => {
  it.runIf(hasShared('models', 'stories260K'))('stories260K.gguf, stories260K.bin, tok512.bin', () => {
    fuzz(sharedPath('models', 'stories260K', 'stories260K.gguf'), gguf, 150);
    fuzz(sharedPath('models', 'stories260K', 'stories260K.bin'), (src) => readEverything(new Llama2cStore(src)), 150);
    fuzz(sharedPath('models', 'stories260K', 'tok512.bin'), (src) => readLlama2cTokenizer(src), 150);
  });

  it.runIf(hasShared('models', 'tinystories-656k'))('TinyStories GGUFs (F16, Q8_0, IQ4_NL)', () => {
    for (const f of ['TinyStories-656K.f16.gguf', 'TinyStories-656K-Q8_0.gguf', 'TinyStories-656K-IQ4_NL.gguf']) fuzz(sharedPath('models', 'tinystories-656k', f), gguf, 100);
  });

  it.runIf(hasShared('models', 'tinystories-656k') && hasShared('refs', 'llama'))('safetensors', () => {
    fuzz(sharedPath('models', 'tinystories-656k', 'model.safetensors'), (src) => readEverything(new SafetensorsStore(src)), 150);
    fuzz(sharedPath('refs', 'llama', 'model.safetensors'), (src) => readEverything(new SafetensorsStore(src)), 150);
  });
});
