// The WebGPU backend end to end: every HF reference decoder (logits within 1e-4, the same greedy
// tokens as transformers) and the real checkpoints' golden texts.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { Model } from '../../src/model.js';
import { maxAbsDiff, readRef, refDecoders } from '../helpers/refs.js';
import { greedy } from '../helpers/generate.js';
import { gpuSkipReason } from '../helpers/gpu.js';
import { hasShared, sharedPath } from '../helpers/shared.js';

const gpuReason = gpuSkipReason('WebGPU end-to-end tests');


describe.runIf(hasShared('refs'))('WebGPU backend on the HF reference decoders', () => {
  const models: Model[] = [];
  afterAll(async () => { for (const m of models) await m.dispose(); });
  for (const arch of refDecoders()) {
    it(`${arch}: logits and greedy tokens equal transformers`, async (t) => {
      if (gpuReason()) return t.skip();
      const ref = readRef(arch);
      const ids = ref.inputIds[0];
      const model = await Model.open(sharedPath('refs', arch), { backend: 'webgpu', maxChunk: 32 });
      models.push(model);
      expect(model.executor.backend).toBe('webgpu');
      expect(maxAbsDiff(await model.logits(ids), ref.tensor('logits').data)).toBeLessThan(1e-4);
      const it = model.generate(ids, { maxTokens: 12, stopAtEos: false });
      const got: number[] = [];
      for (let r = await it.next(); !r.done; r = await it.next()) if (r.value.id >= 0) got.push(r.value.id);
      expect(got).toEqual(ref.json.generate!.new_tokens);
    });
  }
});

describe.runIf(hasShared('models'))('WebGPU backend on real checkpoints', () => {
  it('stories260K generates the llama2.c golden text', async (t) => {
    if (gpuReason()) return t.skip();
    const golden = JSON.parse(readFileSync(sharedPath('golden', 'stories260K-llama2c.json'), 'utf8')).cases[0];
    const model = await Model.open(sharedPath('models', 'stories260K', 'stories260K.bin'), { backend: 'webgpu', maxChunk: 16 });
    const n = golden.steps - model.tokenizer.encode(golden.prompt).length + 1;
    expect(golden.prompt + (await greedy(model, golden.prompt, n)).text + '\n').toBe(golden.text);
    await model.dispose();
  }, 300_000);
  it('TinyStories-656K generates the transformers golden tokens, and WebGPU equals the reference backend', async (t) => {
    if (gpuReason()) return t.skip();
    const golden = JSON.parse(readFileSync(sharedPath('golden', 'tinystories-656k-hf.json'), 'utf8')).cases[0];
    const path = sharedPath('models', 'tinystories-656k');
    const gpu = await Model.open(path, { backend: 'webgpu' });
    expect((await greedy(gpu, golden.prompt, golden.new_tokens.length)).ids).toEqual(golden.new_tokens);
    const q8 = sharedPath('models', 'tinystories-656k', 'TinyStories-656K-Q8_0.gguf');
    const a = await greedy(await Model.open(q8, { backend: 'webgpu' }), 'Once upon a time', 24);
    const b = await greedy(Model.load(q8), 'Once upon a time', 24);
    expect(a.ids).toEqual(b.ids);
    await gpu.dispose();
  }, 300_000);
});
