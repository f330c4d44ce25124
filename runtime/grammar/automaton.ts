// The grammar as a pushdown automaton over bytes and token ids (llama.cpp's stack model). A stack
// is a list of grammar positions: its top is the element to match next, the rest are where to
// continue once the top's rule ends. Stacks are hash-consed into integer ids (one node per
// (position, rest) pair), so a matcher state — the set of live stacks — is a sorted id list,
// interned too, and every transition is memoized: after warm-up a step is one map lookup.
import { BYTE, type CompiledGrammar, END, REF, TOKEN, TOKEN_NOT } from './compile.js';

/** The stack with nothing left to match: the grammar has accepted. */
const ACCEPTED = 0;
/** The state with no live stack: nothing can follow. */
export const DEAD = 0;

export class GrammarAutomaton {
  // Stack nodes: top position and the rest of the stack (ACCEPTED at the bottom).
  private readonly top: number[] = [-1];
  private readonly rest: number[] = [-1];
  private readonly nodeIds = new Map<number, number>();
  /** Stack id → the settled stacks left after its top element is matched. */
  private readonly afterTop = new Map<number, readonly number[]>();
  private readonly advancedStates = new Map<number, number>();
  // States: sorted settled stack ids, interned by their text.
  private readonly states: (readonly number[])[] = [[]];
  private readonly stateIds = new Map<string, number>([['', DEAD]]);
  /** State → its byte transitions (-1: not yet computed), made on the state's first step. */
  private readonly byteSteps: (Int32Array | undefined)[] = [];
  private readonly positions: number;

  constructor(readonly grammar: CompiledGrammar) {
    this.positions = grammar.kind.length;
  }

  /** The state before any input. */
  initial(): number {
    const settled = new Set<number>();
    for (const start of this.grammar.alternatives[this.grammar.root]) this.push(start, ACCEPTED, settled, new Set());
    return this.intern(settled);
  }

  /** The state after one more byte (DEAD when the byte cannot follow). */
  stepByte(state: number, byte: number): number {
    let table = this.byteSteps[state];
    if (table === undefined) table = this.byteSteps[state] = new Int32Array(256).fill(-1);
    const known = table[byte];
    if (known !== -1) return known;
    const { kind, a, b } = this.grammar;
    let id = DEAD;
    let union: number[] | undefined;
    for (const s of this.states[state]) {
      if (s === ACCEPTED) continue;
      const p = this.top[s];
      if (kind[p] !== BYTE || byte < a[p] || byte > b[p]) continue;
      // Most steps advance one stack: its successor state is interned once.
      const after = this.advancedState(s);
      if (id === DEAD) id = after;
      else (union ??= [...this.states[id]]).push(...this.states[after]);
    }
    if (union) id = this.intern(new Set(union));
    table[byte] = id;
    return id;
  }

  /**
   * The state after a whole token: stacks waiting for a token element match it by id (as
   * llama.cpp does), the others match its bytes.
   */
  stepToken(state: number, id: number, bytes: Uint8Array): number {
    let byByte = state;
    for (let i = 0; i < bytes.length && byByte !== DEAD; i++) byByte = this.stepByte(byByte, bytes[i]);
    if (bytes.length === 0) byByte = DEAD;
    const byId = this.tokenMatches(state, id);
    if (byId.length === 0) return byByte;
    const next = new Set<number>(this.states[byByte]);
    for (const s of byId) for (const t of this.advance(s)) next.add(t);
    return this.intern(next);
  }

  /** Stacks of `state` whose top is a token element matching `id`. */
  private tokenMatches(state: number, id: number): number[] {
    const { kind, a } = this.grammar;
    return this.states[state].filter((s) => s !== ACCEPTED && ((kind[this.top[s]] === TOKEN && a[this.top[s]] === id) || (kind[this.top[s]] === TOKEN_NOT && a[this.top[s]] !== id)));
  }

  /** Whether the input so far is a complete sentence of the grammar. */
  accepts(state: number): boolean {
    return this.states[state][0] === ACCEPTED;
  }

  /** Token elements waiting at the top of the state's stacks: [ids allowed, ids excluded by `!<[id]>`]. */
  tokenElements(state: number): { readonly allowed: number[]; readonly excluded: number[] } {
    const { kind, a } = this.grammar;
    const allowed: number[] = [];
    const excluded: number[] = [];
    for (const s of this.states[state]) {
      if (s === ACCEPTED) continue;
      if (kind[this.top[s]] === TOKEN) allowed.push(a[this.top[s]]);
      if (kind[this.top[s]] === TOKEN_NOT) excluded.push(a[this.top[s]]);
    }
    return { allowed, excluded };
  }

  /** Whether any stack of the state waits for a byte (else no text can follow). */
  wantsBytes(state: number): boolean {
    return this.states[state].some((s) => s !== ACCEPTED && this.grammar.kind[this.top[s]] === BYTE);
  }

  get stateCount(): number {
    return this.states.length;
  }

  /** The state whose stacks are advance(stack). */
  private advancedState(stack: number): number {
    let id = this.advancedStates.get(stack);
    if (id === undefined) {
      id = this.intern(new Set(this.advance(stack)));
      this.advancedStates.set(stack, id);
    }
    return id;
  }

  private advance(stack: number): readonly number[] {
    let out = this.afterTop.get(stack);
    if (out === undefined) {
      const settled = new Set<number>();
      this.push(this.top[stack] + 1, this.rest[stack], settled, new Set());
      out = [...settled];
      this.afterTop.set(stack, out);
    }
    return out;
  }

  /**
   * Adds to `out` every settled stack (top is a byte or token element, or ACCEPTED) reachable from
   * the stack (position `pos` on top of `rest`) without input. A rule reference at the end of an
   * alternative pushes no continuation (tail call), so repetition helpers do not grow the stack;
   * `seen` stops the walk where nullable rules lead back to a stack already being expanded.
   */
  private push(pos: number, rest: number, out: Set<number>, seen: Set<number>): void {
    const key = rest * this.positions + pos;
    if (seen.has(key)) return;
    seen.add(key);
    const { kind, a } = this.grammar;
    switch (kind[pos]) {
      case END:
        if (rest === ACCEPTED) out.add(ACCEPTED);
        else this.push(this.top[rest], this.rest[rest], out, seen);
        return;
      case REF: {
        const cont = kind[pos + 1] === END ? rest : this.node(pos + 1, rest);
        for (const start of this.grammar.alternatives[a[pos]]) this.push(start, cont, out, seen);
        return;
      }
      default:
        out.add(this.node(pos, rest));
    }
  }

  private node(pos: number, rest: number): number {
    const key = rest * this.positions + pos;
    let id = this.nodeIds.get(key);
    if (id === undefined) {
      id = this.top.length;
      this.top.push(pos);
      this.rest.push(rest);
      this.nodeIds.set(key, id);
    }
    return id;
  }

  private intern(stacks: Set<number>): number {
    const sorted = [...stacks].sort((x, y) => x - y);
    const key = sorted.join(',');
    let id = this.stateIds.get(key);
    if (id === undefined) {
      id = this.states.length;
      this.states.push(sorted);
      this.stateIds.set(key, id);
    }
    return id;
  }
}
