// Every optimisation pass on every model in ../shared/refs (the HF reference checkpoints): the
// reference interpreter gives the same logits and KV-cache updates before and after, for a prefill
// and for the decode step that follows it (S = 1: the flash-decoding path); a second run changes
// nothing; the graph verifies. Then the shape of what `default` leaves behind, counted by op.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Graph } from '../../ir/graph.js';
import { projectionOf } from '../../ir/op.js';
import { i32, type HostTensor, tensor } from '../../ir/tensor.js';
import { verifyGraph } from '../../ir/verifier.js';
import '../../passes/index.js';
import { opCountTable } from '../../passes/stats.js';
import type { InterpretResult, ParamResolver } from '../../runtime/reference/interpreter.js';
import { Encoder } from '../../src/encoder.js';
import { Model, paramResolver } from '../../src/model.js';
import { readRef, refDecoders, refEncoders } from '../helpers/refs.js';
import { hasShared, sharedPath } from '../helpers/shared.js';
import { applyTwice, dequantized, expectSameResults, runWith } from './helpers/oracle.js';

const PIPELINES = [
  'canonicalize',
  'qkv-merge',
  'rmsnorm-matmul',
  'flash-attention',
  'flash-attention{tile_q=3, tile_k=4, split_k=3}',
  'fuse-elementwise',
  'fold-rope',
  'quantize',
  'quantize{dtype=q4_0}',
  'memory-plan',
  'default',
  'canonicalize,rmsnorm-matmul,qkv-merge,fold-rope,flash-attention{tile_k=5},fuse-elementwise,canonicalize',
];


const quantizes = (p: string) => p.startsWith('quantize');

interface Step {
  readonly prefill: InterpretResult;
  readonly decode: InterpretResult;
}

/** A prefill of the ref prompt's first 11 tokens from an empty cache, then one decode step on its cache. */
function steps(g: Graph, params: ParamResolver, ids: readonly number[]): Step {
  const S = 11;
  const empty: Record<string, HostTensor> = {};
  for (const v of g.stateInputs()) empty[v.name] = tensor('f32', [0, ...(v.type.shape.slice(1) as number[])]);
  const prefill = runWith(g, params, { S, P: 0 }, 0, { tokens: i32([S], ids.slice(0, S)), pos: i32([S], [...Array(S).keys()]), ...empty });
  const decode = runWith(g, params, { S: 1, P: S }, 0, { tokens: i32([1], [ids[S]]), pos: i32([1], [S]), ...prefill.updates });
  return { prefill, decode };
}

describe.runIf(hasShared('refs'))('optimisation passes on the HF reference decoders', () => {
  for (const arch of refDecoders()) {
    describe(arch, () => {
      // Loaded in a hook: vitest runs this body even when the suite is skipped.
      let model: Model, params: ParamResolver, g: Graph, ids: number[], before: Step;
      beforeAll(() => {
        model = Model.load(sharedPath('refs', arch));
        params = paramResolver(model.source);
        g = model.graph({ logits: 'all', hiddenStates: false });
        ids = readRef(arch).inputIds[0];
        before = steps(g, params, ids);
      });

      for (const pipeline of PIPELINES) {
        it(`${pipeline}: same logits and caches (prefill and decode), idempotent, verifies`, () => {
          const { graph: after } = applyTwice(g, pipeline);
          verifyGraph(after);
          const want = quantizes(pipeline) ? steps(dequantized(g, after), params, ids) : before;
          const got = steps(after, params, ids);
          expectSameResults(want.prefill, got.prefill, `${arch} prefill`);
          expectSameResults(want.decode, got.decode, `${arch} decode`);
        });
      }

      it('default: one projection per input (merged Q/K/V, merged gate/up), no norm feeding a matmul, flash attention', () => {
        const { graph: after } = applyTwice(g, 'default');
        const L = model.config.numLayers;
        const count = (op: string) => after.nodes.filter((n) => n.op === op).length;
        const projections = after.nodes.filter((n) => projectionOf(n.op) !== undefined);
        // Per layer: Q/K/V, O, gate/up (or up), down; then the lm_head.
        expect(projections.length, opCountTable(g, after)).toBe(4 * L + 1);
        const byInput = new Map<unknown, number>();
        for (const n of projections) byInput.set(n.inputs[0], (byInput.get(n.inputs[0]) ?? 0) + 1);
        expect([...byInput.values()].every((k) => k === 1)).toBe(true);
        // A tied lm_head keeps its norm: folding the gain would copy the embedding table (rmsnorm-matmul).
        const tables = new Set(after.nodes.filter((n) => n.op === 'embedding').map((n) => n.inputs[0]));
        const normFeedsMatmul = after.nodes.some((n) => (n.op === 'rms_norm' || n.op === 'layer_norm') && after.nodes.some((m) => projectionOf(m.op) !== undefined && m.inputs[0] === n.outputs[0] && !tables.has(m.inputs[1])));
        expect(normFeedsMatmul).toBe(false);
        expect(count('attention')).toBe(0);
        expect(count('flash_attention')).toBe(L);
        if (model.config.gatedMlp) expect(after.nodes.filter((n) => n.op === 'norm_matmul' && n.attrs.parts === 2)).toHaveLength(L);
      });
    });
  }
});

describe.runIf(hasShared('refs'))('optimisation passes on the HF reference encoders', () => {
  for (const arch of refEncoders()) {
    describe(arch, () => {
      // Two rows of 7, the second padded after 4 tokens.
      const B = 2, S = 7;
      const inputs: Record<string, HostTensor> = {
        tokens: i32([B, S], [5, 17, 33, 99, 120, 7, 2, 9, 44, 250, 3, 0, 0, 0]),
        pos: i32([S], [...Array(S).keys()]),
        mask: i32([B, S], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0]),
      };
      let params: ParamResolver, g: Graph, before: InterpretResult;
      const run = (x: Graph) => runWith(x, params, { B, S }, 0, inputs);
      // Loaded in a hook: vitest runs this body even when the suite is skipped.
      beforeAll(() => {
        const enc = Encoder.load(sharedPath('refs', arch));
        params = paramResolver(enc.source);
        g = enc.graph();
        if (g.inputs.some((v) => v.name === 'token_types')) inputs.token_types = i32([B, S], [0, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0]);
        before = run(g);
      });
      for (const pipeline of PIPELINES) {
        it(`${pipeline}: same outputs, idempotent, verifies`, () => {
          const { graph: after } = applyTwice(g, pipeline);
          verifyGraph(after);
          expectSameResults(quantizes(pipeline) ? run(dequantized(g, after)) : before, run(after), arch);
        });
      }
    });
  }
});
