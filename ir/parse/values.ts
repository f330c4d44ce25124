// Reading expressions as dims and attribute values. The text alone does not say whether `1` is an
// int or a float, or whether `S-1` is a dim: the attribute's schema does, so values are read
// against their AttrSpec and a value that does not fit is reported where it is written.
import { type AttrSchema, type AttrSpec, type AttrValue, checkAttr, normalizeAttrs } from '../attrs.js';
import { DIM_FNS, type Dim, type DimFn, dimAdd, dimFn, dimMul, dimNeg, dimSub, sym } from '../dim.js';
import { IRError, type SourceLoc } from '../errors.js';
import type { AttrAst, AttrValueAst, Expr, Span } from './ast.js';
import { didYouMean } from './suggest.js';

/** What reading needs besides the tree: the text (to quote), the file and the declared symbols. */
export class Reader {
  constructor(
    readonly source: string,
    readonly file: string | undefined,
    /** Declared symbols; undefined accepts any valid symbol name (a lone dim outside a graph). */
    readonly symbols: ReadonlySet<string> | undefined,
    /** For messages; empty outside a graph. */
    readonly graphName = '',
  ) {}

  loc(at: Span): SourceLoc {
    return this.file === undefined ? { line: at.line, column: at.column } : { line: at.line, column: at.column, file: this.file };
  }

  fail(message: string, at: Span): never {
    throw new IRError(message, this.loc(at));
  }

  /** The source text of a construct, shortened for messages. */
  quote(at: Span): string {
    const text = this.source.slice(at.start, at.end);
    return `'${text.length > 40 ? `${text.slice(0, 37)}...` : text}'`;
  }
}

/** Dims whose canonical text grows past this are refused: they only come from hostile input. */
const MAX_DIM_TEXT = 1000;

function checkSize(r: Reader, d: Dim, at: Span): Dim {
  if (typeof d === 'number' ? !Number.isSafeInteger(d) : d.terms.some((t) => !Number.isSafeInteger(t.coeff)) || d.key.length > MAX_DIM_TEXT) {
    r.fail(`dimension ${r.quote(at)} is too large`, at);
  }
  return d;
}

const termCount = (d: Dim): number => (typeof d === 'number' ? 1 : d.terms.length);

function symbol(r: Reader, name: string, at: Span): Dim {
  if ((DIM_FNS as readonly string[]).includes(name)) r.fail(`'${name}' takes two arguments: ${name}(a, b)`, at);
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) r.fail(`'${name}' is not a valid dimension symbol`, at);
  if (r.symbols && !r.symbols.has(name)) {
    const fix = r.graphName ? `declare it in graph @${r.graphName}<…>` : `declared: ${[...r.symbols].join(', ') || 'none'}`;
    r.fail(`undeclared symbol '${name}' (${fix})${didYouMean(name, r.symbols)}`, at);
  }
  return sym(name);
}

/** An expression as a dim: integers, declared symbols, + - *, and ceildiv/floordiv/min/max. */
export function readDim(r: Reader, e: Expr): Dim {
  switch (e.kind) {
    case 'int':
      return checkSize(r, Number(e.text), e.at);
    case 'float':
      return r.fail(`a dimension must be an integer, found ${r.quote(e.at)}`, e.at);
    case 'name':
      return symbol(r, e.text, e.at);
    case 'neg':
      return dimNeg(readDim(r, e.arg));
    case 'sum':
      return e.terms.reduce<Dim>((acc, t) => {
        const d = readDim(r, t.expr);
        return checkSize(r, t.negate ? dimSub(acc, d) : dimAdd(acc, d), e.at);
      }, 0);
    case 'product':
      return e.factors.reduce<Dim>((acc, f) => {
        const d = readDim(r, f);
        // Multiplying sums multiplies their term counts; refuse before the work, not after.
        if (termCount(acc) * termCount(d) > 4096) r.fail(`dimension ${r.quote(e.at)} is too large`, e.at);
        return checkSize(r, dimMul(acc, d), e.at);
      }, 1);
    case 'call': {
      const fn = e.fn.text;
      if (!(DIM_FNS as readonly string[]).includes(fn)) {
        r.fail(`unknown dimension function '${fn}' (known: ${DIM_FNS.join(', ')})${didYouMean(fn, DIM_FNS)}`, e.fn.at);
      }
      if (e.args.length !== 2) r.fail(`${fn} takes 2 arguments, got ${e.args.length}`, e.at);
      const [a, b] = e.args.map((x) => readDim(r, x));
      // dimFn folds ceildiv(4, 0) into an error but keeps ceildiv(S, 0), which no run could evaluate.
      if ((fn === 'ceildiv' || fn === 'floordiv') && b === 0) r.fail(`${r.quote(e.at)}: division by zero`, e.at);
      try {
        return checkSize(r, dimFn(fn as DimFn, a, b), e.at);
      } catch (err) {
        if (err instanceof IRError) throw err;
        return r.fail(`${r.quote(e.at)}: ${(err as Error).message}`, e.at);
      }
    }
  }
}

/** A number written as a literal, possibly negated: ints, floats, inf and nan. */
function numberLiteral(e: Expr): { value: number; integer: boolean } | undefined {
  switch (e.kind) {
    case 'int':
      return { value: Number(e.text), integer: true };
    case 'float':
      return { value: Number(e.text), integer: false };
    case 'name':
      return e.text === 'inf' ? { value: Infinity, integer: false } : e.text === 'nan' ? { value: NaN, integer: false } : undefined;
    case 'neg': {
      const inner = numberLiteral(e.arg);
      return inner && { value: -inner.value, integer: inner.integer };
    }
    default:
      return undefined;
  }
}

function readInt(r: Reader, v: AttrValueAst, what: string): number {
  const n = v.kind === 'expr' ? numberLiteral(v.expr) : undefined;
  if (!n || !n.integer) return r.fail(`${what} must be an integer, found ${r.quote(v.at)}`, v.at);
  if (!Number.isSafeInteger(n.value)) return r.fail(`${what}: integer ${r.quote(v.at)} is too large`, v.at);
  return n.value === 0 ? 0 : n.value;
}

function readFloat(r: Reader, v: AttrValueAst, what: string): number {
  const n = v.kind === 'expr' ? numberLiteral(v.expr) : undefined;
  if (!n) return r.fail(`${what} must be a number (e.g. 1.0, 1e-5, inf, nan), found ${r.quote(v.at)}`, v.at);
  return n.value;
}

function readList<T>(r: Reader, v: AttrValueAst, what: string, item: (x: AttrValueAst) => T): T[] {
  if (v.kind !== 'list') return r.fail(`${what} must be a list [...], found ${r.quote(v.at)}`, v.at);
  return v.items.map(item);
}

function readDimValue(r: Reader, v: AttrValueAst, what: string): Dim {
  if (v.kind !== 'expr') return r.fail(`${what} must be a dimension, found ${r.quote(v.at)}`, v.at);
  return readDim(r, v.expr);
}

/** One attribute value, read as its spec's type. */
export function readAttrValue(r: Reader, v: AttrValueAst, spec: AttrSpec, what: string): AttrValue {
  switch (spec.type) {
    case 'int':
      return readInt(r, v, what);
    case 'float':
      return readFloat(r, v, what);
    case 'bool':
      if (v.kind === 'expr' && v.expr.kind === 'name' && (v.expr.text === 'true' || v.expr.text === 'false')) return v.expr.text === 'true';
      return r.fail(`${what} must be true or false, found ${r.quote(v.at)}`, v.at);
    case 'string':
      if (v.kind === 'string') return v.value;
      return r.fail(`${what} must be a string ("…"), found ${r.quote(v.at)}`, v.at);
    case 'ints':
      return readList(r, v, what, (x) => readInt(r, x, `${what} item`));
    case 'floats':
      return readList(r, v, what, (x) => readFloat(r, x, `${what} item`));
    case 'dim':
      return readDimValue(r, v, what);
    case 'dims':
      return readList(r, v, what, (x) => readDimValue(r, x, `${what} item`));
  }
}

/**
 * Attributes of an op or weight transform (`owner` names it in messages), read against `schema`,
 * with defaults filled in as the builder does. `at` is where a missing attribute is reported.
 */
export function readAttrs(r: Reader, asts: readonly AttrAst[], schema: AttrSchema, owner: string, at: Span): Record<string, AttrValue> {
  const given: Record<string, AttrValue> = {};
  for (const a of asts) {
    const name = a.name.text;
    if (Object.hasOwn(given, name)) r.fail(`attribute '${name}' of ${owner} is given twice`, a.name.at);
    const spec = Object.hasOwn(schema, name) ? schema[name] : undefined;
    if (!spec) {
      const known = Object.keys(schema);
      r.fail(`unknown attribute '${name}' for ${owner} ${known.length ? `(known: ${known.join(', ')})` : '(it takes none)'}${didYouMean(name, known)}`, a.name.at);
    }
    const what = `attribute '${name}' of ${owner}`;
    const value = readAttrValue(r, a.value, spec, what);
    const bad = checkAttr(spec, value);
    if (bad) r.fail(`${what}: ${bad}`, a.value.at);
    given[name] = value;
  }
  const { attrs, errors } = normalizeAttrs(schema, given);
  if (errors.length) r.fail(`${owner}: ${errors.join('; ')}`, at);
  return attrs;
}
