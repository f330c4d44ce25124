// Token-level constrained decoding. A GrammarConstraint pairs a grammar's automaton with a
// vocabulary and caches one mask per grammar state; a GrammarMatcher follows one generation
// through it. The mask of a state is exact: token t is allowed iff its bytes (or, for a token
// element, its id) lead to a live state; EOS is allowed iff the grammar accepts.
import { DEAD, GrammarAutomaton } from './automaton.js';
import type { CompiledGrammar } from './compile.js';
import { GrammarError } from './errors.js';
import type { TokenVocabulary } from './vocabulary.js';

/** One bit per token id. */
export type TokenMask = Uint32Array;

export function maskHas(mask: TokenMask, id: number): boolean {
  return (mask[id >>> 5] & (1 << (id & 31))) !== 0;
}

function setBit(mask: TokenMask, id: number): void {
  mask[id >>> 5] |= 1 << (id & 31);
}

/** A grammar bound to a vocabulary: shared by every generation that uses both (masks are cached). */
export class GrammarConstraint {
  readonly automaton: GrammarAutomaton;
  readonly initialState: number;
  private readonly masks = new Map<number, TokenMask>();
  private start: TokenMask | undefined;
  private readonly eos: readonly number[];

  constructor(grammar: CompiledGrammar, readonly vocabulary: TokenVocabulary, eosIds: readonly number[]) {
    this.automaton = new GrammarAutomaton(grammar);
    this.initialState = this.automaton.initial();
    this.eos = eosIds.filter((id) => id >= 0 && id < vocabulary.size);
  }

  /** The allowed tokens in `state`, computed once per state. */
  mask(state: number): TokenMask {
    let mask = this.masks.get(state);
    if (mask === undefined) {
      mask = this.computeMask(state);
      this.masks.set(state, mask);
    }
    return mask;
  }

  /**
   * The first step's mask where the output starts the text and the tokenizer drops one leading
   * space there (SentencePiece's dummy prefix, llama2.c after BOS): a token " x" writes "x".
   */
  startMask(): TokenMask {
    if (this.start === undefined) {
      const mask = Uint32Array.from(this.mask(this.initialState));
      this.vocabulary.bytes.forEach((bytes, id) => {
        if (bytes[0] !== 0x20 || this.isEos(id)) return;
        if (this.nextAtStart(this.initialState, id) !== DEAD) setBit(mask, id);
        else mask[id >>> 5] &= ~(1 << (id & 31));
      });
      this.start = mask;
    }
    return this.start;
  }

  /** `next` for the first token of a text whose leading space is dropped. */
  nextAtStart(state: number, id: number): number {
    const bytes = this.vocabulary.bytes[id];
    if (this.isEos(id) || bytes[0] !== 0x20) return this.next(state, id);
    return this.automaton.stepToken(state, id, bytes.subarray(1));
  }

  next(state: number, id: number): number {
    if (this.eos.includes(id)) return this.automaton.accepts(state) ? state : DEAD;
    return this.automaton.stepToken(state, id, this.vocabulary.bytes[id]);
  }

  isEos(id: number): boolean {
    return this.eos.includes(id);
  }

  get cachedMasks(): number {
    return this.masks.size;
  }

  private computeMask(state: number): TokenMask {
    const V = this.vocabulary.size;
    const mask: TokenMask = new Uint32Array((V + 31) >>> 5);
    const { byte, depth, end, tokenStart, tokens, maxDepth } = this.vocabulary.trie;
    const automaton = this.automaton;
    if (automaton.wantsBytes(state)) {
      const at = new Int32Array(maxDepth + 1);
      at[0] = state;
      const n = byte.length;
      for (let i = 1; i < n;) {
        const s = automaton.stepByte(at[depth[i] - 1], byte[i]);
        if (s === DEAD) {
          i = end[i];
          continue;
        }
        at[depth[i]] = s;
        for (let k = tokenStart[i]; k < tokenStart[i + 1]; k++) setBit(mask, tokens[k]);
        i++;
      }
    }
    const { allowed, excluded } = automaton.tokenElements(state);
    for (const id of allowed) if (id < V) setBit(mask, id);
    if (excluded.length > 0) {
      // `!<[a]>` allows every token but a; two different exclusions together allow all.
      const except = new Set(excluded).size === 1 ? excluded[0] : -1;
      for (let id = 0; id < V; id++) if (id !== except && !this.eos.includes(id)) setBit(mask, id);
    }
    for (const id of this.eos) {
      if (automaton.accepts(state)) setBit(mask, id);
      else mask[id >>> 5] &= ~(1 << (id & 31));
    }
    return mask;
  }
}

/** One generation's position in a constraint. */
export class GrammarMatcher {
  private state: number;
  /** Bytes accepted so far, for messages. */
  private readonly text: number[] = [];

  /** `atTextStart`: the output begins the text, where the tokenizer drops a token's leading space. */
  constructor(readonly constraint: GrammarConstraint, private atTextStart = false) {
    this.state = constraint.initialState;
  }

  /** The tokens that may come next. */
  mask(): TokenMask {
    return this.atTextStart ? this.constraint.startMask() : this.constraint.mask(this.state);
  }

  /** Whether the output so far is complete. */
  get accepts(): boolean {
    return this.constraint.automaton.accepts(this.state);
  }

  /** Whether the output is complete and nothing but end-of-sequence may follow: generation is over. */
  get finished(): boolean {
    if (!this.accepts) return false;
    const mask = this.mask();
    for (let w = 0; w < mask.length; w++) {
      let bits = mask[w];
      while (bits !== 0) {
        const id = w * 32 + (31 - Math.clz32(bits & -bits));
        if (!this.constraint.isEos(id)) return false;
        bits &= bits - 1;
      }
    }
    return true;
  }

  /** Sets every logit the grammar forbids to -Infinity, in place. Throws when no token may follow. */
  apply(logits: Float32Array): void {
    const mask = this.mask();
    let any = false;
    for (let w = 0; w < mask.length; w++) {
      const bits = mask[w];
      if (bits === 0xffffffff) { any = true; continue; }
      if (bits !== 0) any = true;
      const base = w * 32;
      const top = Math.min(32, logits.length - base);
      for (let j = 0; j < top; j++) if ((bits & (1 << j)) === 0) logits[base + j] = -Infinity;
    }
    for (let id = mask.length * 32; id < logits.length; id++) logits[id] = -Infinity;
    if (!any) throw this.stuck();
  }

  /** Moves past `id`; throws when the grammar does not allow it. */
  accept(id: number): void {
    const next = this.atTextStart ? this.constraint.nextAtStart(this.state, id) : this.constraint.next(this.state, id);
    if (next === DEAD) throw new GrammarError(`token ${id} cannot follow ${this.describeText()} under the grammar`);
    const bytes = this.constraint.vocabulary.bytes[id];
    if (!this.constraint.isEos(id)) for (const b of this.atTextStart && bytes[0] === 0x20 ? bytes.subarray(1) : bytes) this.text.push(b);
    this.state = next;
    this.atTextStart = false;
  }

  private stuck(): GrammarError {
    return new GrammarError(`no token of the vocabulary can continue ${this.describeText()}: the grammar needs text the model's tokens cannot spell`);
  }

  private describeText(): string {
    const text = new TextDecoder().decode(Uint8Array.from(this.text.slice(-40)));
    return this.text.length === 0 ? 'the start of the output' : `the output ending ${JSON.stringify(text)}`;
  }
}
