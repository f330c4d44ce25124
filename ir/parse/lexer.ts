// Tokens of the text IR and the lexer. Lexing stops at the first bad character, which becomes an
// IRError naming the character (or, for a quote, what is wrong with the string) and its position.
import { createToken, Lexer, type IToken, type TokenType } from 'chevrotain';
import { IRError } from '../errors.js';

const WhiteSpace = createToken({ name: 'WhiteSpace', pattern: /[ \t\r\n]+/, group: Lexer.SKIPPED, line_breaks: true });
const Comment = createToken({ name: 'Comment', pattern: /\/\/[^\n\r]*/, group: Lexer.SKIPPED });

/** A JSON string literal: what the printer writes for tensor names and string attributes. */
export const StringLit = createToken({
  name: 'StringLit',
  pattern: /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/,
  start_chars_hint: ['"'],
  label: 'a string',
});
export const ValueName = createToken({ name: 'ValueName', pattern: /%[A-Za-z0-9_][A-Za-z0-9_.]*/, label: 'a value name (%name)' });
export const GraphName = createToken({ name: 'GraphName', pattern: /@[A-Za-z0-9_][A-Za-z0-9_.-]*/, label: 'a graph name (@name)' });
// Floats need a point or an exponent (the printer guarantees one), so `3` stays an integer.
export const FloatLit = createToken({ name: 'FloatLit', pattern: /\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+/, label: 'a number' });
export const IntLit = createToken({ name: 'IntLit', pattern: /\d+/, label: 'an integer' });
// Dots are allowed so that output names like `logits.0` are one token; other uses check the name.
export const Ident = createToken({ name: 'Ident', pattern: /[A-Za-z_][A-Za-z0-9_.]*/, label: 'a name' });

// Keywords are also Idents (category), so `output param = %x` or a symbol named `state` still parse.
const keyword = (word: string): TokenType =>
  createToken({ name: `Kw_${word}`, pattern: word, longer_alt: Ident, categories: [Ident], label: `'${word}'` });
export const KwGraph = keyword('graph');
export const KwState = keyword('state');
export const KwParam = keyword('param');
export const KwOutput = keyword('output');
export const KwUpdate = keyword('update');

const punct = (name: string, text: string): TokenType => createToken({ name, pattern: text, label: `'${text}'` });
export const LParen = punct('LParen', '(');
export const RParen = punct('RParen', ')');
export const LBrace = punct('LBrace', '{');
export const RBrace = punct('RBrace', '}');
export const LBracket = punct('LBracket', '[');
export const RBracket = punct('RBracket', ']');
export const LAngle = punct('LAngle', '<');
export const RAngle = punct('RAngle', '>');
export const Comma = punct('Comma', ',');
export const Colon = punct('Colon', ':');
export const Equals = punct('Equals', '=');
export const Plus = punct('Plus', '+');
export const Minus = punct('Minus', '-');
export const Star = punct('Star', '*');

/** In match order: keywords before Ident, floats before ints. */
export const ALL_TOKENS: TokenType[] = [
  WhiteSpace, Comment, StringLit, ValueName, GraphName, FloatLit, IntLit,
  KwGraph, KwState, KwParam, KwOutput, KwUpdate, Ident,
  LParen, RParen, LBrace, RBrace, LBracket, RBracket, LAngle, RAngle, Comma, Colon, Equals, Plus, Minus, Star,
];

const lexer = new Lexer(ALL_TOKENS, { positionTracking: 'full', recoveryEnabled: false, ensureOptimizations: true });

/** How a character reads in a message: itself when printable, else its code point. */
export function describeChar(ch: string): string {
  const cp = ch.codePointAt(0) ?? 0;
  const hex = `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
  return /^[\p{L}\p{N}\p{P}\p{S}]$/u.test(ch) ? `'${ch}' (${hex})` : hex;
}

/** Why a `"` at `start` begins no valid string literal, and where the problem is. */
function explainString(text: string, start: number): { message: string; offset: number } {
  for (let i = start + 1; i < text.length; i++) {
    const c = text[i];
    if (c === '"') break;
    if (c === '\n' || c === '\r') return { message: 'unterminated string (a string must close on the line it opens)', offset: start };
    if (c < ' ') return { message: `control character ${describeChar(c)} in a string (write it as a \\u escape)`, offset: i };
    if (c === '\\') {
      const esc = text[i + 1] ?? '';
      if (esc === 'u') {
        if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) return { message: 'bad \\u escape in a string (expected four hex digits)', offset: i };
        i += 5;
      } else if (esc && '"\\/bfnrt'.includes(esc)) {
        i++;
      } else {
        return { message: esc ? `bad escape '\\${esc}' in a string` : 'unterminated string', offset: esc ? i : start };
      }
    }
  }
  return { message: 'unterminated string', offset: start };
}

/** The line and column of an offset (1-based), for errors found by scanning the text. */
export function positionOf(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === '\n' || (text[i] === '\r' && text[i + 1] !== '\n')) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/** The tokens of `text` (whitespace and comments dropped), or an IRError at the first bad character. */
export function tokenize(text: string, file?: string): IToken[] {
  const result = lexer.tokenize(text);
  const err = result.errors[0];
  if (err) {
    const ch = String.fromCodePoint(text.codePointAt(err.offset) ?? 0);
    let message: string;
    let offset = err.offset;
    if (ch === '"') ({ message, offset } = explainString(text, err.offset));
    else if (ch === '%' || ch === '@') message = `unexpected character '${ch}': a ${ch === '%' ? 'value' : 'graph'} name is ${ch} followed by letters, digits, '_' or '.'`;
    else message = `unexpected character ${describeChar(ch)}`;
    const pos = positionOf(text, offset);
    throw new IRError(message, file === undefined ? pos : { ...pos, file });
  }
  return result.tokens;
}
