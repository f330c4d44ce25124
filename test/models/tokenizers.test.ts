import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { GgufStore } from '../../models/formats/gguf.js';
import { MemorySource } from '../../models/formats/source.js';
import { ggufTokenizer } from '../../models/tokenizers/gguf.js';
import { readHfTokenizer } from '../../models/tokenizers/hf.js';
import { type Llama2cTokenizer, readLlama2cTokenizer } from '../../models/tokenizers/llama2c.js';
import { loadTokenizer } from '../../models/tokenizers/load.js';
import { type Tokenizer, TokenStream } from '../../models/tokenizers/tokenizer.js';
import { hasShared, sharedPath } from '../helpers/shared.js';
import { expectFormatError } from './errors.js';
import { Bytes, type GgufKv, ggufBytes } from './writers.js';

const stories = (...p: string[]) => sharedPath('models', 'stories260K', ...p);
const tiny = (...p: string[]) => sharedPath('models', 'tinystories-656k', ...p);

/** Text of every kind: ASCII, any code point, and whole graphemes (emoji, combining marks). */
const anyText = fc.oneof(
  fc.string({ unit: 'grapheme-ascii', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
);

/** Streaming a sequence token by token must give exactly decode() of the whole sequence. */
function expectStreamMatchesDecode(tok: Tokenizer, ids: number[]): void {
  const stream = new TokenStream(tok);
  const pieces = ids.map((id) => stream.push(id));
  expect(pieces.join('') + stream.flush()).toBe(tok.decode(ids));
  for (const p of pieces) expect(p.endsWith('\uFFFD') && !tok.decode(ids).includes('\uFFFD')).toBe(false);
}

describe.runIf(hasShared('models', 'stories260K', 'tok512.bin'))('llama2.c tokenizer (tok512.bin)', () => {
  // Read in a hook: vitest runs this body even when the suite is skipped.
  let tok: Llama2cTokenizer;
  beforeAll(() => { tok = readLlama2cTokenizer(stories('tok512.bin')); });

  it('reads the vocabulary', () => {
    expect(tok.vocabSize).toBe(512);
    expect(tok.maxTokenLength).toBe(7);
    expect(tok.tokenText(1)).toBe('\n<s>\n');
    expect(tok.tokenText(13)).toBe('<0x0A>');
  });

  it('encodes "Once upon a time" into whole words', () => {
    const ids = tok.encode('Once upon a time');
    expect(ids[0]).toBe(1);
    expect(ids.slice(1).map((i) => tok.tokenText(i))).toEqual([' Once', ' upon', ' a', ' time']);
    expect(tok.encode('Once upon a time', { addBos: false, addEos: true })).toEqual([...ids.slice(1), 2]);
    expect(tok.encode('')).toEqual([1]);
  });

  it('falls back to byte tokens (byte + 3) for characters outside the vocabulary', () => {
    const ids = tok.encode('😀', { addBos: false });
    expect(ids).toEqual([410, 0xf0 + 3, 0x9f + 3, 0x98 + 3, 0x80 + 3]);
    expect(tok.decode([1, ...ids])).toBe('😀');
  });

  it('decode(encode(x)) == x', () => {
    fc.assert(fc.property(anyText, (s) => tok.decode(tok.encode(s)) === s), { numRuns: 300 });
  });

  it('decodes like run.c: a leading space is dropped only right after BOS', () => {
    const once = tok.encode('Once', { addBos: false })[0];
    expect(tok.decodeStep(1, once)).toBe('Once');
    expect(tok.decodeStep(undefined, once)).toBe(' Once');
    expect(tok.decodeStep(500, once)).toBe(' Once');
    expect(tok.decodeStep(undefined, 13)).toBe('\n');
  });

  it('streams whole characters', () => {
    fc.assert(fc.property(anyText, (s) => expectStreamMatchesDecode(tok, tok.encode(s))), { numRuns: 200 });
    const stream = new TokenStream(tok);
    // " " is a token; 世 is three byte tokens, held back until the character is complete.
    expect(tok.encode('世', { addBos: false }).map((id) => stream.push(id))).toEqual([' ', '', '', '世']);
  });

  it('refuses a truncated file', () => {
    const bytes = readFileSync(stories('tok512.bin'));
    expectFormatError(() => readLlama2cTokenizer(new MemorySource('t.bin', bytes.subarray(0, 101))), 't.bin', 'past the end');
    expectFormatError(() => readLlama2cTokenizer(new MemorySource('t.bin', bytes), 513), 'token 512');
  });
});

describe.runIf(hasShared('models', 'llama2c-vocab', 'tokenizer.bin'))('llama2.c tokenizer (32000-token Llama 2 vocabulary)', () => {
  // Read in a hook: vitest runs this body even when the suite is skipped.
  let tok: Tokenizer;
  beforeAll(() => { tok = readLlama2cTokenizer(sharedPath('models', 'llama2c-vocab', 'tokenizer.bin')); });
  it('encodes "Hello world" as llama2.c does', () => {
    expect(tok.vocabSize).toBe(32000);
    expect(tok.encode('Hello world')).toEqual([1, 15043, 3186]);
    expect(tok.decode([1, 15043, 3186])).toBe('Hello world');
  });
  it('decode(encode(x)) == x', () => {
    fc.assert(fc.property(anyText, (s) => tok.decode(tok.encode(s)) === s), { numRuns: 150 });
  });
});

describe.runIf(hasShared('models', 'tinystories-656k', 'tokenizer.json') && hasShared('golden', 'tinystories-656k-hf.json'))('Hugging Face tokenizer.json (tinystories-656k)', () => {
  // Read in a hook: vitest runs this body even when the suite is skipped.
  let golden: { cases: { prompt: string; input_ids: number[]; new_tokens: number[] }[] };
  let hf: Tokenizer;
  beforeAll(() => {
    golden = JSON.parse(readFileSync(sharedPath('golden', 'tinystories-656k-hf.json'), 'utf8')) as typeof golden;
    hf = readHfTokenizer(tiny('tokenizer.json'));
  });

  it('gives the golden input_ids, with BOS from tokenizer_config.json', () => {
    expect(hf.bosId).toBe(1);
    expect(hf.eosId).toBe(2);
    expect(hf.vocabSize).toBe(2048);
    for (const c of golden.cases) {
      expect(hf.encode(c.prompt)).toEqual(c.input_ids);
      expect(hf.encode(c.prompt, { addBos: false })).toEqual(c.input_ids.slice(1));
      expect(hf.encode(c.prompt, { addEos: true }).at(-1)).toBe(2);
      expect(hf.decode(c.input_ids)).toBe(c.prompt);
    }
  });

  it('decodes generated tokens the same whole or streamed', () => {
    for (const c of golden.cases) {
      const ids = [...c.input_ids, ...c.new_tokens];
      expectStreamMatchesDecode(hf, ids);
      const steps = ids.map((id, i) => hf.decodeStep(i ? ids[i - 1] : undefined, id)).join('');
      expect(steps).toBe(hf.decode(ids));
    }
  });

  it.runIf(hasShared('models', 'tinystories-656k', 'TinyStories-656K.f16.gguf'))('the GGUF vocabulary tokenizes exactly like tokenizer.json', () => {
    const gg = ggufTokenizer(tiny('TinyStories-656K.f16.gguf'));
    for (const c of golden.cases) expect(gg.encode(c.prompt)).toEqual(c.input_ids);
    fc.assert(
      fc.property(anyText, (s) => {
        expect(gg.encode(s)).toEqual(hf.encode(s));
        expect(gg.decode(gg.encode(s))).toBe(hf.decode(hf.encode(s)));
      }),
      { numRuns: 300 },
    );
    const ids = [...golden.cases[0].input_ids, ...golden.cases[0].new_tokens];
    expect(gg.decode(ids)).toBe(hf.decode(ids));
    expectStreamMatchesDecode(gg, ids);
  });
});

describe.runIf(hasShared('models', 'stories260K', 'stories260K.gguf'))('GGUF vocabulary tokenizer (stories260K.gguf)', () => {
  it('agrees with llama2.c on the same vocabulary', () => {
    const gg = ggufTokenizer(stories('stories260K.gguf'));
    const l2 = readLlama2cTokenizer(stories('tok512.bin'));
    expect(gg.bosId).toBe(1);
    expect(gg.vocabSize).toBe(512);
    // U+2581 "▁" is where the two conventions part: a GGUF (SentencePiece) vocabulary spells spaces
    // with it, so a literal ▁ in the text reads as a space (as llama.cpp and SentencePiece read it),
    // while llama2.c's vocabulary spells spaces as ' ' and takes ▁ as three bytes. Elsewhere they agree.
    fc.assert(
      fc.property(anyText.filter((s) => !s.includes('\u2581')), (s) => {
        expect(gg.encode(s)).toEqual(l2.encode(s));
        expect(gg.decode(gg.encode(s))).toBe(s);
      }),
      { numRuns: 300 },
    );
    expect(gg.encode('a\u2581b')).toEqual(gg.encode('a b'));
    expect(l2.encode('a\u2581b')).not.toEqual(l2.encode('a b'));
  });
});

describe('GGUF byte-level BPE ("gpt2")', () => {
  // A vocabulary of the 256 byte symbols plus a few merges, as GPT-2 spells them (space = Ġ).
  const byteChars: string[] = [];
  for (let b = 0, extra = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    byteChars.push(String.fromCodePoint(printable ? b : 256 + extra++));
  }
  const merges = ['Ġ t', 'h e', 'Ġt he', 'i s', 'Ġ is'];
  const tokens = [...byteChars, 'Ġt', 'he', 'Ġthe', 'is', 'Ġis', '<|endoftext|>'];
  const kv = (extra: GgufKv[] = []): GgufKv[] => [
    ['tokenizer.ggml.model', 8, 'gpt2'],
    ['tokenizer.ggml.tokens', 9, [8, tokens]],
    ['tokenizer.ggml.merges', 9, [8, merges]],
    ['tokenizer.ggml.token_type', 9, [5, tokens.map((t) => (t === '<|endoftext|>' ? 3 : 1))]],
    ['tokenizer.ggml.bos_token_id', 4, tokens.length - 1],
    ['tokenizer.ggml.eos_token_id', 4, tokens.length - 1],
    ...extra,
  ];
  const make = (extra?: GgufKv[]) => ggufTokenizer(new GgufStore(new MemorySource('bpe.gguf', ggufBytes({ kv: kv(extra) }))));

  it('merges by rank and maps bytes through the GPT-2 alphabet', () => {
    const tok = make();
    const id = (t: string) => tokens.indexOf(t);
    expect(tok.encode('the is')).toEqual([id('t'), id('he'), id('Ġis')]);
    expect(tok.encode(' the')).toEqual([id('Ġthe')]);
    expect(tok.encode('é')).toEqual([id('Ã'), id('©')]);
    expect(tok.encode('x', { addBos: true })).toEqual([tokens.length - 1, id('x')]);
    expect(tok.decode([tokens.length - 1, id('Ġthe'), id('Ã'), id('©')])).toBe(' theé');
  });

  it('decode(encode(x)) == x and streaming matches', () => {
    const tok = make([['tokenizer.ggml.pre', 8, 'llama-bpe']]);
    fc.assert(
      fc.property(anyText, (s) => {
        expect(tok.decode(tok.encode(s))).toBe(s);
        expectStreamMatchesDecode(tok, tok.encode(s));
      }),
      { numRuns: 200 },
    );
  });

  it('refuses unknown pre-tokenizers and tokenizer models', () => {
    expectFormatError(() => make([['tokenizer.ggml.pre', 8, 'klingon']]), 'bpe.gguf', '"klingon"');
    const bert = ggufBytes({ kv: [['tokenizer.ggml.model', 8, 'bert'], ['tokenizer.ggml.tokens', 9, [8, ['a']]]] });
    expectFormatError(() => ggufTokenizer(new GgufStore(new MemorySource('bert.gguf', bert))), 'bert.gguf', 'tokenizer.ggml.model "bert" is not supported');
    expectFormatError(() => ggufTokenizer(new GgufStore(new MemorySource('none.gguf', ggufBytes({})))), 'no tokenizer');
  });
});

describe.runIf(hasShared('models', 'stories260K') && hasShared('models', 'tinystories-656k'))('loadTokenizer', () => {
  it('picks the reader from the path', () => {
    expect(loadTokenizer(tiny()).encode('Once upon a time')).toEqual([1, 80, 147, 201, 282, 57]);
    expect(loadTokenizer(tiny('tokenizer.json')).vocabSize).toBe(2048);
    expect(loadTokenizer(tiny('TinyStories-656K-Q8_0.gguf')).encode('Once upon a time')).toEqual([1, 80, 147, 201, 282, 57]);
    expect(loadTokenizer(stories('tok512.bin')).vocabSize).toBe(512);
    // A tokenizer.bin holding more tokens than the model's vocabulary belongs to another model.
    expect(() => loadTokenizer(stories('tok512.bin'), { vocabSize: 300 })).toThrow(/vocab_size is 300 but the file holds more tokens/);
    expect(loadTokenizer(stories('stories260K.gguf')).encode('Once upon a time')).toEqual(readLlama2cTokenizer(stories('tok512.bin')).encode('Once upon a time'));
    // stories260K/ has tokenizer.bin under another name and one GGUF: the GGUF is chosen.
    expect(loadTokenizer(stories()).vocabSize).toBe(512);
  });

  it('refuses model checkpoints', () => {
    // A v0 checkpoint has no magic: it fails as a tokenizer.bin would.
    expectFormatError(() => loadTokenizer(stories('stories260K.bin')), 'stories260K.bin', 'past the end');
    const dir = mkdtempSync(join(tmpdir(), 'tessera-tok-'));
    try {
      writeFileSync(join(dir, 'model.bin'), new Bytes().u32(0x616b3432).i32(1).pad(256).build());
      expectFormatError(() => loadTokenizer(join(dir, 'model.bin')), 'model.bin', 'llama2.c model checkpoint');
      expectFormatError(() => loadTokenizer(dir), 'cannot pick a tokenizer');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
