// GrammarAst → CompiledGrammar: flat byte-level rules the matcher runs. Character classes become
// UTF-8 byte ranges (utf8-ranges.ts), groups and repetitions become helper rules (x* is
// `x* ::= x x* | ε`), and the checks that make matching terminate run here: every referenced
// rule exists, the root exists, and no rule can reach itself through leftmost references that
// would grow the stack (left recursion; a rule reaching itself only in tail position, as the
// helper of `(x*)*` does, is fine).
import type { SourceLoc } from '../../ir/errors.js';
import type { GrammarAst, GrammarExpr } from './ast.js';
import { GrammarError } from './errors.js';
import { normalizeRanges, utf8Sequences } from './utf8-ranges.js';

/** Element kinds, one per position of `CompiledGrammar.kind`. */
export const END = 0;
/** A byte in [a, b]. */
export const BYTE = 1;
/** A reference to rule a. */
export const REF = 2;
/** The token with id a. */
export const TOKEN = 3;
/** One token whose id is not a. */
export const TOKEN_NOT = 4;

/**
 * Rules as one array of positions: each alternative is its elements followed by END. A position
 * names "what comes next" in an alternative; the matcher's stacks are lists of positions.
 */
export interface CompiledGrammar {
  readonly kind: Uint8Array;
  readonly a: Int32Array;
  readonly b: Int32Array;
  /** Rule id → the first positions of its alternatives. */
  readonly alternatives: readonly Int32Array[];
  readonly ruleNames: readonly string[];
  readonly root: number;
}

interface Element {
  readonly kind: number;
  readonly a: number;
  readonly b: number;
}

export interface CompileOptions {
  /** The start rule. Default 'root'. */
  readonly root?: string;
}

export function compileGrammar(ast: GrammarAst, opts: CompileOptions = {}): CompiledGrammar {
  return new Lowering(ast).build(opts.root ?? 'root');
}

class Lowering {
  private readonly ids = new Map<string, number>();
  private readonly names: string[] = [];
  private readonly bodies: Element[][][] = [];
  private readonly locs: (SourceLoc | undefined)[] = [];
  private readonly classRules = new Map<string, number>();

  constructor(private readonly ast: GrammarAst) {
    for (const rule of ast.rules.values()) this.newRule(rule.name, rule.loc);
  }

  build(rootName: string): CompiledGrammar {
    for (const rule of this.ast.rules.values()) this.bodies[this.ids.get(rule.name)!] = this.alternativesOf(rule.expr, rule.name);
    const root = this.ids.get(rootName);
    if (root === undefined) throw new GrammarError(`the grammar has no rule '${rootName}' to start from; its rules are ${[...this.ast.rules.keys()].join(', ')}`);
    this.checkLeftRecursion();
    return this.flatten(root);
  }

  private newRule(name: string, loc?: SourceLoc): number {
    const id = this.names.length;
    this.ids.set(name, id);
    this.names.push(name);
    this.bodies.push([]);
    this.locs.push(loc);
    return id;
  }

  private helper(base: string, body: Element[][]): number {
    const id = this.newRule(`${base}-${this.names.length}`);
    this.bodies[id] = body;
    return id;
  }

  private alternativesOf(expr: GrammarExpr, base: string): Element[][] {
    const options = expr.kind === 'alt' ? expr.options : [expr];
    return options.map((o) => this.sequence(o, base));
  }

  private sequence(expr: GrammarExpr, base: string, out: Element[] = []): Element[] {
    switch (expr.kind) {
      case 'literal':
        for (const cp of expr.codePoints) for (const seq of utf8Sequences([{ lo: cp, hi: cp }])) for (const r of seq) out.push({ kind: BYTE, a: r.lo, b: r.hi });
        return out;
      case 'chars': {
        const seqs = utf8Sequences(normalizeRanges(expr.ranges, expr.negated));
        if (seqs.length === 1) {
          for (const r of seqs[0]) out.push({ kind: BYTE, a: r.lo, b: r.hi });
          return out;
        }
        const key = JSON.stringify(seqs);
        let id = this.classRules.get(key);
        if (id === undefined) {
          id = this.helper(`${base}-chars`, seqs.map((s) => s.map((r) => ({ kind: BYTE, a: r.lo, b: r.hi }))));
          this.classRules.set(key, id);
        }
        out.push({ kind: REF, a: id, b: 0 });
        return out;
      }
      case 'ref': {
        const id = this.ids.get(expr.name);
        if (id === undefined) throw new GrammarError(`rule '${expr.name}' is used here but never defined`, expr.loc);
        out.push({ kind: REF, a: id, b: 0 });
        return out;
      }
      case 'token':
        out.push({ kind: expr.negated ? TOKEN_NOT : TOKEN, a: expr.id, b: 0 });
        return out;
      case 'seq':
        for (const item of expr.items) this.sequence(item, base, out);
        return out;
      case 'alt':
        out.push({ kind: REF, a: this.helper(base, this.alternativesOf(expr, base)), b: 0 });
        return out;
      case 'repeat':
        return this.repeat(expr.item, expr.min, expr.max, base, out);
    }
  }

  private repeat(item: GrammarExpr, min: number, max: number, base: string, out: Element[]): Element[] {
    const once = this.sequence(item, base);
    for (let i = 0; i < min; i++) out.push(...once);
    if (max === Infinity) {
      // x* ::= x x* | ε  (the self-reference is in tail position, so the stack does not grow)
      const id = this.helper(`${base}-star`, []);
      this.bodies[id] = [[...once, { kind: REF, a: id, b: 0 }], []];
      out.push({ kind: REF, a: id, b: 0 });
    } else if (max > min) {
      // x{0,k} ::= x x{0,k-1} | ε
      let prev = this.helper(`${base}-opt`, [once, []]);
      for (let k = 2; k <= max - min; k++) prev = this.helper(`${base}-opt`, [[...once, { kind: REF, a: prev, b: 0 }], []]);
      out.push({ kind: REF, a: prev, b: 0 });
    }
    return out;
  }

  /** Left recursion that grows the stack: a cycle of leftmost references with a non-tail edge. */
  private checkLeftRecursion(): void {
    const n = this.names.length;
    const nullable = new Array<boolean>(n).fill(false);
    for (let changed = true; changed;) {
      changed = false;
      for (let r = 0; r < n; r++) {
        if (!nullable[r] && this.bodies[r].some((alt) => alt.every((e) => e.kind === REF && nullable[e.a]))) nullable[r] = changed = true;
      }
    }
    // Leftmost edges r → s, marked when s is not the last element (its continuation stays on the stack).
    const edges: { to: number; grows: boolean }[][] = this.bodies.map((alts) => alts.flatMap((alt) => {
      const out: { to: number; grows: boolean }[] = [];
      for (let i = 0; i < alt.length; i++) {
        const e = alt[i];
        if (e.kind !== REF) break;
        out.push({ to: e.a, grows: i < alt.length - 1 });
        if (!nullable[e.a]) break;
      }
      return out;
    }));
    const scc = stronglyConnected(n, edges.map((es) => es.map((e) => e.to)));
    for (let r = 0; r < n; r++) {
      for (const e of edges[r]) {
        if (e.grows && scc[e.to] === scc[r]) {
          const named = this.userRuleIn(scc, scc[r]);
          throw new GrammarError(`rule '${this.names[named]}' is left-recursive (it can reach itself before matching any text); rewrite it with repetition, e.g. a ::= "x" ("y")*`, this.locs[named]);
        }
      }
    }
  }

  /** A rule the user wrote (not a helper) in the component, for the message. */
  private userRuleIn(scc: readonly number[], component: number): number {
    const members = scc.flatMap((c, r) => (c === component ? [r] : []));
    return members.find((r) => this.locs[r] !== undefined) ?? members[0];
  }

  private flatten(root: number): CompiledGrammar {
    const kind: number[] = [];
    const a: number[] = [];
    const b: number[] = [];
    const alternatives = this.bodies.map((alts) => Int32Array.from(alts, (alt) => {
      const start = kind.length;
      for (const e of alt) {
        kind.push(e.kind);
        a.push(e.a);
        b.push(e.b);
      }
      kind.push(END);
      a.push(0);
      b.push(0);
      return start;
    }));
    return { kind: Uint8Array.from(kind), a: Int32Array.from(a), b: Int32Array.from(b), alternatives, ruleNames: [...this.names], root };
  }
}

/** Tarjan's algorithm, iterative: the component index of every node. */
function stronglyConnected(n: number, next: readonly (readonly number[])[]): number[] {
  const index = new Array<number>(n).fill(-1);
  const low = new Array<number>(n).fill(0);
  const onStack = new Array<boolean>(n).fill(false);
  const comp = new Array<number>(n).fill(-1);
  const stack: number[] = [];
  let counter = 0;
  let comps = 0;
  for (let start = 0; start < n; start++) {
    if (index[start] !== -1) continue;
    const work: [number, number][] = [[start, 0]];
    index[start] = low[start] = counter++;
    stack.push(start);
    onStack[start] = true;
    while (work.length > 0) {
      const top = work[work.length - 1];
      const [v, i] = top;
      if (i < next[v].length) {
        top[1]++;
        const w = next[v][i];
        if (index[w] === -1) {
          index[w] = low[w] = counter++;
          stack.push(w);
          onStack[w] = true;
          work.push([w, 0]);
        } else if (onStack[w]) low[v] = Math.min(low[v], index[w]);
        continue;
      }
      work.pop();
      if (work.length > 0) low[work[work.length - 1][0]] = Math.min(low[work[work.length - 1][0]], low[v]);
      if (low[v] === index[v]) {
        for (;;) {
          const w = stack.pop()!;
          onStack[w] = false;
          comp[w] = comps;
          if (w === v) break;
        }
        comps++;
      }
    }
  }
  return comp;
}
