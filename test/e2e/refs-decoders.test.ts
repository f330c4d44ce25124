// Every decoder in ../shared/refs against Hugging Face transformers: logits, hidden states and
// greedy tokens, on the reference interpreter.
import { beforeAll, describe, expect, it } from 'vitest';
import { interpret } from '../../runtime/reference/interpreter.js';
import { i32 } from '../../ir/tensor.js';
import { Model, paramResolver } from '../../src/model.js';
import { hasShared, sharedPath } from '../helpers/shared.js';
import { maxAbsDiff, readRef, type RefSet, refDecoders } from '../helpers/refs.js';
import { argmax } from '../../runtime/sampler.js';

describe.runIf(hasShared('refs'))('HF reference decoders (reference interpreter)', () => {
  for (const arch of refDecoders()) {
    describe(arch, () => {
      // Loaded in a hook: vitest runs this body even when the suite is skipped.
      let ref: RefSet, ids: number[], model: Model;
      beforeAll(() => {
        ref = readRef(arch);
        ids = ref.inputIds[0];
        model = Model.load(sharedPath('refs', arch));
      });

      it('logits and hidden states match within 1e-4', () => {
        const g = model.graph({ logits: 'all', hiddenStates: true });
        const S = ids.length;
        const cfg = model.config;
        const inputs: Record<string, ReturnType<typeof i32>> = { tokens: i32([S], ids), pos: i32([S], ids.map((_, i) => i)) };
        for (const v of g.stateInputs()) inputs[v.name] = { dtype: 'f32', shape: [0, cfg.numKvHeads, cfg.headDim], data: new Float32Array(0) } as never;
        const res = interpret(g, { inputs, params: paramResolver(model.source), dims: { P: 0 } });
        const logits = ref.tensor('logits');
        expect(maxAbsDiff(res.outputs.logits.data as Float32Array, logits.data)).toBeLessThan(1e-4);
        const hidden = ref.tensor('hidden_states');
        const per = S * cfg.hiddenSize;
        for (let l = 0; l <= cfg.numLayers; l++) {
          const mine = res.outputs[`hidden.${l}`].data as Float32Array;
          expect(maxAbsDiff(mine, hidden.data.subarray(l * per, (l + 1) * per)), `hidden.${l}`).toBeLessThan(1e-4);
        }
      });

      it('greedy generation with the KV cache equals transformers', async () => {
        const want = ref.json.generate!.new_tokens;
        const ex = model.executor;
        ex.reset();
        const rope = model.config.rope?.scaling;
        const recompute = rope?.type === 'longrope' ? rope.originalMaxPositions : undefined;
        const seq = [...ids];
        let logits = await ex.forward(ids, 'last');
        const got: number[] = [];
        for (let i = 0; i < want.length; i++) {
          const next = argmax(logits);
          got.push(next);
          seq.push(next);
          if (recompute !== undefined && seq.length > recompute && ex.position <= recompute) {
            ex.reset();
            logits = await ex.forward(seq, 'last');
          } else {
            logits = await ex.forward([next], 'last');
          }
        }
        expect(got).toEqual(want);
      });
    });
  }
});
