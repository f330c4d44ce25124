// The WebAssembly backend end to end: every HF reference decoder (logits within 1e-4, the same
// greedy tokens as transformers) at 1 and 2 threads, and the real checkpoints' golden texts.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { Model } from '../../src/model.js';
import { maxAbsDiff, readRef, refDecoders } from '../helpers/refs.js';
import { greedy } from '../helpers/generate.js';
import { hasShared, sharedPath } from '../helpers/shared.js';


describe.runIf(hasShared('refs'))('WebAssembly backend on the HF reference decoders', () => {
  const models: Model[] = [];
  afterAll(async () => { for (const m of models) await m.dispose(); });
  refDecoders().forEach((arch, i) => {
    const threads = (i % 2) + 1;
    it(`${arch} (${threads} thread${threads > 1 ? 's' : ''}): logits and greedy tokens equal transformers`, async () => {
      const ref = readRef(arch);
      const ids = ref.inputIds[0];
      const model = await Model.open(sharedPath('refs', arch), { backend: 'wasm', threads, maxChunk: 32 });
      models.push(model);
      expect(model.executor.backend).toBe('wasm');
      expect(maxAbsDiff(await model.logits(ids), ref.tensor('logits').data)).toBeLessThan(1e-4);
      expect((await greedy(model, ids, 12, false)).ids).toEqual(ref.json.generate!.new_tokens);
    });
  });
});

describe.runIf(hasShared('models'))('WebAssembly backend on real checkpoints', () => {
  it('stories260K generates the llama2.c golden text at 2 threads, with threads that sleep at every wait', async () => {
    const golden = JSON.parse(readFileSync(sharedPath('golden', 'stories260K-llama2c.json'), 'utf8')).cases[0];
    const path = sharedPath('models', 'stories260K', 'stories260K.bin');
    await expect(Model.open(path, { backend: 'wasm', threads: 2, spinMicros: -1 })).rejects.toThrow(/spinMicros/);
    // spinMicros 0: every barrier and every step start goes through a sleep and a wake-up.
    const model = await Model.open(path, { backend: 'wasm', threads: 2, maxChunk: 16, spinMicros: 0 });
    const n = golden.steps - model.tokenizer.encode(golden.prompt).length + 1;
    expect(golden.prompt + (await greedy(model, golden.prompt, n)).text + '\n').toBe(golden.text);
    await model.dispose();
  });
  it('TinyStories-656K: the golden tokens (f32), and Q8_0 equal to the reference backend', async () => {
    const golden = JSON.parse(readFileSync(sharedPath('golden', 'tinystories-656k-hf.json'), 'utf8')).cases[0];
    const model = await Model.open(sharedPath('models', 'tinystories-656k'), { backend: 'wasm', threads: 2 });
    expect((await greedy(model, golden.prompt, golden.new_tokens.length)).ids).toEqual(golden.new_tokens);
    await model.dispose();
    const q8 = sharedPath('models', 'tinystories-656k', 'TinyStories-656K-Q8_0.gguf');
    const wasm = await Model.open(q8, { backend: 'wasm', threads: 2 });
    const a = await greedy(wasm, 'Once upon a time', 24);
    const b = await greedy(Model.load(q8), 'Once upon a time', 24);
    // Q8_0 matmuls quantize activations to 8 bits (as llama.cpp does on CPUs), so the logits differ
    // slightly from the reference's dequantize-then-f32 product; the story must start the same.
    expect(a.ids.slice(0, 8)).toEqual(b.ids.slice(0, 8));
    await wasm.dispose();
  }, 120_000);
});
