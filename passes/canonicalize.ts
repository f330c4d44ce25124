// canonicalize: the clean-up every pipeline starts (and may end) with. Runs dim simplification,
// layout folding, CSE and DCE to a fixed point, so running it twice changes nothing.
import type { Graph } from '../ir/graph.js';
import { eliminateCommonSubexpressions } from './cse.js';
import { eliminateDeadCode } from './dce.js';
import { foldLayout } from './fold-layout.js';
import type { PassContext } from './pass.js';
import { registerPass } from './registry.js';
import { simplifyGraphDims } from './simplify-dims.js';

/** Each round removes or simplifies something; real graphs settle in two or three. */
const MAX_ROUNDS = 64;

export function canonicalize(g: Graph, ctx: Pick<PassContext, 'stat'>): boolean {
  let changed = false;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    let n = 0;
    const count = (stat: string, k: number) => {
      if (k > 0) ctx.stat(stat, k);
      n += k;
    };
    count('dims-simplified', simplifyGraphDims(g));
    for (const [stat, k] of foldLayout(g)) count(stat, k);
    const cse = eliminateCommonSubexpressions(g);
    count('nodes-merged', cse.nodes);
    count('params-merged', cse.params);
    const dce = eliminateDeadCode(g);
    count('nodes-removed', dce.nodes);
    count('params-removed', dce.params);
    if (n === 0) return changed;
    changed = true;
  }
  throw new Error(`canonicalize did not settle after ${MAX_ROUNDS} rounds (a rewrite keeps undoing another)`);
}

registerPass({
  name: 'canonicalize',
  description: 'DCE, CSE, folding of no-op and chained reshape/transpose/slice/concat/split, symbolic dim simplification (to a fixed point)',
  run: (g, ctx) => ({ changed: canonicalize(g, ctx) }),
});
