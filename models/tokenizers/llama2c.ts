// llama2.c's tokenizer.bin and its encoder/decoder, matching run.c (karpathy/llama2.c):
// file = i32 max_token_length, then per token: f32 score, i32 byte length, bytes (no count: the
// vocabulary size comes from the model header, or we read to the end of the file).
import { type ByteSource, toSource } from '../formats/source.js';
import { FormatError } from '../formats/store.js';
import { type EncodeOptions, type Tokenizer, concatBytes, utf8Decode, utf8Encode } from './tokenizer.js';

/** run.c hard-codes these: the first three entries are <unk>, <s>, </s>; raw byte b is id b + 3. */
const BOS = 1;
const EOS = 2;
const BYTE_OFFSET = 3;
/** run.c starts its search for the best merge below this score, so lower-scored merges never happen. */
const NO_MERGE = -1e10;

/** Byte strings as JS strings with one char per byte, so pieces concatenate and hash cheaply. */
type Bin = string;
function toBin(b: Uint8Array): Bin {
  let s = '';
  // In chunks: spreading a very long piece into one call would overflow the stack.
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
  return s;
}
const fromBin = (s: Bin): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

export class Llama2cTokenizer implements Tokenizer {
  readonly bosId = BOS;
  readonly eosId = EOS;
  private readonly ids = new Map<Bin, number>();
  /**
   * Piece bytes as decode() emits them (byte tokens already turned into their byte), made on first
   * use: a prompt and its continuation touch a few dozen of the vocabulary's pieces, and making all
   * 32000 of a llama2.c vocabulary up front took ~40 ms of every start.
   */
  private readonly decoded: (Uint8Array | undefined)[] = [];

  constructor(
    private readonly pieces: readonly Bin[],
    private readonly scores: Float32Array,
    readonly maxTokenLength: number,
  ) {
    // run.c binary-searches a sorted copy; with duplicate pieces it could land on either. We keep
    // the lowest id (real vocabularies have no duplicates).
    pieces.forEach((p, id) => {
      if (!this.ids.has(p)) this.ids.set(p, id);
    });
  }

  get vocabSize(): number {
    return this.pieces.length;
  }

  score(id: number): number {
    return this.scores[id];
  }

  tokenText(id: number): string {
    return utf8Decode(fromBin(this.piece(id)));
  }

  /** As run.c's encode(): BOS by default (as its generate() asks), no EOS. */
  encode(text: string, opts: EncodeOptions = {}): number[] {
    const bytes = utf8Encode(text);
    const tokens: number[] = [];
    if (opts.addBos ?? true) tokens.push(BOS);
    // SentencePiece's add_dummy_prefix: a leading " " token, only for non-empty text (run.c
    // would push -1 when the vocabulary has no " "; we leave the prefix out).
    const space = this.ids.get(' ');
    if (bytes.length > 0 && space !== undefined) tokens.push(space);
    tokens.push(...this.codepointTokens(bytes));
    // BOS takes part in merging, as in run.c (no real vocabulary has a piece starting with it).
    const out = this.mergeByScore(tokens);
    if (opts.addEos) out.push(EOS);
    return out;
  }

  /** One token per UTF-8 codepoint found in the vocabulary, else one per byte (id = byte + 3). */
  private codepointTokens(bytes: Uint8Array): number[] {
    const out: number[] = [];
    let start = 0;
    for (let i = 0; i < bytes.length; i++) {
      if ((bytes[i] & 0xc0) !== 0x80) start = i; // not a continuation byte: a new codepoint
      // Like run.c, a codepoint is at most 4 bytes; extra continuation bytes start over.
      if (i + 1 < bytes.length && (bytes[i + 1] & 0xc0) === 0x80 && i + 1 - start < 4) continue;
      const cp = bytes.subarray(start, i + 1);
      const id = this.ids.get(toBin(cp));
      if (id !== undefined) out.push(id);
      else for (const b of cp) out.push(b + BYTE_OFFSET);
      start = i + 1;
    }
    return out;
  }

  /** Repeatedly merges the adjacent pair whose concatenation has the highest score (leftmost on ties). */
  private mergeByScore(tokens: number[]): number[] {
    const pairId = (i: number): number | undefined => this.ids.get(this.piece(tokens[i]) + this.piece(tokens[i + 1]));
    const pairs = tokens.slice(0, -1).map((_, i) => pairId(i));
    for (;;) {
      let best = NO_MERGE;
      let at = -1;
      for (let i = 0; i < pairs.length; i++) {
        const id = pairs[i];
        if (id !== undefined && this.scores[id] > best) {
          best = this.scores[id];
          at = i;
        }
      }
      if (at < 0) return tokens;
      tokens.splice(at, 2, pairs[at]!);
      pairs.splice(at, 1);
      if (at < pairs.length) pairs[at] = pairId(at);
      if (at > 0) pairs[at - 1] = pairId(at - 1);
    }
  }

  decode(ids: readonly number[]): string {
    return utf8Decode(concatBytes(ids.map((id, i) => this.stepBytes(i > 0 ? ids[i - 1] : undefined, id))));
  }

  decodeStep(prev: number | undefined, id: number): string {
    return utf8Decode(this.stepBytes(prev, id));
  }

  tokenBytes(id: number): Uint8Array {
    return this.stepBytes(undefined, id);
  }

  /** run.c's decode(): after BOS a leading space is dropped; "<0xXX>" pieces are the raw byte. */
  private stepBytes(prev: number | undefined, id: number): Uint8Array {
    if (id === BOS || id === EOS) return new Uint8Array(0);
    const bytes = this.decoded[id] ?? this.decodePiece(id);
    return prev === BOS && bytes[0] === 0x20 ? bytes.subarray(1) : bytes;
  }

  private decodePiece(id: number): Uint8Array {
    const p = this.piece(id);
    const byte = /^<0x([0-9A-Fa-f]{2})>/.exec(p);
    const bytes = byte ? Uint8Array.of(parseInt(byte[1], 16)) : fromBin(p);
    this.decoded[id] = bytes;
    return bytes;
  }

  private piece(id: number): Bin {
    return this.pieces[id] ?? this.unknown(id);
  }

  private unknown(id: number): never {
    throw new RangeError(`token id ${id} is outside the vocabulary (0..${this.pieces.length - 1})`);
  }
}

/**
 * Reads tokenizer.bin. `vocabSize` (from the model header) reads exactly that many entries;
 * without it, entries are read to the end of the file.
 */
export function readLlama2cTokenizer(pathOrSource: string | ByteSource, vocabSize?: number): Llama2cTokenizer {
  const src = toSource(pathOrSource);
  const bytes = src.read(0, src.size, 'tokenizer');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (detail: string, at: number): never => {
    throw new FormatError(src.name, detail, at);
  };
  if (bytes.length < 4) fail('too short for a llama2.c tokenizer', 0);
  const maxTokenLength = view.getInt32(0, true);
  if (maxTokenLength <= 0) fail(`max_token_length is ${maxTokenLength}`, 0);
  const pieces: Bin[] = [];
  const scores: number[] = [];
  let at = 4;
  while (vocabSize === undefined ? at < bytes.length : pieces.length < vocabSize) {
    if (at + 8 > bytes.length) fail(`token ${pieces.length}: entry header runs past the end of the file${vocabSize === undefined ? '' : ` (the model's vocab_size is ${vocabSize}: is this its tokenizer?)`}`, at);
    const score = view.getFloat32(at, true);
    const len = view.getInt32(at + 4, true);
    if (len < 0 || at + 8 + len > bytes.length) fail(`token ${pieces.length}: length ${len} runs past the end of the file`, at + 4);
    pieces.push(toBin(bytes.subarray(at + 8, at + 8 + len)));
    scores.push(score);
    at += 8 + len;
  }
  if (pieces.length <= EOS) fail(`only ${pieces.length} tokens; <unk>, <s> and </s> are required`, at);
  // Entries left over mean the file holds a larger vocabulary than the model's.
  if (at !== bytes.length) fail(`the model's vocab_size is ${vocabSize} but the file holds more tokens (${bytes.length - at} bytes after token ${pieces.length - 1}); it belongs to another model`, at);
  return new Llama2cTokenizer(pieces, Float32Array.from(scores), maxTokenLength);
}
