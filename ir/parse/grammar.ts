// The grammar of the text IR (chevrotain, LL(1), no error recovery: the first syntax error stops
// the parse and becomes an IRError that says what was expected, after what, and what was found).
//
//   graph   := 'graph' @name ('<' sym,* '>')? '(' input,* ')' '{' stmt* '}'
//   input   := 'state'? %name ':' type
//   type    := dtype '[' expr,* ']'
//   stmt    := 'param' %name ':' type '=' weight
//            | %name,+ '=' op '(' %name,* ')' attrs? ':' type,+
//            | 'output' name '=' %name
//            | 'update' %name '=' %name
//   weight  := string | fn '(' weight,* ')' attrs?
//   attrs   := '{' (name '=' value),* '}'
//   value   := string | '[' value,* ']' | expr
//   expr    := term (('+' | '-') term)*      term := unary ('*' unary)*      unary := '-'* atom
//   atom    := int | float | name | name '(' expr,* ')' | '(' expr ')'
import { EmbeddedActionsParser, EOF, type IParserErrorMessageProvider, type IRecognitionException, type IToken, type TokenType, tokenLabel } from 'chevrotain';
import { IRError, type SourceLoc } from '../errors.js';
import type { AttrAst, AttrValueAst, Expr, GraphAst, InputAst, Name, Span, StmtAst, TypeAst, WeightAst } from './ast.js';
import {
  ALL_TOKENS, Colon, Comma, Equals, FloatLit, GraphName, Ident, IntLit, KwGraph, KwOutput, KwParam, KwState, KwUpdate,
  LAngle, LBrace, LBracket, LParen, Minus, Plus, RAngle, RBrace, RBracket, RParen, Star, StringLit, ValueName,
} from './lexer.js';

function span(first: IToken, last: IToken = first): Span {
  return { line: first.startLine ?? 0, column: first.startColumn ?? 0, start: first.startOffset, end: (last.endOffset ?? last.startOffset) + 1 };
}

/** A name token without its sigil (`%` or `@`). */
function nameOf(tok: IToken, sigil = false): Name {
  return { text: sigil ? tok.image.slice(1) : tok.image, at: span(tok) };
}

const firstLabels = (paths: TokenType[][]): string[] => [...new Set(paths.filter((p) => p.length).map((p) => tokenLabel(p[0])))];

/** Messages for failures without an ERR_MSG; the caller appends "after …, found …". */
const messages: IParserErrorMessageProvider = {
  buildMismatchTokenMessage: ({ expected }) => `expected ${tokenLabel(expected)}`,
  buildNotAllInputParsedMessage: () => 'expected end of input',
  buildNoViableAltMessage: ({ expectedPathsPerAlt, customUserDescription }) =>
    customUserDescription ?? `expected ${firstLabels(expectedPathsPerAlt.flat()).join(' or ')}`,
  buildEarlyExitMessage: ({ expectedIterationPaths, customUserDescription }) =>
    customUserDescription ?? `expected ${firstLabels(expectedIterationPaths).join(' or ')}`,
};

class IrParser extends EmbeddedActionsParser {
  constructor() {
    super(ALL_TOKENS, { recoveryEnabled: false, maxLookahead: 1, errorMessageProvider: messages });
    this.performSelfAnalysis();
  }

  /** The span from `first` to the last token consumed so far. */
  private spanFrom(first: IToken): Span {
    return this.ACTION(() => span(first, this.LA(0)));
  }

  readonly graph = this.RULE('graph', (): GraphAst => {
    this.CONSUME(KwGraph, { ERR_MSG: "expected a graph ('graph @name(…) { … }')" });
    const name = nameOf(this.CONSUME(GraphName, { ERR_MSG: "expected the graph's name (@name)" }), true);
    const symbols: Name[] = [];
    this.OPTION(() => {
      this.CONSUME(LAngle);
      this.MANY_SEP({ SEP: Comma, DEF: () => symbols.push(nameOf(this.CONSUME(Ident, { ERR_MSG: 'expected a symbol name' }))) });
      this.CONSUME(RAngle, { ERR_MSG: "expected ',' or '>' to close the symbol list" });
    });
    this.CONSUME(LParen, { ERR_MSG: "expected '(' and the graph's inputs" });
    const inputs: InputAst[] = [];
    this.MANY_SEP2({ SEP: Comma, DEF: () => inputs.push(this.SUBRULE(this.graphInput)) });
    this.CONSUME(RParen, { ERR_MSG: "expected ',' and another input or ')' to close the inputs" });
    this.CONSUME(LBrace, { ERR_MSG: "expected '{' to open the graph's body" });
    const body: StmtAst[] = [];
    this.MANY(() => body.push(this.SUBRULE(this.stmt)));
    this.CONSUME(RBrace, { ERR_MSG: "expected a statement ('param', '%name = op(…)', 'output', 'update') or '}' to close the graph" });
    return { name, symbols, inputs, body };
  });

  private readonly graphInput = this.RULE('graphInput', (): InputAst => {
    let state = false;
    this.OPTION(() => {
      this.CONSUME(KwState);
      state = true;
    });
    const name = nameOf(this.CONSUME(ValueName, { ERR_MSG: "expected an input (%name: type, or 'state %name: type')" }), true);
    this.CONSUME(Colon, { ERR_MSG: "expected ':' and the input's type" });
    return { state, name, type: this.SUBRULE(this.tensorType) };
  });

  private readonly tensorType = this.RULE('tensorType', (): TypeAst => {
    const first = this.CONSUME(Ident, { ERR_MSG: 'expected a type (dtype[dims], e.g. f32[S, 64])' });
    this.CONSUME(LBracket, { ERR_MSG: "expected '[' and the shape after the dtype" });
    const shape: Expr[] = [];
    this.MANY_SEP({ SEP: Comma, DEF: () => shape.push(this.SUBRULE(this.expr)) });
    this.CONSUME(RBracket, { ERR_MSG: "expected ',' and another dim or ']' to close the shape" });
    return { dtype: nameOf(first), shape, at: this.spanFrom(first) };
  });

  private readonly stmt = this.RULE('stmt', (): StmtAst =>
    this.OR([
      { ALT: () => this.SUBRULE(this.paramStmt) },
      { ALT: () => this.SUBRULE(this.nodeStmt) },
      { ALT: () => this.SUBRULE(this.outputStmt) },
      { ALT: () => this.SUBRULE(this.updateStmt) },
    ]),
  );

  private readonly paramStmt = this.RULE('paramStmt', (): StmtAst => {
    const first = this.CONSUME(KwParam);
    const name = nameOf(this.CONSUME(ValueName, { ERR_MSG: "expected the parameter's name (%name)" }), true);
    this.CONSUME(Colon, { ERR_MSG: "expected ':' and the parameter's type" });
    const type = this.SUBRULE(this.tensorType);
    this.CONSUME(Equals, { ERR_MSG: "expected '=' and the parameter's weight source" });
    const source = this.SUBRULE(this.weight);
    return { kind: 'param', name, type, source, at: this.spanFrom(first) };
  });

  private readonly weight = this.RULE('weight', (): WeightAst =>
    this.OR({
      DEF: [
        {
          ALT: () => {
            const tok = this.CONSUME(StringLit);
            return { kind: 'tensor', name: this.ACTION(() => JSON.parse(tok.image) as string), at: span(tok) };
          },
        },
        {
          ALT: () => {
            const fn = this.CONSUME(Ident);
            this.CONSUME(LParen, { ERR_MSG: "expected '(' and the transform's arguments" });
            const args: WeightAst[] = [];
            this.MANY_SEP({ SEP: Comma, DEF: () => args.push(this.SUBRULE(this.weight)) });
            this.CONSUME(RParen, { ERR_MSG: "expected ',' and another weight source or ')'" });
            const attrs = this.OPTION(() => this.SUBRULE(this.attrList)) ?? [];
            return { kind: 'call', fn: nameOf(fn), args, attrs, at: this.spanFrom(fn) };
          },
        },
      ],
      ERR_MSG: 'expected a weight source (a "tensor.name" string or a transform such as slice(…))',
    }),
  );

  private readonly nodeStmt = this.RULE('nodeStmt', (): StmtAst => {
    const results: Name[] = [];
    this.AT_LEAST_ONE_SEP({ SEP: Comma, DEF: () => results.push(nameOf(this.CONSUME(ValueName, { ERR_MSG: 'expected a result name (%name)' }), true)) });
    this.CONSUME(Equals, { ERR_MSG: "expected ',' and another result or '=' and the op" });
    const op = nameOf(this.CONSUME(Ident, { ERR_MSG: "expected an op name (e.g. 'matmul')" }));
    this.CONSUME(LParen, { ERR_MSG: "expected '(' and the op's operands" });
    const operands: Name[] = [];
    this.MANY_SEP2({ SEP: Comma, DEF: () => operands.push(nameOf(this.CONSUME2(ValueName, { ERR_MSG: 'expected an operand (%name)' }), true)) });
    this.CONSUME(RParen, { ERR_MSG: "expected ',' and another operand or ')' to close the operands" });
    const attrs = this.OPTION(() => this.SUBRULE(this.attrList)) ?? [];
    this.CONSUME(Colon, { ERR_MSG: "expected ':' and the result types" });
    const types: TypeAst[] = [];
    this.AT_LEAST_ONE_SEP2({ SEP: Comma, DEF: () => types.push(this.SUBRULE(this.tensorType)) });
    // A node's span starts at its first result.
    const at = this.ACTION(() => ({ ...results[0].at, end: (this.LA(0).endOffset ?? 0) + 1 }));
    return { kind: 'node', results, op, operands, attrs, types, at };
  });

  private readonly outputStmt = this.RULE('outputStmt', (): StmtAst => {
    const first = this.CONSUME(KwOutput);
    const name = nameOf(this.CONSUME(Ident, { ERR_MSG: "expected the output's name" }));
    this.CONSUME(Equals, { ERR_MSG: "expected '=' and the output's value" });
    const value = nameOf(this.CONSUME(ValueName, { ERR_MSG: "expected the output's value (%name)" }), true);
    return { kind: 'output', name, value, at: this.spanFrom(first) };
  });

  private readonly updateStmt = this.RULE('updateStmt', (): StmtAst => {
    const first = this.CONSUME(KwUpdate);
    const state = nameOf(this.CONSUME(ValueName, { ERR_MSG: 'expected the state input to update (%name)' }), true);
    this.CONSUME(Equals, { ERR_MSG: "expected '=' and the state's new value" });
    const value = nameOf(this.CONSUME2(ValueName, { ERR_MSG: "expected the state's new value (%name)" }), true);
    return { kind: 'update', state, value, at: this.spanFrom(first) };
  });

  private readonly attrList = this.RULE('attrList', (): AttrAst[] => {
    this.CONSUME(LBrace);
    const attrs: AttrAst[] = [];
    this.MANY_SEP({
      SEP: Comma,
      DEF: () => {
        const name = nameOf(this.CONSUME(Ident, { ERR_MSG: 'expected an attribute name' }));
        this.CONSUME(Equals, { ERR_MSG: "expected '=' and the attribute's value" });
        attrs.push({ name, value: this.SUBRULE(this.attrValue) });
      },
    });
    this.CONSUME(RBrace, { ERR_MSG: "expected ',' and another attribute or '}' to close the attributes" });
    return attrs;
  });

  private readonly attrValue = this.RULE('attrValue', (): AttrValueAst =>
    this.OR({
      DEF: [
        {
          ALT: () => {
            const tok = this.CONSUME(StringLit);
            return { kind: 'string', value: this.ACTION(() => JSON.parse(tok.image) as string), at: span(tok) };
          },
        },
        {
          ALT: () => {
            const first = this.CONSUME(LBracket);
            const items: AttrValueAst[] = [];
            this.MANY_SEP({ SEP: Comma, DEF: () => items.push(this.SUBRULE(this.attrValue)) });
            this.CONSUME(RBracket, { ERR_MSG: "expected ',' and another item or ']' to close the list" });
            return { kind: 'list', items, at: this.spanFrom(first) };
          },
        },
        {
          ALT: () => {
            const expr = this.SUBRULE(this.expr);
            return { kind: 'expr', expr, at: expr.at };
          },
        },
      ],
      ERR_MSG: 'expected an attribute value (a number, true/false, a string, a list or a dim)',
    }),
  );

  readonly expr = this.RULE('expr', (): Expr => {
    const first = this.LA(1);
    const head = this.SUBRULE(this.term);
    const terms: { negate: boolean; expr: Expr }[] = [{ negate: false, expr: head }];
    this.MANY(() => {
      const negate = this.OR([{ ALT: () => (this.CONSUME(Plus), false) }, { ALT: () => (this.CONSUME(Minus), true) }]);
      terms.push({ negate, expr: this.SUBRULE2(this.term) });
    });
    return terms.length === 1 ? head : { kind: 'sum', terms, at: this.spanFrom(first) };
  });

  private readonly term = this.RULE('term', (): Expr => {
    const first = this.LA(1);
    const factors: Expr[] = [this.SUBRULE(this.unary)];
    this.MANY(() => {
      this.CONSUME(Star);
      factors.push(this.SUBRULE2(this.unary));
    });
    return factors.length === 1 ? factors[0] : { kind: 'product', factors, at: this.spanFrom(first) };
  });

  // Signs are counted rather than nested, so `------x` cannot recurse deeply.
  private readonly unary = this.RULE('unary', (): Expr => {
    const first = this.LA(1);
    let signs = 0;
    this.MANY(() => {
      this.CONSUME(Minus);
      signs++;
    });
    const arg = this.SUBRULE(this.atom);
    return signs % 2 === 1 ? { kind: 'neg', arg, at: this.spanFrom(first) } : arg;
  });

  private readonly atom = this.RULE('atom', (): Expr =>
    this.OR({
      DEF: [
        { ALT: () => ({ kind: 'int', ...this.literal(this.CONSUME(IntLit)) }) },
        { ALT: () => ({ kind: 'float', ...this.literal(this.CONSUME(FloatLit)) }) },
        {
          ALT: () => {
            const name = this.CONSUME(Ident);
            const args = this.OPTION(() => {
              this.CONSUME(LParen);
              const list: Expr[] = [];
              this.MANY_SEP({ SEP: Comma, DEF: () => list.push(this.SUBRULE(this.expr)) });
              this.CONSUME(RParen, { ERR_MSG: "expected ',' and another argument or ')'" });
              return list;
            });
            return args ? { kind: 'call', fn: nameOf(name), args, at: this.spanFrom(name) } : { kind: 'name', ...this.literal(name) };
          },
        },
        {
          ALT: () => {
            this.CONSUME2(LParen);
            const inner = this.SUBRULE2(this.expr);
            this.CONSUME2(RParen, { ERR_MSG: "expected ')' to close the parenthesis" });
            return inner;
          },
        },
      ],
      ERR_MSG: 'expected a number, a name or a dim expression',
    }),
  );

  private literal(tok: IToken): { text: string; at: Span } {
    return { text: tok.image, at: span(tok) };
  }
}

// Built on first use: chevrotain's self-analysis takes ~0.2 s, which commands that never parse IR
// text should not pay at start-up.
let shared: IrParser | undefined;
const theParser = (): IrParser => (shared ??= new IrParser());

/** Parens and brackets nest grammar rules; deeper than this is refused before parsing. */
export const MAX_NESTING = 100;

function checkNesting(tokens: readonly IToken[], where: (t: IToken) => SourceLoc): void {
  let depth = 0;
  for (const t of tokens) {
    if (t.tokenType === LParen || t.tokenType === LBracket) {
      if (++depth > MAX_NESTING) throw new IRError(`brackets nest deeper than ${MAX_NESTING} levels`, where(t));
    } else if (t.tokenType === RParen || t.tokenType === RBracket) {
      depth = Math.max(0, depth - 1);
    }
  }
}

/** How a token reads in "found …". */
function found(t: IToken): string {
  if (t.tokenType === EOF) return 'end of input';
  const image = t.image.length > 40 ? `${t.image.slice(0, 37)}...` : t.image;
  return `'${image}'`;
}

function locator(file: string | undefined): (line: number, column: number) => SourceLoc {
  return (line, column) => (file === undefined ? { line, column } : { line, column, file });
}

/** Turns chevrotain's first recognition error into an IRError at the token found. */
function syntaxError(e: IRecognitionException, tokens: readonly IToken[], at: (line: number, column: number) => SourceLoc): IRError {
  const index = e.token.tokenType === EOF ? tokens.length : tokens.indexOf(e.token);
  const prev = index > 0 ? tokens[index - 1] : undefined;
  const after = prev ? ` after ${found(prev)}` : '';
  // At the end of the input, point just past the last token rather than at an empty line.
  const loc = e.token.tokenType !== EOF ? at(e.token.startLine ?? 1, e.token.startColumn ?? 1)
    : prev ? at(prev.endLine ?? 1, (prev.endColumn ?? 0) + 1) : at(1, 1);
  return new IRError(`${e.message}${after}, found ${found(e.token)}`, loc);
}

function run<T>(tokens: IToken[], file: string | undefined, rule: () => T): T {
  const at = locator(file);
  checkNesting(tokens, (t) => at(t.startLine ?? 1, t.startColumn ?? 1));
  const parser = theParser();
  parser.input = tokens;
  try {
    const result = rule();
    const err = parser.errors[0];
    if (err) throw syntaxError(err, tokens, at);
    return result;
  } finally {
    parser.input = []; // the parser is shared; do not keep this input's tokens alive
  }
}

/** The syntax tree of a whole graph; throws IRError on the first syntax error. */
export function parseGraphAst(tokens: IToken[], file?: string): GraphAst {
  return run(tokens, file, () => theParser().graph());
}

