// SentencePiece-style BPE by piece scores, as llama.cpp tokenizes GGUF vocabularies whose
// tokenizer.ggml.model is "llama": spaces become "▁", the text is split into UTF-8 characters,
// and the adjacent pair whose concatenation is the best-scoring piece is merged (ties: leftmost)
// until no pair forms a piece. Characters without a piece fall back to "<0xXX>" byte pieces.
import { type EncodeOptions, type Tokenizer, concatBytes, utf8Decode, utf8Encode } from './tokenizer.js';

/** tokenizer.ggml.token_type values. */
export const TokenType = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

export interface SpmVocab {
  readonly pieces: readonly string[];
  readonly scores: ArrayLike<number>;
  /** TokenType per id; missing means all normal (byte pieces are still recognised by their form). */
  readonly types?: ArrayLike<number>;
  readonly bosId?: number;
  readonly eosId?: number;
  readonly unkId?: number;
  readonly addBos: boolean;
  readonly addEos: boolean;
  /** Prepend " " to the text (SentencePiece's add_dummy_prefix); its space is dropped when decoding. */
  readonly addSpacePrefix: boolean;
}

const SPACE_MARK = '▁';
const BYTE_PIECE = /^<0x([0-9A-Fa-f]{2})>$/;

export class SpmTokenizer implements Tokenizer {
  readonly bosId?: number;
  readonly eosId?: number;
  private readonly ids = new Map<string, number>();
  private readonly byteIds = new Map<number, number>();
  private readonly rank: ArrayLike<number>;
  private readonly bytes: Uint8Array[];

  constructor(private readonly vocab: SpmVocab) {
    this.bosId = vocab.bosId;
    this.eosId = vocab.eosId;
    vocab.pieces.forEach((p, id) => {
      if (!this.ids.has(p)) this.ids.set(p, id);
      const byte = BYTE_PIECE.exec(p);
      if (byte && (!vocab.types || vocab.types[id] === TokenType.byte)) this.byteIds.set(parseInt(byte[1], 16), id);
    });
    this.rank = mergeRanks(vocab);
    this.bytes = vocab.pieces.map((p, id) => this.pieceBytes(p, id));
  }

  get vocabSize(): number {
    return this.vocab.pieces.length;
  }

  tokenText(id: number): string {
    return this.vocab.pieces[id] ?? outOfRange(id, this.vocabSize);
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    const out: number[] = [];
    if ((opts.addBos ?? this.vocab.addBos) && this.bosId !== undefined) out.push(this.bosId);
    if (text !== '') {
      const escaped = (this.vocab.addSpacePrefix ? ' ' + text : text).replaceAll(' ', SPACE_MARK);
      out.push(...this.symbolIds(this.mergeSymbols([...escaped])));
    }
    if ((opts.addEos ?? this.vocab.addEos) && this.eosId !== undefined) out.push(this.eosId);
    return out;
  }

  /** Merges adjacent symbols, best rank first (leftmost on ties), into pieces of the vocabulary. */
  private mergeSymbols(chars: string[]): string[] {
    const sym = [...chars];
    const next = chars.map((_, i) => i + 1);
    const prev = chars.map((_, i) => i - 1);
    const heap = new MaxHeap();
    const consider = (left: number) => {
      const right = left < 0 ? -1 : next[left];
      if (left < 0 || right >= sym.length) return;
      const id = this.ids.get(sym[left] + sym[right]);
      if (id !== undefined) heap.push({ score: this.rank[id], left, right, text: sym[left] + sym[right] });
    };
    for (let i = 0; i + 1 < sym.length; i++) consider(i);
    for (let b = heap.pop(); b; b = heap.pop()) {
      // Entries go stale when either side has since been merged into something else.
      if (next[b.left] !== b.right || sym[b.left] + sym[b.right] !== b.text) continue;
      sym[b.left] = b.text;
      sym[b.right] = '';
      next[b.left] = next[b.right];
      if (next[b.left] < sym.length) prev[next[b.left]] = b.left;
      next[b.right] = -1;
      consider(prev[b.left]);
      consider(b.left);
    }
    const out: string[] = [];
    for (let i = 0; i < sym.length; i = next[i]) out.push(sym[i]);
    return out;
  }

  /**
   * A merged symbol is always a piece; a lone character may not be: then its byte pieces, or,
   * when the vocabulary has none, <unk> (one for a run of such characters, as SentencePiece and
   * Hugging Face's fuse_unk do; llama.cpp has no answer here and stops).
   */
  private symbolIds(symbols: readonly string[]): number[] {
    const out: number[] = [];
    let unkRun = false;
    for (const symbol of symbols) {
      const id = this.ids.get(symbol);
      const bytes = id === undefined ? utf8Encode(symbol) : undefined;
      if (bytes && ![...bytes].every((b) => this.byteIds.has(b))) {
        if (!unkRun) out.push(this.vocab.unkId ?? noPiece(symbol));
        unkRun = true;
        continue;
      }
      unkRun = false;
      if (bytes) for (const b of bytes) out.push(this.byteIds.get(b)!);
      else out.push(id!);
    }
    return out;
  }

  decode(ids: readonly number[]): string {
    return utf8Decode(concatBytes(ids.map((id, i) => this.stepBytes(i > 0 ? ids[i - 1] : undefined, id))));
  }

  decodeStep(prev: number | undefined, id: number): string {
    return utf8Decode(this.stepBytes(prev, id));
  }

  tokenBytes(id: number): Uint8Array {
    return this.bytes[id] ?? outOfRange(id, this.vocabSize);
  }

  private stepBytes(prev: number | undefined, id: number): Uint8Array {
    const bytes = this.bytes[id] ?? outOfRange(id, this.vocabSize);
    const atStart = prev === undefined || prev === this.bosId;
    return atStart && this.vocab.addSpacePrefix && bytes[0] === 0x20 ? bytes.subarray(1) : bytes;
  }

  private pieceBytes(piece: string, id: number): Uint8Array {
    const type = this.vocab.types?.[id] ?? TokenType.normal;
    if (type === TokenType.control || type === TokenType.unused) return new Uint8Array(0);
    if (type === TokenType.unknown) return utf8Encode(' \u2047 '); // SentencePiece renders <unk> as " ⁇ "
    const byte = BYTE_PIECE.exec(piece);
    if (byte && this.byteIds.get(parseInt(byte[1], 16)) === id) return Uint8Array.of(parseInt(byte[1], 16));
    return utf8Encode(piece.replaceAll(SPACE_MARK, ' '));
  }
}

/**
 * Merge priority per id: the piece scores. llama.cpp's converter writes the same placeholder
 * score (-1000) for every token of a Hugging Face BPE tokenizer.json; there llama.cpp ends up
 * merging leftmost-first, which is not how the model's tokenizer split its training text. BPE
 * vocabularies list merged tokens in merge order, so for an all-equal table we rank by id
 * instead, which reproduces the original merges.
 */
function mergeRanks(vocab: SpmVocab): ArrayLike<number> {
  const s = vocab.scores;
  for (let i = 1; i < s.length; i++) if (s[i] !== s[0]) return s;
  return Float64Array.from({ length: vocab.pieces.length }, (_, id) => -id);
}

interface Bigram {
  readonly score: number;
  readonly left: number;
  readonly right: number;
  readonly text: string;
}

/** Highest score first; on equal scores the leftmost pair. */
class MaxHeap {
  private readonly items: Bigram[] = [];

  push(b: Bigram): void {
    const a = this.items;
    a.push(b);
    for (let i = a.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!before(a[i], a[p])) break;
      [a[i], a[p]] = [a[p], a[i]];
      i = p;
    }
  }

  pop(): Bigram | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && before(a[l], a[m])) m = l;
        if (r < a.length && before(a[r], a[m])) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }
}

function before(x: Bigram, y: Bigram): boolean {
  return x.score > y.score || (x.score === y.score && x.left < y.left);
}

function outOfRange(id: number, size: number): never {
  throw new RangeError(`token id ${id} is outside the vocabulary (0..${size - 1})`);
}

function noPiece(symbol: string): never {
  throw new Error(`cannot encode ${JSON.stringify(symbol)}: no piece, no byte piece and no <unk> in the vocabulary`);
}
