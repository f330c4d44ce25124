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
import { applyTwice, dequantized, expectSameResults, exposeSinks, fill, isSliceOutOfRange, leafResolver, runWith, shapesValid, withLeafWeights } from './helpers/oracle.js';

interface Case {
  readonly pipeline: string;
  /**
   * Statistics that must each be counted in some of the runs (more than 1 in 20), so that the
   * property is not vacuous: a pipeline that did nothing would count none of them.
   */
  readonly fires: readonly string[];
  readonly quantizes?: boolean;
  /** The pipeline is a fixed point (default true; every single pass is). */
  readonly fixpoint?: boolean;
}

/** The statistics of the rewriting passes in `default` (passes/pipelines.ts). */
const DEFAULT_FIRES = ['groups-merged', 'norms-folded', 'ropes-folded', 'attentions-tiled', 'ops-fused'];

const CASES: readonly Case[] = [
  { pipeline: 'qkv-merge', fires: ['groups-merged'] },
  { pipeline: 'rmsnorm-matmul', fires: ['norms-folded'] },
  { pipeline: 'flash-attention', fires: ['attentions-tiled'] },
  { pipeline: 'flash-attention{tile_q=2, tile_k=3, split_k=2}', fires: ['attentions-tiled'] },
  { pipeline: 'flash-attention{tile_q=1, tile_k=1, split_k=5}', fires: ['attentions-tiled'] },
  { pipeline: 'fuse-elementwise', fires: ['ops-fused'] },
  { pipeline: 'fold-rope', fires: ['ropes-folded'] },
  { pipeline: 'quantize', fires: ['heads-kept'], quantizes: true },
  { pipeline: 'quantize{dtype=q4_0, heads=true}', fires: ['weights-quantized'], quantizes: true },
  { pipeline: 'memory-plan', fires: ['arena-bytes'] },
  // Every rewriting pass of the pipeline must rewrite something in some runs.
  { pipeline: 'default', fires: DEFAULT_FIRES },
  { pipeline: 'canonicalize,qkv-merge,rmsnorm-matmul,fold-rope,flash-attention{tile_k=2},fuse-elementwise,canonicalize', fires: ['ops-fused'] },
  { pipeline: 'canonicalize,rmsnorm-matmul,qkv-merge,fuse-elementwise', fires: ['norms-folded'] },
  // Quantizing changes storage types and so what qkv-merge may merge: whatever the order, a second
  // run of this whole pipeline can find more on graphs that mix quantized and float weights.
  { pipeline: 'canonicalize,qkv-merge,rmsnorm-matmul,quantize{heads=true},fuse-elementwise', fires: ['weights-quantized'], quantizes: true, fixpoint: false },
];

const arbCase = fc.record({
  graph: randomGraph({ ops: PASS_TEST_OPS, generators: PASS_GENERATORS, maxOps: 8 }),
  dimValues: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 8, maxLength: 8 }),
  seed: fc.nat(),
});

describe('optimisation passes on random graphs', () => {
  it('skip only the draws where a slice falls outside its operand; any other error fails', () => {
    const g = parseGraph('graph @g<S>(%x: f32[S, 2]) {\n  %y = slice(%x) {axis = 0, end = S - 1, start = S - 2} : f32[1, 2]\n  output y = %y\n}\n');
    const run = (S: number) => runWith(g, leafResolver(new Map()), { S }, 0);
    expect(run(3).outputs.y.shape).toEqual([1, 2]);
    expect(shapesValid(g, { S: 1 })).toBe(true);
    const outside = (() => { try { run(1); } catch (e) { return e; } })();
    expect(isSliceOutOfRange(outside), String(outside)).toBe(true);
    const other = (() => { try { runWith(g, leafResolver(new Map()), { S: 3 }, 0, { x: fill('x', 'f32', [2, 2]) }); } catch (e) { return e; } })();
    expect(other).toBeInstanceOf(Error);
    expect(isSliceOutOfRange(other), String(other)).toBe(false);
  });

  for (const c of CASES) {
    it(`${c.pipeline}: same results, idempotent, verifies, round-trips as text`, () => {
      let executed = 0, total = 0;
      const fired = new Map(c.fires.map((s) => [s, 0]));
      fc.assert(
        fc.property(arbCase, ({ graph, dimValues, seed }) => {
          total++;
          const { graph: g, leaves } = withLeafWeights(exposeSinks(graph));
          const params = leafResolver(leaves);
          const dims = Object.fromEntries(g.symbols.map((s, i) => [s, dimValues[i % dimValues.length]]));
          fc.pre(shapesValid(g, dims));
          let before;
          try {
            before = runWith(g, params, dims, seed);
          } catch (e) {
            if (!isSliceOutOfRange(e)) throw e;
            return; // a slice's symbolic bounds fall outside its operand for these symbol values
          }
          executed++;
          const { graph: after, stats } = applyTwice(g, c.pipeline, undefined, c.fixpoint ?? true);
          for (const s of c.fires) if ((stats[s] ?? 0) > 0) fired.set(s, fired.get(s)! + 1);
          verifyGraph(after);
          const text = printGraph(after);
          expect(printGraph(parseGraph(text))).toBe(text);
          const want = c.quantizes ? runWith(dequantized(g, after), params, dims, seed) : before;
          expectSameResults(want, runWith(after, params, dims, seed), `${c.pipeline} on\n${printGraph(g)}\ngave\n${text}`);
        }),
        { numRuns: 150 },
      );
      expect(executed).toBeGreaterThan(total / 2);
      for (const [s, n] of fired) expect(n, `${s} was counted in ${n} of ${executed} runs`).toBeGreaterThan(executed / 20);
    });
  }
});
