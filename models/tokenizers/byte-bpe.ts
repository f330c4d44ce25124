// Byte-level BPE (GPT-2 style), as llama.cpp tokenizes GGUF vocabularies whose
// tokenizer.ggml.model is "gpt2": the text is split by a pre-tokenizer regex, each piece's UTF-8
// bytes are spelled with GPT-2's printable byte alphabet (space → "Ġ", …), and the pair ranked
// first in the merge list is merged until none applies.
import { type EncodeOptions, type Tokenizer, concatBytes, utf8Decode, utf8Encode } from './tokenizer.js';

/** Pre-tokenizer patterns by tokenizer.ggml.pre (the (?i:…) of the originals spelled out for JS). */
const CONTRACTIONS_ANY_CASE = "'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]";
export const PRE_TOKENIZERS: Record<string, RegExp> = {
  gpt2: /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu,
  'llama-bpe': new RegExp(`${CONTRACTIONS_ANY_CASE}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+`, 'gu'),
  qwen2: new RegExp(`${CONTRACTIONS_ANY_CASE}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+`, 'gu'),
};
PRE_TOKENIZERS.default = PRE_TOKENIZERS.gpt2;

/** GPT-2's byte ↔ printable character table: printable Latin-1 bytes stand for themselves. */
const BYTE_TO_CHAR: string[] = (() => {
  const table: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table[b] = String.fromCodePoint(printable ? b : 256 + extra++);
  }
  return table;
})();
const CHAR_TO_BYTE = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));

export interface ByteBpeVocab {
  readonly tokens: readonly string[];
  /** "left right" pairs, highest priority first. */
  readonly merges: readonly string[];
  /** tokenizer.ggml.token_type per id (3 = control tokens produce no text). */
  readonly types?: ArrayLike<number>;
  readonly preTokenizer: RegExp;
  readonly bosId?: number;
  readonly eosId?: number;
  readonly unkId?: number;
  readonly addBos: boolean;
  readonly addEos: boolean;
}

const CONTROL = 3;

/** A token spelled in GPT-2's byte alphabet → its bytes; undefined when a character is outside it. */
export function byteLevelBytes(text: string): Uint8Array | undefined {
  const chars = [...text];
  return chars.every((c) => CHAR_TO_BYTE.has(c)) ? Uint8Array.from(chars, (c) => CHAR_TO_BYTE.get(c)!) : undefined;
}

export class ByteBpeTokenizer implements Tokenizer {
  readonly bosId?: number;
  readonly eosId?: number;
  private readonly ids = new Map<string, number>();
  private readonly ranks = new Map<string, number>();
  private readonly cache = new Map<string, number[]>();

  constructor(private readonly vocab: ByteBpeVocab) {
    this.bosId = vocab.bosId;
    this.eosId = vocab.eosId;
    vocab.tokens.forEach((t, id) => {
      if (!this.ids.has(t)) this.ids.set(t, id);
    });
    vocab.merges.forEach((m, rank) => {
      if (!this.ranks.has(m)) this.ranks.set(m, rank);
    });
  }

  get vocabSize(): number {
    return this.vocab.tokens.length;
  }

  tokenText(id: number): string {
    return this.vocab.tokens[id] ?? outOfRange(id, this.vocabSize);
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    const out: number[] = [];
    if ((opts.addBos ?? this.vocab.addBos) && this.bosId !== undefined) out.push(this.bosId);
    for (const [word] of text.matchAll(this.vocab.preTokenizer)) out.push(...this.wordIds(word));
    if ((opts.addEos ?? this.vocab.addEos) && this.eosId !== undefined) out.push(this.eosId);
    return out;
  }

  private wordIds(word: string): number[] {
    const cached = this.cache.get(word);
    if (cached) return cached;
    const ids = this.merge([...utf8Encode(word)].map((b) => BYTE_TO_CHAR[b])).map(
      (sym) => this.ids.get(sym) ?? this.vocab.unkId ?? noToken(sym),
    );
    if (this.cache.size < 100_000) this.cache.set(word, ids);
    return ids;
  }

  /** Applies the best-ranked merge (leftmost on ties) until none applies. */
  private merge(sym: string[]): string[] {
    for (;;) {
      let best = Infinity;
      let at = -1;
      for (let i = 0; i + 1 < sym.length; i++) {
        const r = this.ranks.get(`${sym[i]} ${sym[i + 1]}`);
        if (r !== undefined && r < best) {
          best = r;
          at = i;
        }
      }
      if (at < 0) return sym;
      sym.splice(at, 2, sym[at] + sym[at + 1]);
    }
  }

  decode(ids: readonly number[]): string {
    return utf8Decode(concatBytes(ids.map((id) => this.tokenBytes(id))));
  }

  decodeStep(_prev: number | undefined, id: number): string {
    return utf8Decode(this.tokenBytes(id));
  }

  tokenBytes(id: number): Uint8Array {
    const text = this.tokenText(id);
    if (this.vocab.types?.[id] === CONTROL) return new Uint8Array(0);
    // Tokens outside the byte alphabet (added tokens such as "<|endoftext|>") are plain text.
    const chars = [...text];
    if (!chars.every((c) => CHAR_TO_BYTE.has(c))) return utf8Encode(text);
    return Uint8Array.from(chars, (c) => CHAR_TO_BYTE.get(c)!);
  }
}

function outOfRange(id: number, size: number): never {
  throw new RangeError(`token id ${id} is outside the vocabulary (0..${size - 1})`);
}

function noToken(sym: string): never {
  throw new Error(`byte-level BPE produced ${JSON.stringify(sym)}, which is not in the vocabulary`);
}
