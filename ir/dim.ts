// Symbolic dimensions. A dim is a plain number or a polynomial over symbols (S, P, …) and a few
// integer functions (ceildiv, floordiv, min, max). Polynomials are kept in a canonical form, so
// `S+P` and `P+S` are the same dim and compare equal by their printed key.

export type DimFn = 'ceildiv' | 'floordiv' | 'min' | 'max';
export const DIM_FNS: readonly DimFn[] = ['ceildiv', 'floordiv', 'min', 'max'];

type Atom =
  | { readonly kind: 'sym'; readonly name: string; readonly key: string }
  | { readonly kind: 'fn'; readonly fn: DimFn; readonly args: readonly [Dim, Dim]; readonly key: string };

interface Term {
  readonly coeff: number;
  /** Atoms multiplied together, sorted by key (repeated for powers). Empty for the constant term. */
  readonly atoms: readonly Atom[];
  readonly key: string;
}

/** A dimension that is not a compile-time constant. Build with `sym`, `dimAdd`, `dimMul`, … */
export class SymDim {
  /** Canonical text, e.g. `P+S`, `2*S-1`, `ceildiv(P+S, 64)`. */
  readonly key: string;
  private constructor(readonly terms: readonly Term[]) {
    this.key = formatTerms(terms);
  }
  /** @internal Builds from canonical terms, folding to a number when no symbol remains. */
  static of(terms: readonly Term[]): Dim {
    const kept = terms.filter((t) => t.coeff !== 0);
    if (kept.every((t) => t.atoms.length === 0)) return kept.reduce((a, t) => a + t.coeff, 0);
    return new SymDim(kept);
  }
  toString(): string {
    return this.key;
  }
}

export type Dim = number | SymDim;

export function isStaticDim(d: Dim): d is number {
  return typeof d === 'number';
}

export function sym(name: string): SymDim {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) || (DIM_FNS as readonly string[]).includes(name)) {
    throw new Error(`invalid dimension symbol '${name}'`);
  }
  const atom: Atom = { kind: 'sym', name, key: name };
  return SymDim.of([{ coeff: 1, atoms: [atom], key: name }]) as SymDim;
}

function termsOf(d: Dim): readonly Term[] {
  if (typeof d === 'number') return d === 0 ? [] : [{ coeff: d, atoms: [], key: '' }];
  return d.terms;
}

function monoKey(atoms: readonly Atom[]): string {
  return atoms.map((a) => a.key).join('*');
}

function collect(terms: Iterable<Term>): Term[] {
  const byKey = new Map<string, Term>();
  for (const t of terms) {
    const prev = byKey.get(t.key);
    byKey.set(t.key, prev ? { ...prev, coeff: prev.coeff + t.coeff } : t);
  }
  // Constant term last; otherwise higher degree first, then alphabetical.
  return [...byKey.values()]
    .filter((t) => t.coeff !== 0)
    .sort((a, b) => {
      if ((a.atoms.length === 0) !== (b.atoms.length === 0)) return a.atoms.length === 0 ? 1 : -1;
      if (a.atoms.length !== b.atoms.length) return b.atoms.length - a.atoms.length;
      return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
    });
}

export function dimAdd(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  return SymDim.of(collect([...termsOf(a), ...termsOf(b)]));
}

export function dimNeg(a: Dim): Dim {
  return dimMul(a, -1);
}

export function dimSub(a: Dim, b: Dim): Dim {
  return dimAdd(a, dimNeg(b));
}

export function dimMul(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a * b;
  const out: Term[] = [];
  for (const x of termsOf(a)) {
    for (const y of termsOf(b)) {
      const atoms = [...x.atoms, ...y.atoms].sort((p, q) => (p.key < q.key ? -1 : p.key > q.key ? 1 : 0));
      out.push({ coeff: x.coeff * y.coeff, atoms, key: monoKey(atoms) });
    }
  }
  return SymDim.of(collect(out));
}

function applyFn(fn: DimFn, a: number, b: number): number {
  switch (fn) {
    case 'ceildiv': return Math.ceil(a / b);
    case 'floordiv': return Math.floor(a / b);
    case 'min': return Math.min(a, b);
    case 'max': return Math.max(a, b);
  }
}

/** ceildiv, floordiv, min or max of two dims; folds when both are constant. */
export function dimFn(fn: DimFn, a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') {
    if ((fn === 'ceildiv' || fn === 'floordiv') && b === 0) throw new Error(`${fn} by zero`);
    return applyFn(fn, a, b);
  }
  if ((fn === 'ceildiv' || fn === 'floordiv') && b === 1) return a;
  if ((fn === 'min' || fn === 'max') && dimEquals(a, b)) return a;
  const key = `${fn}(${dimToString(a)}, ${dimToString(b)})`;
  const atom: Atom = { kind: 'fn', fn, args: [a, b], key };
  return SymDim.of([{ coeff: 1, atoms: [atom], key }]);
}

export function dimEquals(a: Dim, b: Dim): boolean {
  if (typeof a === 'number' || typeof b === 'number') return a === b;
  return a.key === b.key;
}

export function dimToString(d: Dim): string {
  return typeof d === 'number' ? String(d) : d.key;
}

function formatTerm(t: Term): string {
  const mono = t.atoms.map((a) => a.key).join('*');
  if (!mono) return String(Math.abs(t.coeff));
  const c = Math.abs(t.coeff);
  return c === 1 ? mono : `${c}*${mono}`;
}

function formatTerms(terms: readonly Term[]): string {
  let s = '';
  for (const t of terms) {
    const body = formatTerm(t);
    if (!s) s = t.coeff < 0 ? `-${body}` : body;
    else s += t.coeff < 0 ? `-${body}` : `+${body}`;
  }
  return s || '0';
}

/** Every symbol a dim mentions. */
export function dimSymbols(d: Dim, into = new Set<string>()): Set<string> {
  if (typeof d === 'number') return into;
  for (const t of d.terms) {
    for (const a of t.atoms) {
      if (a.kind === 'sym') into.add(a.name);
      else { dimSymbols(a.args[0], into); dimSymbols(a.args[1], into); }
    }
  }
  return into;
}

export type DimBindings = Readonly<Record<string, number>>;

/** The value of a dim once its symbols are bound. Throws when a symbol is unbound. */
export function evalDim(d: Dim, env: DimBindings): number {
  if (typeof d === 'number') return d;
  let total = 0;
  for (const t of d.terms) {
    let v = t.coeff;
    for (const a of t.atoms) {
      if (a.kind === 'sym') {
        const x = env[a.name];
        if (x === undefined) throw new Error(`dimension symbol '${a.name}' is not bound (in ${d.key})`);
        v *= x;
      } else {
        const l = evalDim(a.args[0], env);
        const r = evalDim(a.args[1], env);
        if ((a.fn === 'ceildiv' || a.fn === 'floordiv') && r === 0) throw new Error(`${a.key}: division by zero`);
        v *= applyFn(a.fn, l, r);
      }
    }
    total += v;
  }
  return total;
}

/** Substitutes dims for symbols (e.g. P ↦ P+S for the next step's state shapes). */
export function substituteDim(d: Dim, subst: Readonly<Record<string, Dim>>): Dim {
  if (typeof d === 'number') return d;
  let out: Dim = 0;
  for (const t of d.terms) {
    let term: Dim = t.coeff;
    for (const a of t.atoms) {
      const v: Dim = a.kind === 'sym'
        ? (subst[a.name] ?? sym(a.name))
        : dimFn(a.fn, substituteDim(a.args[0], subst), substituteDim(a.args[1], subst));
      term = dimMul(term, v);
    }
    out = dimAdd(out, term);
  }
  return out;
}

export function shapeToString(shape: readonly Dim[]): string {
  return `[${shape.map(dimToString).join(', ')}]`;
}

export function shapesEqual(a: readonly Dim[], b: readonly Dim[]): boolean {
  return a.length === b.length && a.every((d, i) => dimEquals(d, b[i]));
}

/** Product of dims (element count). */
export function dimProduct(shape: readonly Dim[]): Dim {
  return shape.reduce<Dim>((acc, d) => dimMul(acc, d), 1);
}
