// lora-merge against weights merged by hand, on the reference interpreter: for every decoder in
// ../shared/refs a random PEFT adapter (drawn rank, alpha, rsLoRA, targets among the attention and
// MLP projections, scale including 0 and negative) gives the logits of a checkpoint whose weights
// were merged by plain loops (test/lora/adapters.ts) — fused Phi-3 qkv/gate_up and GPT-2's Conv1D
// weights included; and a random GGUF adapter on TinyStories-656K's GGUF gives the logits of the
// same graph run on weights merged by hand.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Value } from '../../ir/graph.js';
import { type HostTensor, i32, tensor, toF32 } from '../../ir/tensor.js';
import { weightLeaves } from '../../ir/weights.js';
import { familyTraits } from '../../models/config/families/table.js';
import { openModel } from '../../models/open.js';
import { loraFactor } from '../../models/lora/adapter.js';
import { interpret, type ParamResolver } from '../../runtime/reference/interpreter.js';
import { Model, paramResolver } from '../../src/model.js';
import { maxAbsDiff, readRef, refDecoders } from '../helpers/refs.js';
import { hasShared, sharedPath } from '../helpers/shared.js';
import { mergedByHand, projectionTensors, randomFactor, rng, type TestFactor, writeGgufAdapter, writeMergedCheckpoint, writePeftAdapter } from './adapters.js';

const draws = (targets: number) => fc.record({
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  rank: fc.integer({ min: 1, max: 4 }),
  alpha: fc.integer({ min: 1, max: 32 }),
  rsLora: fc.boolean(),
  // 0, negative and fractional scales; drawn doubles stay away from 0 so most runs change the model.
  scale: fc.oneof(
    { arbitrary: fc.constantFrom(0, 1, -1, 0.5), weight: 1 },
    { arbitrary: fc.double({ min: -2, max: 2, noNaN: true }).filter((x) => Math.abs(x) >= 0.05), weight: 2 },
  ),
  pick: fc.uniqueArray(fc.nat({ max: targets - 1 }), { minLength: 1, maxLength: targets }),
});

const scratch: string[] = [];
afterAll(() => { for (const d of scratch) rmSync(d, { recursive: true, force: true }); });
const tempDir = () => { const d = mkdtempSync(join(tmpdir(), 'tessera-lora-')); scratch.push(d); return d; };

describe.runIf(hasShared('refs'))('lora-merge equals weights merged by hand (PEFT, every refs decoder)', () => {
  for (const arch of refDecoders()) {
    it(arch, async () => {
      const dir = sharedPath('refs', arch);
      const ids = readRef(arch).inputIds[0];
      const base = openModel(dir);
      const conv1d = familyTraits(base.config.family).hf.tensors.scheme === 'conv1d';
      const targets = projectionTensors(base);
      const baseLogits = await Model.load(dir).logits(ids);
      await fc.assert(fc.asyncProperty(draws(targets.length), async ({ seed, rank, alpha, rsLora, scale, pick }) => {
        const next = rng(seed);
        const factors = pick.map((i): TestFactor => {
          const { name, shape } = targets[i];
          const [out, inF] = conv1d ? [shape[1], shape[0]] : [shape[0], shape[1]];
          return randomFactor(name, rank, inF, out, next);
        });
        const work = tempDir();
        const adapter = writePeftAdapter(join(work, 'adapter'), factors, { r: rank, alpha, rsLora, fanInFanOut: conv1d });
        // The checkpoint merged by hand: every tensor copied, the adapted ones replaced in f32.
        const k = scale * loraFactor(alpha, rank, rsLora);
        const byName = new Map(factors.map((f) => [f.tensor, f]));
        const merged = writeMergedCheckpoint(dir, base, factors, k, conv1d, join(work, 'merged'));

        const model = Model.load(dir, { lora: [{ path: adapter, scale }] });
        const graph = model.graph({ logits: 'all' });
        const adapted = graph.params.filter((p) => p.def.kind === 'param' && p.def.source.kind === 'call' && p.def.source.fn === 'add_low_rank');
        const reading = graph.params.filter((p) => p.def.kind === 'param' && weightLeaves(p.def.source).some((l) => byName.has(l)));
        expect(adapted.length, 'every parameter reading an adapted tensor is merged').toBe(reading.length);
        expect(adapted.length).toBeGreaterThanOrEqual(factors.length);
        const got = await model.logits(ids);
        const want = await Model.load(merged).logits(ids);
        expect(maxAbsDiff(got, want)).toBeLessThanOrEqual(1e-4);
        if (scale === 0) expect(maxAbsDiff(got, baseLogits), 'scale 0 leaves the model as it was').toBe(0);
        else expect(maxAbsDiff(got, baseLogits), 'the adapter changes the logits').toBeGreaterThan(1e-2);
        rmSync(work, { recursive: true, force: true });
      }), { numRuns: 5 });
    });
  }
});

const GGUF = ['models', 'tinystories-656k', 'TinyStories-656K.f16.gguf'] as const;

/** Logits of a graph run on the reference interpreter with the given weights. */
function runGraph(model: Model, params: ParamResolver, ids: number[]): Float32Array {
  const g = model.graph({ logits: 'all' });
  const cfg = model.config;
  const inputs: Record<string, HostTensor> = { tokens: i32([ids.length], ids), pos: i32([ids.length], ids.map((_, i) => i)) };
  for (const v of g.stateInputs()) inputs[v.name] = tensor('f32', [0, cfg.numKvHeads, cfg.headDim], new Float32Array(0));
  return interpret(g, { inputs, params, dims: { P: 0 } }).outputs.logits.data as Float32Array;
}

describe.runIf(hasShared(...GGUF))('lora-merge equals weights merged by hand (GGUF adapter on a GGUF model)', () => {
  let path: string, targets: { name: string; shape: readonly number[] }[], plain: Model;
  beforeAll(() => {
    path = sharedPath(...GGUF);
    targets = projectionTensors(openModel(path));
    plain = Model.load(path);
  });

  it('TinyStories-656K f16', async () => {
    const ids = [1, 80, 147, 201, 282, 57];
    await fc.assert(fc.asyncProperty(draws(targets.length), async ({ seed, rank, alpha, scale, pick }) => {
      const next = rng(seed);
      const factors = pick.map((i) => randomFactor(targets[i].name, rank, targets[i].shape[1], targets[i].shape[0], next));
      const work = tempDir();
      const adapter = writeGgufAdapter(join(work, 'adapter.gguf'), factors, { alpha, architecture: 'llama' });
      const model = Model.load(path, { lora: [{ path: adapter, scale }] });
      const params = paramResolver(model.source);
      const got = runGraph(model, params, ids);
      // The same graph on weights merged by hand from the checkpoint's tensors (the merged
      // parameters are f32; every other one is read as before).
      const byName = new Map(factors.map((f) => [f.tensor, f]));
      const k = scale * (alpha / rank);
      const byHand: ParamResolver = (p: Value) => {
        const src = p.def.kind === 'param' ? p.def.source : undefined;
        const leaf = src?.kind === 'call' && src.fn === 'add_low_rank' ? src.args[0] : undefined;
        const f = leaf?.kind === 'tensor' ? byName.get(leaf.name) : undefined;
        if (!f) return params(p);
        return tensor('f32', [f.outFeatures, f.inFeatures], mergedByHand(toF32(plain.source.readLeaf((leaf as { name: string }).name)), f, k, false));
      };
      const merged = model.graph({ logits: 'all' }).params.filter((p) => p.def.kind === 'param' && p.def.source.kind === 'call' && p.def.source.fn === 'add_low_rank');
      expect(merged.map((p) => p.name).sort()).toEqual(plain.graph({ logits: 'all' }).params.filter((p) => p.def.kind === 'param' && p.def.source.kind === 'tensor' && byName.has(p.def.source.name)).map((p) => p.name).sort());
      const want = runGraph(model, byHand, ids);
      expect(maxAbsDiff(got, want)).toBeLessThanOrEqual(1e-4);
      rmSync(work, { recursive: true, force: true });
    }), { numRuns: 8 });
  });
});
