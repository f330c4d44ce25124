// The syntax tree the grammar produces: text and positions only. Meaning (dims, dtypes, attribute
// types, name resolution) is given by build.ts, which reports problems at these positions.

/** Where a construct starts (1-based line and column) and its source span [start, end). */
export interface Span {
  readonly line: number;
  readonly column: number;
  readonly start: number;
  readonly end: number;
}

/** A name as written: value names without their `%`, graph names without `@`. */
export interface Name {
  readonly text: string;
  readonly at: Span;
}

/**
 * A dim expression or a scalar attribute value. Sums and products are flat lists, so that a long
 * `a+b+c+…` does not nest (only parentheses and calls nest, and their depth is bounded).
 */
export type Expr =
  | { readonly kind: 'int'; readonly text: string; readonly at: Span }
  | { readonly kind: 'float'; readonly text: string; readonly at: Span }
  | { readonly kind: 'name'; readonly text: string; readonly at: Span }
  | { readonly kind: 'neg'; readonly arg: Expr; readonly at: Span }
  | { readonly kind: 'sum'; readonly terms: readonly { readonly negate: boolean; readonly expr: Expr }[]; readonly at: Span }
  | { readonly kind: 'product'; readonly factors: readonly Expr[]; readonly at: Span }
  | { readonly kind: 'call'; readonly fn: Name; readonly args: readonly Expr[]; readonly at: Span };

export type AttrValueAst =
  | { readonly kind: 'string'; readonly value: string; readonly at: Span }
  | { readonly kind: 'list'; readonly items: readonly AttrValueAst[]; readonly at: Span }
  | { readonly kind: 'expr'; readonly expr: Expr; readonly at: Span };

export interface AttrAst {
  readonly name: Name;
  readonly value: AttrValueAst;
}

export interface TypeAst {
  readonly dtype: Name;
  readonly shape: readonly Expr[];
  readonly at: Span;
}

export type WeightAst =
  | { readonly kind: 'tensor'; readonly name: string; readonly at: Span }
  | { readonly kind: 'call'; readonly fn: Name; readonly args: readonly WeightAst[]; readonly attrs: readonly AttrAst[]; readonly at: Span };

export interface InputAst {
  readonly state: boolean;
  readonly name: Name;
  readonly type: TypeAst;
}

export type StmtAst =
  | { readonly kind: 'param'; readonly name: Name; readonly type: TypeAst; readonly source: WeightAst; readonly at: Span }
  | {
      readonly kind: 'node';
      readonly results: readonly Name[];
      readonly op: Name;
      readonly operands: readonly Name[];
      readonly attrs: readonly AttrAst[];
      readonly types: readonly TypeAst[];
      readonly at: Span;
    }
  | { readonly kind: 'output'; readonly name: Name; readonly value: Name; readonly at: Span }
  | { readonly kind: 'update'; readonly state: Name; readonly value: Name; readonly at: Span };

export interface GraphAst {
  readonly name: Name;
  readonly symbols: readonly Name[];
  readonly inputs: readonly InputAst[];
  readonly body: readonly StmtAst[];
}
