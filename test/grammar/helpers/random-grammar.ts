// Random GBNF grammars for property tests: a few rules, each referring only to later rules (so
// no recursion and every language is non-empty), over a small alphabet with 1- to 4-byte
// characters; printed as GBNF text so the parser is exercised too.
import fc from 'fast-check';
import type { CodeRange, GrammarExpr } from '../../../runtime/grammar/ast.js';

export const ALPHABET = ['a', 'b', 'c', ' ', '"', '\\', 'é', 'ж', '€', '😀'].map((c) => c.codePointAt(0)!);

export interface RandomGrammar {
  /** rule i is named r<i>; r0 is the root. */
  readonly rules: readonly GrammarExpr[];
}

const cp = fc.constantFrom(...ALPHABET);
const range: fc.Arbitrary<CodeRange> = fc.tuple(cp, cp).map(([x, y]) => ({ lo: Math.min(x, y), hi: Math.max(x, y) }));

function exprArb(rule: number, rules: number): fc.Arbitrary<GrammarExpr> {
  const leaves: fc.Arbitrary<GrammarExpr>[] = [
    fc.array(cp, { minLength: 1, maxLength: 3 }).map((codePoints) => ({ kind: 'literal', codePoints })),
    fc.record({ ranges: fc.array(range, { minLength: 1, maxLength: 2 }), negated: fc.boolean() }).map((c) => ({ kind: 'chars', ...c })),
  ];
  if (rule + 1 < rules) leaves.push(fc.integer({ min: rule + 1, max: rules - 1 }).map((r) => ({ kind: 'ref', name: `r${r}`, loc: { line: 0, column: 0 } })));
  const leaf = fc.oneof(...leaves);
  return fc.letrec<{ e: GrammarExpr }>((tie) => ({
    e: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      leaf,
      fc.array(tie('e'), { minLength: 2, maxLength: 3 }).map((items): GrammarExpr => ({ kind: 'seq', items })),
      fc.array(tie('e'), { minLength: 2, maxLength: 3 }).map((options): GrammarExpr => ({ kind: 'alt', options })),
      fc.tuple(tie('e'), fc.integer({ min: 0, max: 2 }), fc.oneof(fc.integer({ min: 0, max: 2 }), fc.constant(Infinity))).map(([item, min, extra]): GrammarExpr => ({ kind: 'repeat', item, min, max: min + extra })),
    ),
  })).e;
}

export const randomGrammar: fc.Arbitrary<RandomGrammar> = fc.integer({ min: 1, max: 4 }).chain((n) =>
  fc.tuple(...Array.from({ length: n }, (_, i) => exprArb(i, n))).map((rules) => ({ rules })));

export function printGrammar(g: RandomGrammar): string {
  return g.rules.map((e, i) => `r${i} ::= ${printExpr(e)}`).join('\n').replace(/^r0 /, 'root ').replace(/\br0\b/g, 'root') + '\n';
}

function printExpr(e: GrammarExpr): string {
  switch (e.kind) {
    case 'literal': return `"${e.codePoints.map((c) => escapeChar(c)).join('')}"`;
    case 'chars': return `[${e.negated ? '^' : ''}${e.ranges.map((r) => (r.lo === r.hi ? escapeChar(r.lo) : `${escapeChar(r.lo)}-${escapeChar(r.hi)}`)).join('')}]`;
    case 'ref': return e.name === 'r0' ? 'root' : e.name;
    case 'token': return `${e.negated ? '!' : ''}<[${e.id}]>`;
    case 'seq': return `(${e.items.map(printExpr).join(' ')})`;
    case 'alt': return `(${e.options.map(printExpr).join(' | ')})`;
    case 'repeat': {
      const q = e.min === 0 && e.max === Infinity ? '*' : e.min === 1 && e.max === Infinity ? '+' : e.min === 0 && e.max === 1 ? '?' : e.max === Infinity ? `{${e.min},}` : `{${e.min},${e.max}}`;
      return `(${printExpr(e.item)})${q}`;
    }
  }
}

/** ASCII letters as they are, everything else as \u / \U escapes (some as raw UTF-8, to test both). */
function escapeChar(c: number): string {
  if (c === 0x22) return '\\"';
  if (c === 0x5c) return '\\\\';
  if (c === 0xe9) return 'é';
  if (c < 0x80 && /[a-z]/.test(String.fromCharCode(c))) return String.fromCharCode(c);
  return c > 0xffff ? `\\U${c.toString(16).padStart(8, '0')}` : `\\u${c.toString(16).padStart(4, '0')}`;
}
