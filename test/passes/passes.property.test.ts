// Every optimisation pass over random graphs: the reference interpreter gives the same outputs and
// state updates before and after (within 1e-4 relative), a second run changes nothing, and the
// graph verifies after every pass (the pass manager checks). Quantize changes weights on purpose:
// after it, the graph must compute what the original does with the dequantized weights.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseGraph } from '../../ir/parser.js';
import { printGraph } from '../../ir/printer.js';
import { verifyGraph } from '../../ir/verifier.js';
import '../../passes/index.js';
import { randomGraph } from '../helpers/random-graph.js';
import { PASS_GENERATORS, PASS_TEST_OPS } from './helpers/generators.js';
import { applyTwice, dequantized, expectSameResults, exposeSinks, leafResolver, runWith, shapesValid, withLeafWeights } from './helpers/oracle.js';

interface Case {
  readonly pipeline: string;
  /** A statistic that must be counted in some of the runs, so the property is not vacuous. */
  readonly fires?: string;
  readonly quantizes?: boolean;
  /** The pipeline is a fixed point (default true; every single pass is). */
  readonly fixpoint?: boolean;
}

const CASES: readonly Case[] = [
  { pipeline: 'qkv-merge', fires: 'groups-merged' },
  { pipeline: 'rmsnorm-matmul', fires: 'norms-folded' },
  { pipeline: 'flash-attention', fires: 'attentions-tiled' },
  { pipeline: 'flash-attention{tile_q=2, tile_k=3, split_k=2}', fires: 'attentions-tiled' },
  { pipeline: 'flash-attention{tile_q=1, tile_k=1, split_k=5}', fires: 'attentions-tiled' },
  { pipeline: 'fuse-elementwise', fires: 'ops-fused' },
  { pipeline: 'fold-rope', fires: 'ropes-folded' },
  { pipeline: 'quantize', fires: 'heads-kept', quantizes: true },
  { pipeline: 'quantize{dtype=q4_0, heads=true}', fires: 'weights-quantized', quantizes: true },
  { pipeline: 'memory-plan', fires: 'arena-bytes' },
  { pipeline: 'default', fires: 'arena-bytes' },
  { pipeline: 'canonicalize,qkv-merge,rmsnorm-matmul,fold-rope,flash-attention{tile_k=2},fuse-elementwise,canonicalize', fires: 'ops-fused' },
  { pipeline: 'canonicalize,rmsnorm-matmul,qkv-merge,fuse-elementwise', fires: 'norms-folded' },
  // Quantizing changes storage types and so what qkv-merge may merge: whatever the order, a second
  // run of this whole pipeline can find more on graphs that mix quantized and float weights.
  { pipeline: 'canonicalize,qkv-merge,rmsnorm-matmul,quantize{heads=true},fuse-elementwise', fires: 'weights-quantized', quantizes: true, fixpoint: false },
];

const arbCase = fc.record({
  graph: randomGraph({ ops: PASS_TEST_OPS, generators: PASS_GENERATORS, maxOps: 8 }),
  dimValues: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 8, maxLength: 8 }),
  seed: fc.nat(),
});

describe('optimisation passes on random graphs', () => {
  for (const c of CASES) {
    it(`${c.pipeline}: same results, idempotent, verifies, round-trips as text`, () => {
      let executed = 0, total = 0, fired = 0;
      fc.assert(
        fc.property(arbCase, ({ graph, dimValues, seed }) => {
          total++;
          const { graph: g, leaves } = withLeafWeights(exposeSinks(graph));
          const params = leafResolver(leaves);
          const dims = Object.fromEntries(g.symbols.map((s, i) => [s, dimValues[i % dimValues.length]]));
          if (!shapesValid(g, dims)) return;
          let before;
          try {
            before = runWith(g, params, dims, seed);
          } catch {
            return; // random dims can be negative for these symbol values: nothing to compare
          }
          executed++;
          const { graph: after, stats } = applyTwice(g, c.pipeline, undefined, c.fixpoint ?? true);
          if (c.fires && (stats[c.fires] ?? 0) > 0) fired++;
          verifyGraph(after);
          const text = printGraph(after);
          expect(printGraph(parseGraph(text))).toBe(text);
          const want = c.quantizes ? runWith(dequantized(g, after), params, dims, seed) : before;
          expectSameResults(want, runWith(after, params, dims, seed), `${c.pipeline} on\n${printGraph(g)}\ngave\n${text}`);
        }),
        { numRuns: 150 },
      );
      expect(executed).toBeGreaterThan(total / 2);
      if (c.fires) expect(fired, `${c.fires} was counted in ${fired} of ${executed} runs`).toBeGreaterThan(executed / 20);
    });
  }
});
