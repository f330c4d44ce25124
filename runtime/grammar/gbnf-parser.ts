// GBNF (llama.cpp's grammar format) text → GrammarAst. Hand-written recursive descent, following
// llama.cpp's rules for what a GBNF file may say:
//   rule      ::= name "::=" alternates (newline | end)
//   alternates::= sequence ("|" sequence)*          newlines may follow "|" and "(" and come inside (…)
//   sequence  ::= (item repetition*)*                an empty sequence matches the empty string
//   item      ::= "string" | [class] | [^class] | . | name | ( alternates ) | <[id]> | !<[id]>
//   repetition::= * | + | ? | {m} | {m,} | {m,n} | {,n}
// Names are [a-zA-Z0-9-]+; `#` starts a comment; escapes are \xHH \uHHHH \UHHHHHHHH \t \r \n \\ \" \[ \].
// Errors are GrammarErrors at line:column.
import type { SourceLoc } from '../../ir/errors.js';
import { type CodeRange, EMPTY, type GrammarAst, type GrammarExpr, type GrammarRule } from './ast.js';
import { GrammarError } from './errors.js';

/** Above this many repetitions llama.cpp refuses a grammar too; the expansion would be huge. */
export const MAX_REPETITIONS = 2000;

export function parseGbnf(text: string, file?: string): GrammarAst {
  return new GbnfParser(text, file).parse();
}

const SIMPLE_ESCAPES: Readonly<Record<string, number>> = { t: 9, r: 13, n: 10, '\\': 92, '"': 34, '[': 91, ']': 93 };
const HEX_ESCAPES: Readonly<Record<string, number>> = { x: 2, u: 4, U: 8 };

class GbnfParser {
  private pos = 0;
  private readonly rules = new Map<string, GrammarRule>();
  /** Offsets where each line starts, for line:column. */
  private readonly lineStarts: number[] = [0];

  constructor(private readonly text: string, private readonly file?: string) {
    for (let i = 0; i < text.length; i++) if (text[i] === '\n') this.lineStarts.push(i + 1);
  }

  parse(): GrammarAst {
    this.space(true);
    while (this.pos < this.text.length) this.rule();
    if (this.rules.size === 0) throw new GrammarError('the grammar defines no rules; write at least `root ::= …`', this.loc(0));
    return { rules: this.rules };
  }

  private rule(): void {
    const at = this.pos;
    const name = this.name();
    this.space(false);
    if (!this.text.startsWith('::=', this.pos)) throw this.error(`expecting '::=' after the rule name '${name}'`);
    this.pos += 3;
    this.space(true);
    const expr = this.alternates(false);
    const c = this.peek();
    if (c === '\r') this.pos += this.text[this.pos + 1] === '\n' ? 2 : 1;
    else if (c === '\n') this.pos++;
    else if (c !== undefined) throw this.error(`expecting the end of the line after rule '${name}', found ${describe(c)}`);
    if (this.rules.has(name)) throw new GrammarError(`rule '${name}' is defined twice (first at ${this.locText(this.rules.get(name)!.loc)}); merge the definitions with |`, this.loc(at));
    this.rules.set(name, { name, expr, loc: this.loc(at) });
    this.space(true);
  }

  private alternates(nested: boolean): GrammarExpr {
    const options = [this.sequence(nested)];
    while (this.peek() === '|') {
      this.pos++;
      this.space(true);
      options.push(this.sequence(nested));
    }
    return options.length === 1 ? options[0] : { kind: 'alt', options };
  }

  private sequence(nested: boolean): GrammarExpr {
    const items: GrammarExpr[] = [];
    for (;;) {
      const c = this.peek();
      const start = this.pos;
      let item: GrammarExpr | undefined;
      if (c === '"') item = this.literal();
      else if (c === '[') item = this.charClass();
      else if (c === '.') { this.pos++; item = { kind: 'chars', ranges: [], negated: true }; }
      else if (c === '<' || c === '!') item = this.token();
      else if (c === '(') {
        this.pos++;
        this.space(true);
        item = this.alternates(true);
        if (this.peek() !== ')') throw this.error(`expecting ')' to close the group opened at ${this.locText(this.loc(start))}${this.peek() === undefined ? ', found the end of the grammar' : `, found ${describe(this.peek()!)}`}`);
        this.pos++;
      } else if (c !== undefined && isWordChar(c)) {
        const name = this.name();
        item = { kind: 'ref', name, loc: this.loc(start) };
      } else if (c === '*' || c === '+' || c === '?' || c === '{') {
        if (items.length === 0) throw this.error(`'${c}' must follow an item to repeat`);
        const [min, max] = this.repetition();
        items.push({ kind: 'repeat', item: items.pop()!, min, max });
        this.space(nested);
        continue;
      } else break;
      items.push(item);
      this.space(nested);
    }
    return items.length === 1 ? items[0] : items.length === 0 ? EMPTY : { kind: 'seq', items };
  }

  private repetition(): [number, number] {
    const c = this.text[this.pos++];
    if (c === '*') return [0, Infinity];
    if (c === '+') return [1, Infinity];
    if (c === '?') return [0, 1];
    this.space(true);
    const min = this.peek() === ',' ? 0 : this.integer('the least number of repetitions');
    this.space(true);
    let max = min;
    if (this.peek() === ',') {
      this.pos++;
      this.space(true);
      max = isDigit(this.peek()) ? this.integer('the most repetitions') : Infinity;
      this.space(true);
    }
    if (this.peek() !== '}') throw this.error(`expecting '}' to close the repetition`);
    this.pos++;
    if (min > MAX_REPETITIONS) throw this.error(`${min} repetitions are more than the ${MAX_REPETITIONS} a grammar may ask for`);
    if (max < min) throw this.error(`the repetition {${min},${max}} has its maximum below its minimum`);
    // As llama.cpp: a huge maximum means "no maximum" rather than thousands of optional copies.
    return [min, max > MAX_REPETITIONS ? Infinity : max];
  }

  private literal(): GrammarExpr {
    const start = this.pos++;
    const codePoints: number[] = [];
    while (this.peek() !== '"') {
      if (this.peek() === undefined) throw new GrammarError('the string never ends (no closing ")', this.loc(start));
      codePoints.push(this.char());
    }
    this.pos++;
    return { kind: 'literal', codePoints };
  }

  private charClass(): GrammarExpr {
    const start = this.pos++;
    const negated = this.peek() === '^';
    if (negated) this.pos++;
    const ranges: CodeRange[] = [];
    while (this.peek() !== ']') {
      if (this.peek() === undefined) throw new GrammarError('the character class never ends (no closing ])', this.loc(start));
      const at = this.pos;
      const lo = this.char();
      let hi = lo;
      if (this.peek() === '-' && this.text[this.pos + 1] !== ']' && this.pos + 1 < this.text.length) {
        this.pos++;
        hi = this.char();
        if (hi < lo) throw new GrammarError(`the range ${this.text.slice(at, this.pos)} runs backwards (U+${hex(lo)} > U+${hex(hi)})`, this.loc(at));
      }
      ranges.push({ lo, hi });
    }
    this.pos++;
    return { kind: 'chars', ranges, negated };
  }

  private token(): GrammarExpr {
    const negated = this.peek() === '!';
    if (negated) this.pos++;
    if (this.peek() !== '<') throw this.error(`expecting '<' after '!' (a token other than one: !<[id]>)`);
    if (this.text[this.pos + 1] !== '[') throw this.error('a token is written <[id]> with its numeric id (tokens by text are not supported)');
    this.pos += 2;
    const id = this.integer('a token id');
    if (!this.text.startsWith(']>', this.pos)) throw this.error(`expecting ']>' to close the token <[${id}`);
    this.pos += 2;
    return { kind: 'token', id, negated };
  }

  /** One character of a string or class: an escape or a code point. */
  private char(): number {
    const at = this.pos;
    const c = this.text.codePointAt(this.pos)!;
    if (c !== 0x5c) {
      this.pos += c > 0xffff ? 2 : 1;
      return c;
    }
    const e = this.text[this.pos + 1];
    if (e !== undefined && e in SIMPLE_ESCAPES) {
      this.pos += 2;
      return SIMPLE_ESCAPES[e];
    }
    if (e !== undefined && e in HEX_ESCAPES) {
      const digits = this.text.slice(this.pos + 2, this.pos + 2 + HEX_ESCAPES[e]);
      if (!/^[0-9a-fA-F]+$/.test(digits) || digits.length !== HEX_ESCAPES[e]) throw new GrammarError(`\\${e} needs ${HEX_ESCAPES[e]} hex digits`, this.loc(at));
      const cp = parseInt(digits, 16);
      if (cp > 0x10ffff) throw new GrammarError(`\\${e}${digits} is beyond the last code point U+10FFFF`, this.loc(at));
      this.pos += 2 + digits.length;
      return cp;
    }
    throw new GrammarError(`unknown escape \\${e ?? ''}; the escapes are \\x \\u \\U \\t \\r \\n \\\\ \\" \\[ \\]`, this.loc(at));
  }

  private name(): string {
    const start = this.pos;
    while (this.pos < this.text.length && isWordChar(this.text[this.pos])) this.pos++;
    if (this.pos === start) throw this.error(`expecting a rule name, found ${this.peek() === undefined ? 'the end of the grammar' : describe(this.peek()!)}`);
    return this.text.slice(start, this.pos);
  }

  private integer(what: string): number {
    const start = this.pos;
    while (isDigit(this.peek())) this.pos++;
    if (this.pos === start) throw this.error(`expecting ${what} (a whole number)`);
    return Number(this.text.slice(start, this.pos));
  }

  /** Skips blanks and comments, and newlines when `newlines`. */
  private space(newlines: boolean): void {
    for (;;) {
      const c = this.peek();
      if (c === ' ' || c === '\t' || (newlines && (c === '\n' || c === '\r'))) this.pos++;
      else if (c === '#') while (this.pos < this.text.length && this.text[this.pos] !== '\n' && this.text[this.pos] !== '\r') this.pos++;
      else return;
    }
  }

  private peek(): string | undefined {
    return this.pos < this.text.length ? this.text[this.pos] : undefined;
  }

  private loc(offset: number): SourceLoc {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    const column = [...this.text.slice(this.lineStarts[lo], offset)].length + 1;
    return this.file === undefined ? { line: lo + 1, column } : { line: lo + 1, column, file: this.file };
  }

  private locText(loc: SourceLoc): string {
    return `${loc.line}:${loc.column}`;
  }

  private error(message: string): GrammarError {
    return new GrammarError(message, this.loc(this.pos));
  }
}

function isWordChar(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c === '-';
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

function describe(c: string): string {
  return c === '\n' ? 'a newline' : `'${c}'`;
}

function hex(cp: number): string {
  return cp.toString(16).toUpperCase().padStart(4, '0');
}
