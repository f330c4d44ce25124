// Random sentences of a compiled grammar: a derivation that picks alternatives at random and,
// past a depth, the alternative with the shortest completion, so it always ends.
import { BYTE, type CompiledGrammar, END, REF } from '../../../runtime/grammar/compile.js';

export function sentenceSampler(g: CompiledGrammar): (rand: () => number) => Uint8Array {
  // Shortest completion (in bytes) of each rule and alternative, by fixpoint.
  const altCost = (start: number, rule: number[]): number => {
    let cost = 0;
    for (let p = start; g.kind[p] !== END; p++) cost += g.kind[p] === BYTE ? 1 : g.kind[p] === REF ? rule[g.a[p]] : Infinity;
    return cost;
  };
  const altLength = (start: number): number => {
    let p = start;
    while (g.kind[p] !== END) p++;
    return p - start;
  };
  const ruleCost = g.alternatives.map(() => Infinity);
  for (let changed = true; changed;) {
    changed = false;
    g.alternatives.forEach((alts, r) => {
      const c = Math.min(...[...alts].map((a) => altCost(a, ruleCost)));
      if (c < ruleCost[r]) { ruleCost[r] = c; changed = true; }
    });
  }
  return (rand) => {
    const out: number[] = [];
    const expand = (rule: number, depth: number) => {
      const alts = [...g.alternatives[rule]].filter((a) => altCost(a, ruleCost) < Infinity);
      // Deep down: the cheapest alternative, and of equally cheap ones the shortest (ε before `x x*`
      // when x can be empty, which would otherwise recurse forever).
      const size = (a: number) => [altCost(a, ruleCost), altLength(a)];
      const cheaper = (x: number, y: number) => { const [cx, lx] = size(x); const [cy, ly] = size(y); return cy < cx || (cy === cx && ly < lx) ? y : x; };
      const pick = depth > 12 || out.length > 200 ? alts.reduce(cheaper) : alts[Math.floor(rand() * alts.length)];
      for (let p = pick; g.kind[p] !== END; p++) {
        if (g.kind[p] === BYTE) out.push(g.a[p] + Math.floor(rand() * (g.b[p] - g.a[p] + 1)));
        else expand(g.a[p], depth + 1);
      }
    };
    expand(g.root, 0);
    return Uint8Array.from(out);
  };
}
