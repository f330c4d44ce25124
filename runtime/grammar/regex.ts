// A JSON schema `pattern` (ECMAScript regex syntax, the regular part) → a GBNF expression for the
// string's content between its quotes. Supported: literals and escapes, . \d \w \s (and \D \W
// \S), classes with ranges and negation, groups ( ) (?: ), alternation, * + ? {m} {m,} {m,n}
// (lazy ? suffix ignored: it matches the same strings), ^ and $ at the ends. Characters JSON must
// escape (" \ and controls) are left out of what the pattern can produce. Anything else
// (backreferences, lookaround) is not a regular language and is refused with a SchemaError.
import type { CodeRange } from './ast.js';
import { SchemaError } from './errors.js';

const DIGIT: CodeRange[] = [{ lo: 0x30, hi: 0x39 }];
const WORD: CodeRange[] = [{ lo: 0x30, hi: 0x39 }, { lo: 0x41, hi: 0x5a }, { lo: 0x5f, hi: 0x5f }, { lo: 0x61, hi: 0x7a }];
const SPACE: CodeRange[] = [{ lo: 0x09, hi: 0x0d }, { lo: 0x20, hi: 0x20 }];
/** What a JSON string holds unescaped: not ", \, or a control character. */
const UNSAFE: CodeRange[] = [{ lo: 0x00, hi: 0x1f }, { lo: 0x22, hi: 0x22 }, { lo: 0x5c, hi: 0x5c }, { lo: 0x7f, hi: 0x7f }];
const CLASS_ESCAPES: Readonly<Record<string, { ranges: CodeRange[]; negated: boolean }>> = {
  d: { ranges: DIGIT, negated: false }, D: { ranges: DIGIT, negated: true },
  w: { ranges: WORD, negated: false }, W: { ranges: WORD, negated: true },
  s: { ranges: SPACE, negated: false }, S: { ranges: SPACE, negated: true },
};
const CHAR_ESCAPES: Readonly<Record<string, number>> = { n: 10, r: 13, t: 9, f: 12, v: 11, '0': 0 };

export function patternToGbnf(pattern: string, path: string): string {
  return new RegexTranslator(pattern, path).translate();
}

class RegexTranslator {
  private pos = 0;

  constructor(private readonly src: string, private readonly path: string) {}

  translate(): string {
    const anchoredStart = this.src.startsWith('^');
    if (anchoredStart) this.pos = 1;
    const body = this.alternation();
    let anchoredEnd = false;
    if (this.src[this.pos] === '$' && this.pos === this.src.length - 1) {
      anchoredEnd = true;
      this.pos++;
    }
    if (this.pos !== this.src.length) throw this.error(`unexpected '${this.src[this.pos]}'`);
    // Unanchored patterns match anywhere in the string (JSON Schema's search semantics).
    const any = `${charClass([], true)}*`;
    return [anchoredStart ? '' : any, body, anchoredEnd ? '' : any].filter((s) => s !== '').join(' ') || '""';
  }

  private alternation(): string {
    const options = [this.sequence()];
    while (this.src[this.pos] === '|') {
      this.pos++;
      options.push(this.sequence());
    }
    return options.length === 1 ? options[0] : `(${options.join(' | ')})`;
  }

  private sequence(): string {
    const items: string[] = [];
    for (;;) {
      const c = this.src[this.pos];
      if (c === undefined || c === '|' || c === ')' || (c === '$' && this.pos === this.src.length - 1)) break;
      let atom = this.atom();
      atom = this.quantified(atom);
      items.push(atom);
    }
    return items.length === 0 ? '""' : items.length === 1 ? items[0] : `(${items.join(' ')})`;
  }

  private atom(): string {
    const c = this.src[this.pos++];
    if (c === '(') {
      if (this.src.startsWith('?:', this.pos)) this.pos += 2;
      else if (this.src[this.pos] === '?') throw this.error('lookaround and named groups are not regular; only ( ) and (?: ) groups are supported');
      const inner = this.alternation();
      if (this.src[this.pos] !== ')') throw this.error(`expecting ')'`);
      this.pos++;
      return `(${inner})`;
    }
    if (c === '[') return this.bracket();
    if (c === '.') return charClass([{ lo: 10, hi: 10 }, { lo: 13, hi: 13 }], true);
    if (c === '\\') {
      const e = this.src[this.pos++];
      if (e === undefined) throw this.error('the pattern ends in a lone backslash');
      const cls = CLASS_ESCAPES[e];
      if (cls) return charClass(cls.ranges, cls.negated);
      if (/[1-9]/.test(e)) throw this.error('backreferences are not regular and cannot become a grammar');
      return literal(this.escapedChar(e));
    }
    if (c === '*' || c === '+' || c === '?' || c === '{') throw this.error(`'${c}' has nothing to repeat`);
    if (c === '^' || c === '$') throw this.error(`'${c}' is only supported at the start / end of the pattern`);
    const cp = this.src.codePointAt(this.pos - 1)!;
    if (cp > 0xffff) this.pos++;
    return literal(cp);
  }

  private escapedChar(e: string): number {
    if (e in CHAR_ESCAPES) return CHAR_ESCAPES[e];
    if (e === 'x' || e === 'u') {
      const n = e === 'x' ? 2 : 4;
      const hex = this.src.slice(this.pos, this.pos + n);
      if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== n) throw this.error(`\\${e} needs ${n} hex digits`);
      this.pos += n;
      return parseInt(hex, 16);
    }
    if (/[a-zA-Z]/.test(e)) throw this.error(`the escape \\${e} is not supported`);
    return e.codePointAt(0)!;
  }

  private bracket(): string {
    const negated = this.src[this.pos] === '^';
    if (negated) this.pos++;
    const ranges: CodeRange[] = [];
    let first = true;
    while (this.src[this.pos] !== ']' || first) {
      first = false;
      if (this.pos >= this.src.length) throw this.error('the character class never ends');
      const lo = this.classAtom(ranges);
      if (lo === undefined) continue;
      if (this.src[this.pos] === '-' && this.src[this.pos + 1] !== ']' && this.pos + 1 < this.src.length) {
        this.pos++;
        const hi = this.classAtom(ranges);
        if (hi === undefined || hi < lo) throw this.error('a class range must run from a character to a later one');
        ranges.push({ lo, hi });
      } else ranges.push({ lo, hi: lo });
    }
    this.pos++;
    if (negated) return charClass(ranges, true);
    // A class escape (\d) inside a negated class would need set difference; positive is a union.
    return charClass(ranges, false);
  }

  /** One character of a class, or undefined after adding a class escape's ranges. */
  private classAtom(ranges: CodeRange[]): number | undefined {
    const c = this.src[this.pos++];
    if (c !== '\\') {
      const cp = this.src.codePointAt(this.pos - 1)!;
      if (cp > 0xffff) this.pos++;
      return cp;
    }
    const e = this.src[this.pos++];
    if (e === undefined) throw this.error('the pattern ends in a lone backslash');
    const cls = CLASS_ESCAPES[e];
    if (cls) {
      if (cls.negated) throw this.error(`\\${e} inside a character class is not supported`);
      ranges.push(...cls.ranges);
      return undefined;
    }
    if (e === 'b') return 8;
    return this.escapedChar(e);
  }

  private quantified(atom: string): string {
    const c = this.src[this.pos];
    let q: string | undefined;
    if (c === '*' || c === '+' || c === '?') {
      this.pos++;
      q = c;
    } else if (c === '{') {
      const m = /^\{(\d*)(,(\d*))?\}/.exec(this.src.slice(this.pos));
      if (!m || (m[1] === '' && m[2] === undefined)) return atom; // a literal "{", as ECMAScript reads it
      this.pos += m[0].length;
      q = `{${m[1] || '0'}${m[2] === undefined ? '' : `,${m[3]}`}}`;
    }
    if (q === undefined) return atom;
    if (this.src[this.pos] === '?') this.pos++; // lazy: same language
    if (this.src[this.pos] === '*' || this.src[this.pos] === '+' || this.src[this.pos] === '{') throw this.error('a quantifier cannot follow another');
    return `${atom}${q}`;
  }

  private error(message: string): SchemaError {
    return new SchemaError(`pattern ${JSON.stringify(this.src)} at offset ${this.pos}: ${message}`, this.path);
  }
}

/** A code point as JSON writes it inside a string, as a GBNF literal. */
function literal(cp: number): string {
  const escapes: Record<number, string> = { 0x22: '\\\\\\"', 0x5c: '\\\\\\\\', 10: '\\\\n', 13: '\\\\r', 9: '\\\\t', 8: '\\\\b', 12: '\\\\f' };
  if (escapes[cp] !== undefined) return `"${escapes[cp]}"`;
  if (cp < 0x20 || cp === 0x7f) return `"\\\\u${cp.toString(16).padStart(4, '0')}"`;
  return `"${gbnfChar(cp)}"`;
}

/** A class of code points, without the ones JSON must escape. */
function charClass(ranges: readonly CodeRange[], negated: boolean): string {
  const parts = negated ? [...ranges, ...UNSAFE] : subtractUnsafe(ranges);
  if (!negated && parts.length === 0) return '[^\\x00-\\U0010FFFF]';
  return `[${negated ? '^' : ''}${parts.map((r) => (r.lo === r.hi ? gbnfChar(r.lo) : `${gbnfChar(r.lo)}-${gbnfChar(r.hi)}`)).join('')}]`;
}

function subtractUnsafe(ranges: readonly CodeRange[]): CodeRange[] {
  let out = [...ranges];
  for (const cut of UNSAFE) {
    out = out.flatMap((r) => {
      if (r.hi < cut.lo || r.lo > cut.hi) return [r];
      const keep: CodeRange[] = [];
      if (r.lo < cut.lo) keep.push({ lo: r.lo, hi: cut.lo - 1 });
      if (r.hi > cut.hi) keep.push({ lo: cut.hi + 1, hi: r.hi });
      return keep;
    });
  }
  return out;
}

/** A code point inside a GBNF string or class: letters and digits as they are, the rest escaped. */
export function gbnfChar(cp: number): string {
  if (/[a-zA-Z0-9 _,;:!?@#%&'=<>~`.+*()|{}$/]/.test(String.fromCodePoint(cp))) return String.fromCodePoint(cp);
  return cp <= 0xff ? `\\x${cp.toString(16).padStart(2, '0')}` : cp <= 0xffff ? `\\u${cp.toString(16).padStart(4, '0')}` : `\\U${cp.toString(16).padStart(8, '0')}`;
}
