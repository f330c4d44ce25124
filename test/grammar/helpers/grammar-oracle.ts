// A brute-force recognizer for the random grammars, independent of the matcher: it works on the
// expression tree and whole code points, with direct recursion over positions. `viable(bytes)`:
// some sentence of the grammar starts with these bytes; `complete(bytes)`: they are a sentence.
import type { CodeRange, GrammarExpr } from '../../../runtime/grammar/ast.js';
import type { RandomGrammar } from './random-grammar.js';

interface Input {
  readonly cps: readonly number[];
  /** Bytes of an unfinished last character. */
  readonly tail: readonly number[];
}

export class GrammarOracle {
  constructor(private readonly g: RandomGrammar) {}

  viable(bytes: Uint8Array): boolean {
    const input = decode(bytes);
    return input !== undefined && new Run(this.g, input).prefix(this.g.rules[0], 0);
  }

  complete(bytes: Uint8Array): boolean {
    const input = decode(bytes);
    return input !== undefined && input.tail.length === 0 && new Run(this.g, input).ends(this.g.rules[0], 0).has(input.cps.length);
  }
}

class Run {
  private readonly endMemo = new Map<GrammarExpr, Map<number, Set<number>>>();
  private readonly n: number;

  constructor(private readonly g: RandomGrammar, private readonly input: Input) {
    this.n = input.cps.length;
  }

  /** Positions j such that cps[i..j) is in L(e). */
  ends(e: GrammarExpr, i: number): Set<number> {
    let m = this.endMemo.get(e);
    if (!m) this.endMemo.set(e, (m = new Map()));
    let out = m.get(i);
    if (!out) {
      out = this.computeEnds(e, i);
      m.set(i, out);
    }
    return out;
  }

  private computeEnds(e: GrammarExpr, i: number): Set<number> {
    const { cps } = this.input;
    switch (e.kind) {
      case 'literal': return e.codePoints.every((c, k) => cps[i + k] === c) ? new Set([i + e.codePoints.length]) : new Set();
      case 'chars': return i < this.n && inClass(e, cps[i]) ? new Set([i + 1]) : new Set();
      case 'ref': return this.ends(this.rule(e.name), i);
      case 'token': return new Set();
      case 'seq': {
        let at = new Set([i]);
        for (const item of e.items) at = new Set([...at].flatMap((j) => [...this.ends(item, j)]));
        return at;
      }
      case 'alt': return new Set(e.options.flatMap((o) => [...this.ends(o, i)]));
      case 'repeat': return new Set(this.copies(e.item, i, e.max).filter(([k]) => k >= e.min).map(([, j]) => j));
    }
  }

  /** [copies, end] pairs reachable with at most `max` copies of `item` from i (bounded: positions repeat). */
  private copies(item: GrammarExpr, i: number, max: number): [number, number][] {
    const out: [number, number][] = [[0, i]];
    let frontier = new Set([i]);
    const limit = Math.min(max, this.n + 3);
    for (let k = 1; k <= limit && frontier.size > 0; k++) {
      frontier = new Set([...frontier].flatMap((j) => [...this.ends(item, j)]));
      for (const j of frontier) out.push([k, j]);
    }
    // Beyond `limit` copies (max = ∞) only empty matches add nothing new; count them as ≥ min.
    if (max === Infinity) for (const j of frontier) out.push([Infinity, j]);
    return out;
  }

  /** Some word of L(e) starts with cps[i..] + tail. */
  prefix(e: GrammarExpr, i: number): boolean {
    const { cps, tail } = this.input;
    const atEnd = i === this.n && tail.length === 0;
    switch (e.kind) {
      case 'literal': {
        const k = e.codePoints.length;
        const m = this.n - i;
        if (m > k) return false;
        if (!cps.slice(i).every((c, j) => c === e.codePoints[j])) return false;
        if (m === k) return tail.length === 0;
        return tail.length === 0 || startsWith(utf8(e.codePoints[m]), tail);
      }
      case 'chars':
        if (this.n - i > 1) return false;
        if (this.n - i === 1) return tail.length === 0 && inClass(e, cps[i]);
        return classHasCompletion(e, tail);
      case 'ref': return this.prefix(this.rule(e.name), i);
      case 'token': return atEnd;
      case 'seq': {
        let at = new Set([i]);
        for (const item of e.items) {
          if ([...at].some((j) => this.prefix(item, j))) return true;
          at = new Set([...at].flatMap((j) => [...this.ends(item, j)]));
        }
        return tail.length === 0 && at.has(this.n);
      }
      case 'alt': return e.options.some((o) => this.prefix(o, i));
      case 'repeat': {
        const reach = this.copies(e.item, i, e.max);
        if (tail.length === 0 && reach.some(([, j]) => j === this.n)) return true;
        return reach.some(([k, j]) => k < e.max && this.prefix(e.item, j));
      }
    }
  }

  private rule(name: string): GrammarExpr {
    return this.g.rules[Number(name.slice(1))];
  }
}

function inClass(e: { ranges: readonly CodeRange[]; negated: boolean }, c: number): boolean {
  if (c >= 0xd800 && c <= 0xdfff) return false;
  return e.ranges.some((r) => c >= r.lo && c <= r.hi) !== e.negated;
}

/** Some code point of the class has an encoding starting with `tail` (empty: the class is non-empty). */
function classHasCompletion(e: { ranges: readonly CodeRange[]; negated: boolean }, tail: readonly number[]): boolean {
  const len = tail.length === 0 ? 0 : tail[0] < 0x80 ? 1 : tail[0] >= 0xf0 ? 4 : tail[0] >= 0xe0 ? 3 : 2;
  const candidates: CodeRange[] = [];
  if (len === 0) candidates.push({ lo: 0, hi: 0x10ffff });
  else {
    const pad = (b: number) => [...tail, ...Array(len - tail.length).fill(b)];
    const lo = Math.max(decodeOne(pad(0x80)), [0, 0, 0x80, 0x800, 0x10000][len]);
    const hi = Math.min(decodeOne(pad(0xbf)), [0, 0x7f, 0x7ff, 0xffff, 0x10ffff][len]);
    if (lo <= hi) candidates.push({ lo, hi });
  }
  // Scan each candidate interval split by the class's range boundaries: a class member exists iff
  // one of the boundary points (or interval ends) inside the interval is a member.
  for (const c of candidates) {
    const points = new Set([c.lo, c.hi]);
    for (const r of e.ranges) for (const p of [r.lo - 1, r.lo, r.hi, r.hi + 1, 0xd7ff, 0xe000]) if (p >= c.lo && p <= c.hi) points.add(p);
    if ([...points].some((p) => inClass(e, p))) return true;
  }
  return false;
}

function decodeOne(bytes: readonly number[]): number {
  const b0 = bytes[0];
  if (bytes.length === 1) return b0;
  let cp = b0 & (bytes.length === 2 ? 0x1f : bytes.length === 3 ? 0x0f : 0x07);
  for (const b of bytes.slice(1)) cp = (cp << 6) | (b & 0x3f);
  return cp;
}

/** Strict UTF-8 decoding; an unfinished last character is the tail. Undefined if invalid. */
function decode(bytes: Uint8Array): Input | undefined {
  const cps: number[] = [];
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    const len = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (len === 0) return undefined;
    const chunk = [...bytes.subarray(i, i + len)];
    if (chunk.slice(1).some((x) => (x & 0xc0) !== 0x80)) return undefined;
    if (chunk.length < len) {
      // A valid beginning of some character?
      const lo = decodeOne([...chunk, ...Array(len - chunk.length).fill(0x80)]);
      const hi = decodeOne([...chunk, ...Array(len - chunk.length).fill(0xbf)]);
      const ok = Math.max(lo, [0, 0, 0x80, 0x800, 0x10000][len]) <= Math.min(hi, [0, 0x7f, 0x7ff, 0xffff, 0x10ffff][len]);
      return ok ? { cps, tail: chunk } : undefined;
    }
    const cp = decodeOne(chunk);
    if (cp < [0, 0, 0x80, 0x800, 0x10000][len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return undefined;
    cps.push(cp);
    i += len;
  }
  return { cps, tail: [] };
}

function utf8(cp: number): number[] {
  return [...new TextEncoder().encode(String.fromCodePoint(cp))];
}

function startsWith(xs: readonly number[], prefix: readonly number[]): boolean {
  return prefix.length <= xs.length && prefix.every((b, i) => xs[i] === b);
}
