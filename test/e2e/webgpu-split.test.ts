// Weights larger than one storage binding, end to end: with TESSERA_WEBGPU_MAX_BINDING far below
// the adapter's real limit, the embedding, classifier and projection weights of the reference
// decoders and of stories260K are bound as row ranges, and the logits and greedy tokens stay those
// of transformers / llama2.c (and of the unsplit run).
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { WEBGPU_DEFAULT_TARGET } from '../../codegen/wgsl/target.js';
import { lowerStepGraphs } from '../../src/step-lowering.js';
import { Model } from '../../src/model.js';
import { maxAbsDiff, readRef } from '../helpers/refs.js';
import { gpuSkipReason } from '../helpers/gpu.js';
import { hasShared, sharedPath } from '../helpers/shared.js';

const CAP = 'TESSERA_WEBGPU_MAX_BINDING';

const gpuReason = gpuSkipReason('WebGPU split-weight tests');
afterEach(() => { delete process.env[CAP]; });

/** Weight row ranges the model's step graphs bind under a `cap`-byte binding limit (so the test is not vacuous). */
function rangesUnder(model: Model, cap: number): number {
  const graphs = { last: model.graph({ logits: 'last' }), all: model.graph({ logits: 'all' }) };
  const programs = lowerStepGraphs(graphs, { ...WEBGPU_DEFAULT_TARGET, maxStorageBindingSize: cap }, model.config.maxPositions, 32);
  const ranges = new Set<string>();
  for (const { node, lowering } of programs.last.nodes) {
    for (const k of lowering.kernels) {
      for (const b of k.bindings) if (b.kind === 'operand' && b.rows) ranges.add(`${node.op} %${node.inputs[b.index].name} ${b.rows.first}`);
    }
  }
  return ranges.size;
}

async function greedyIds(model: Model, ids: number[], n: number): Promise<number[]> {
  const it = model.generate(ids, { maxTokens: n, stopAtEos: false });
  const got: number[] = [];
  for (let r = await it.next(); !r.done; r = await it.next()) if (r.value.id >= 0) got.push(r.value.id);
  return got;
}

describe.runIf(hasShared('refs'))('WebGPU with split weights on the HF reference decoders', () => {
  // 10000 bytes: 39 rows of 64 f32s, so a 256-row embedding or classifier becomes 7 uneven ranges.
  // Llama with the default passes splits the fused projections (norm_matmul, matmul_ep with the
  // merged gate/up); GPT-2 without passes splits plain matmuls and a tied embedding/classifier.
  const cap = 10_000;
  for (const [arch, passes] of [['llama', 'default'], ['gpt2', 'none']] as const) {
    it(`${arch}, passes ${passes}: logits and greedy tokens equal transformers and the unsplit run`, async (t) => {
      if (gpuReason()) return t.skip();
      const ref = readRef(arch);
      const ids = ref.inputIds[0];
      const whole = await Model.open(sharedPath('refs', arch), { backend: 'webgpu', maxChunk: 32, passes });
      const wholeLogits = await whole.logits(ids);
      await whole.dispose();
      process.env[CAP] = String(cap);
      const split = await Model.open(sharedPath('refs', arch), { backend: 'webgpu', maxChunk: 32, passes });
      try {
        expect(rangesUnder(split, cap)).toBeGreaterThan(10);
        const logits = await split.logits(ids);
        expect(maxAbsDiff(logits, ref.tensor('logits').data)).toBeLessThan(1e-4);
        expect(maxAbsDiff(logits, wholeLogits)).toBeLessThan(1e-5);
        expect(await greedyIds(split, ids, 12)).toEqual(ref.json.generate!.new_tokens);
      } finally {
        await split.dispose();
      }
    });
  }
});

describe.runIf(hasShared('models'))('WebGPU with split weights on a real checkpoint', () => {
  it('stories260K generates the llama2.c golden text with its 512-row embedding in 7 ranges', async (t) => {
    if (gpuReason()) return t.skip();
    const golden = JSON.parse(readFileSync(sharedPath('golden', 'stories260K-llama2c.json'), 'utf8')).cases[0];
    process.env[CAP] = '20000';
    const model = await Model.open(sharedPath('models', 'stories260K', 'stories260K.bin'), { backend: 'webgpu', maxChunk: 16, passes: 'default' });
    try {
      expect(rangesUnder(model, 20_000)).toBeGreaterThanOrEqual(7);
      const n = golden.steps - model.tokenizer.encode(golden.prompt).length + 1;
      let text = '';
      for await (const tok of model.generate(golden.prompt, { maxTokens: n })) text += tok.text;
      expect(golden.prompt + text + '\n').toBe(golden.text);
    } finally {
      await model.dispose();
    }
  }, 300_000);
});
