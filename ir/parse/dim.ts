// A lone dim expression (`P+S`, `ceildiv(P+S, 64)`, `2*S-1`) read by hand, without the chevrotain
// grammar: artifacts, JSON graphs and stored programs hold dims as text, and reading them must not
// load the IR text parser (its import is most of a warm start). Same syntax tree and meaning
// (values.ts readDim) as the graph parser's dims; expr := term (('+'|'-') term)*,
// term := unary ('*' unary)*, unary := '-' unary | int | float | name | name '(' args ')' | '(' expr ')'.
import type { Dim } from '../dim.js';
import { IRError } from '../errors.js';
import type { Expr, Span } from './ast.js';
import { Reader, readDim } from './values.js';

interface Token {
  readonly kind: 'int' | 'float' | 'name' | 'punct' | 'end';
  readonly text: string;
  readonly start: number;
}

const TOKEN = /\s*(?:(\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)|(\d+)|([A-Za-z_][A-Za-z0-9_.]*)|([-+*(),]))/y;
/** Parentheses and calls nest; deeper than this is refused (as the graph parser does). */
const MAX_NESTING = 100;

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  TOKEN.lastIndex = 0;
  let pos = 0;
  for (;;) {
    const m = TOKEN.exec(text);
    if (!m) {
      const rest = text.slice(pos).trimStart();
      const start = text.length - rest.length;
      if (rest === '') return [...out, { kind: 'end', text: '', start }];
      throw new IRError(`unexpected character '${rest[0]}' in dim '${text}'`, { line: 1, column: start + 1 });
    }
    const kind = m[1] ? 'float' : m[2] ? 'int' : m[3] ? 'name' : 'punct';
    const body = m[1] ?? m[2] ?? m[3] ?? m[4];
    out.push({ kind, text: body, start: TOKEN.lastIndex - body.length });
    pos = TOKEN.lastIndex;
  }
}

class DimParser {
  private i = 0;
  private depth = 0;
  constructor(private readonly text: string, private readonly tokens: readonly Token[]) {}

  private get tok(): Token {
    return this.tokens[this.i];
  }

  private span(start: number): Span {
    const prev = this.tokens[this.i - 1];
    return { line: 1, column: start + 1, start, end: prev ? prev.start + prev.text.length : start };
  }

  private fail(expected: string): never {
    const prev = this.tokens[this.i - 1];
    const found = this.tok.kind === 'end' ? 'end of input' : `'${this.tok.text}'`;
    throw new IRError(`expected ${expected}${prev ? ` after '${prev.text}'` : ''}, found ${found}`, { line: 1, column: this.tok.start + 1 });
  }

  private eat(text: string): boolean {
    if (this.tok.kind !== 'punct' || this.tok.text !== text) return false;
    this.i++;
    return true;
  }

  whole(): Expr {
    const e = this.expr();
    if (this.tok.kind !== 'end') this.fail('end of input');
    return e;
  }

  private expr(): Expr {
    const start = this.tok.start;
    const terms = [{ negate: false, expr: this.term() }];
    for (;;) {
      if (this.eat('+')) terms.push({ negate: false, expr: this.term() });
      else if (this.eat('-')) terms.push({ negate: true, expr: this.term() });
      else break;
    }
    return terms.length === 1 ? terms[0].expr : { kind: 'sum', terms, at: this.span(start) };
  }

  private term(): Expr {
    const start = this.tok.start;
    const factors = [this.unary()];
    while (this.eat('*')) factors.push(this.unary());
    return factors.length === 1 ? factors[0] : { kind: 'product', factors, at: this.span(start) };
  }

  private unary(): Expr {
    const t = this.tok;
    if (this.eat('-')) return { kind: 'neg', arg: this.unary(), at: this.span(t.start) };
    if (t.kind === 'int' || t.kind === 'float') {
      this.i++;
      return { kind: t.kind, text: t.text, at: this.span(t.start) };
    }
    if (t.kind === 'name') {
      this.i++;
      const nameAt = this.span(t.start);
      if (!this.eat('(')) return { kind: 'name', text: t.text, at: nameAt };
      const args = this.nested(() => {
        const list: Expr[] = [];
        if (this.eat(')')) return list;
        do list.push(this.expr());
        while (this.eat(','));
        if (!this.eat(')')) this.fail("',' and another argument or ')'");
        return list;
      });
      return { kind: 'call', fn: { text: t.text, at: nameAt }, args, at: this.span(t.start) };
    }
    if (this.eat('(')) {
      const inner = this.nested(() => this.expr());
      if (!this.eat(')')) this.fail("')' to close the parenthesis");
      return inner;
    }
    return this.fail('a number, a name or a dim expression');
  }

  private nested<T>(parse: () => T): T {
    if (++this.depth > MAX_NESTING) throw new IRError(`dim '${this.text.slice(0, 40)}' nests deeper than ${MAX_NESTING}`, { line: 1, column: this.tok.start + 1 });
    try {
      return parse();
    } finally {
      this.depth--;
    }
  }
}

/** parseDim's answers by symbol set and text (a bounded memo: cleared when full). */
const parsedDims = new Map<string, Dim>();
const PARSED_DIMS_KEPT = 4096;

/**
 * Parses a dim expression as printed into its canonical Dim, e.g. for launch sizes in an artifact
 * manifest. With `symbols`, other symbols are an error. Errors are IRErrors at line 1, column N.
 */
export function parseDim(text: string, symbols?: readonly string[]): Dim {
  // Stored programs repeat a few dozen texts thousands of times (~20 ms of a cached start); dims
  // are immutable, so each text is parsed once per symbol set.
  const key = `${symbols?.join(',') ?? '*'}|${text}`;
  let dim = parsedDims.get(key);
  if (dim === undefined) {
    const expr = new DimParser(text, tokenize(text)).whole();
    dim = readDim(new Reader(text, undefined, symbols && new Set(symbols), ''), expr);
    if (parsedDims.size >= PARSED_DIMS_KEPT) parsedDims.clear();
    parsedDims.set(key, dim);
  }
  return dim;
}

