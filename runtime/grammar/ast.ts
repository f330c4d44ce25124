// The parsed form of a GBNF grammar: named rules over expressions, as written (repetition and
// grouping not yet expanded). `compile.ts` turns it into the byte-level rules the matcher runs.
import type { SourceLoc } from '../../ir/errors.js';

/** Inclusive code point range. */
export interface CodeRange {
  readonly lo: number;
  readonly hi: number;
}

export type GrammarExpr =
  /** A quoted string: its code points in order. */
  | { readonly kind: 'literal'; readonly codePoints: readonly number[] }
  /** `[a-z_]`, `[^"\\]`, or `.` (negated empty set): one code point. */
  | { readonly kind: 'chars'; readonly ranges: readonly CodeRange[]; readonly negated: boolean }
  | { readonly kind: 'ref'; readonly name: string; readonly loc: SourceLoc }
  /** `<[id]>` (one token with that id) or `!<[id]>` (one token with any other id). */
  | { readonly kind: 'token'; readonly id: number; readonly negated: boolean }
  | { readonly kind: 'seq'; readonly items: readonly GrammarExpr[] }
  | { readonly kind: 'alt'; readonly options: readonly GrammarExpr[] }
  /** `max` is Infinity for `*`, `+` and `{m,}`. */
  | { readonly kind: 'repeat'; readonly item: GrammarExpr; readonly min: number; readonly max: number };

export interface GrammarRule {
  readonly name: string;
  readonly expr: GrammarExpr;
  readonly loc: SourceLoc;
}

export interface GrammarAst {
  /** In the order written. */
  readonly rules: ReadonlyMap<string, GrammarRule>;
}

export const EMPTY: GrammarExpr = { kind: 'seq', items: [] };
