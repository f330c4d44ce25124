// The common tokenizer interface, and streaming decoding on top of it.

export interface EncodeOptions {
  /** Prepend the BOS token. Default: what the tokenizer's own configuration says. */
  addBos?: boolean;
  /** Append the EOS token. Default: what the tokenizer's own configuration says (usually no). */
  addEos?: boolean;
}

/**
 * Text ↔ token ids for one vocabulary. Implementations are immutable, so one instance can serve
 * any number of concurrent generations.
 */
export interface Tokenizer {
  /** Number of ids (the model's embedding rows may be more, never fewer). */
  readonly vocabSize: number;
  readonly bosId?: number;
  readonly eosId?: number;
  encode(text: string, opts?: EncodeOptions): number[];
  /**
   * The text of a whole sequence. Control tokens (BOS, EOS, …) produce no text; byte tokens are
   * joined before UTF-8 decoding, so characters split across tokens come out whole (bytes that
   * never form a character become U+FFFD).
   */
  decode(ids: readonly number[]): string;
  /** The vocabulary entry for an id, as stored (e.g. "▁the", "<0x0A>", "Ġthe"), for display. */
  tokenText(id: number): string;
  /**
   * The text token `id` adds when it follows `prev` (undefined at the start of the text): this
   * is where rules like "drop the leading space after BOS" apply. Stateless, so a token holding
   * only part of a multi-byte character yields U+FFFD here; to print generated text use
   * `TokenStream`, which buffers such tokens until their character is complete.
   */
  decodeStep(prev: number | undefined, id: number): string;
  /**
   * The bytes token `id` adds in the middle of a text (no start-of-text rule; byte tokens are
   * their byte; control tokens none): what grammar-constrained sampling matches tokens by.
   */
  tokenBytes(id: number): Uint8Array;
}

/** Splits a whole decode into per-step output, never emitting half a character. */
export class TokenStream {
  private readonly ids: number[] = [];
  /** Index in `ids` where the decoding window starts. */
  private base = 0;
  /** decode(ids[base..]) as far as it has been emitted. */
  private emitted = '';

  constructor(private readonly tok: Tokenizer) {}

  /** Adds a token; returns the text now complete (possibly ''). */
  push(id: number): string {
    this.ids.push(id);
    const text = this.tok.decode(this.ids.slice(this.base));
    if (text.endsWith('\uFFFD') || !text.startsWith(this.emitted)) return ''; // wait for more bytes
    const fresh = text.slice(this.emitted.length);
    this.emitted = text;
    this.rebase();
    return fresh;
  }

  /** Whatever is still held back (incomplete bytes decode to U+FFFD). */
  flush(): string {
    const text = this.tok.decode(this.ids.slice(this.base));
    const rest = text.startsWith(this.emitted) ? text.slice(this.emitted.length) : '';
    this.emitted = text;
    return rest;
  }

  /**
   * Keeps the window short so each step costs O(1) decodes of a few tokens. A few tokens of
   * context stay in the window: decoders treat the start of text specially (e.g. strip one
   * space), and that must land on text that was already emitted.
   */
  private rebase(): void {
    const KEEP = 4;
    if (this.ids.length - this.base < 2 * KEEP) return;
    const base = this.ids.length - KEEP;
    const text = this.tok.decode(this.ids.slice(base));
    if (text === '' || text.endsWith('\uFFFD')) return;
    this.base = base;
    this.emitted = text;
  }
}

/** Bytes → string, joining multi-byte characters (invalid bytes become U+FFFD). */
export function utf8Decode(bytes: Uint8Array): string {
  return UTF8_DECODER.decode(bytes);
}
const UTF8_DECODER = new TextDecoder('utf-8');

export function utf8Encode(text: string): Uint8Array {
  return UTF8_ENCODER.encode(text);
}
const UTF8_ENCODER = new TextEncoder();

/** Concatenates byte pieces. */
export function concatBytes(pieces: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
