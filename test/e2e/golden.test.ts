// Greedy text from real pretrained checkpoints equals the reference implementations.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Model } from '../../src/model.js';
import { greedy } from '../helpers/generate.js';
import { hasShared, sharedPath } from '../helpers/shared.js';


interface Golden<Case> { readonly cases: readonly Case[] }
const readGolden = <Case>(file: string) => JSON.parse(readFileSync(sharedPath('golden', file), 'utf8')) as Golden<Case>;

describe.runIf(hasShared('models', 'stories260K') && hasShared('golden', 'stories260K-llama2c.json'))('stories260K (llama2.c run.c golden)', () => {
  // Read in a hook: vitest runs this body even when the suite is skipped.
  let golden: Golden<{ prompt: string; steps: number; text: string }>;
  beforeAll(() => { golden = readGolden('stories260K-llama2c.json'); });
  for (const file of ['stories260K.bin', 'stories260K.gguf']) {
    it(`${file} generates the golden text`, async () => {
      const model = Model.load(sharedPath('models', 'stories260K', file), { tokenizer: sharedPath('models', 'stories260K', 'tok512.bin') });
      for (const c of golden.cases) {
        // run.c's -n counts every position (BOS and prompt included) and prints the prompt as it goes.
        const promptIds = model.tokenizer.encode(c.prompt);
        const out = await greedy(model, c.prompt, c.steps - promptIds.length + 1);
        expect(c.prompt + out.text + '\n').toBe(c.text);
      }
    });
  }
});

describe.runIf(hasShared('models', 'tinystories-656k') && hasShared('golden', 'tinystories-656k-hf.json'))('TinyStories-656K (transformers golden)', () => {
  let golden: Golden<{ prompt: string; input_ids: number[]; new_tokens: number[]; last_logits_first8: number[]; text: string }>;
  beforeAll(() => { golden = readGolden('tinystories-656k-hf.json'); });
  const dir = sharedPath('models', 'tinystories-656k');
  for (const path of [dir, `${dir}/TinyStories-656K.f16.gguf`]) {
    it(`${path.split('/').pop()} generates the golden tokens`, async () => {
      const model = Model.load(path);
      for (const c of golden.cases) {
        expect(model.tokenizer.encode(c.prompt)).toEqual(c.input_ids);
        const logits = await model.logits(c.input_ids);
        const last = logits.subarray((c.input_ids.length - 1) * model.config.vocabSize);
        const tol = path.endsWith('.gguf') ? 0.05 : 1e-4; // f16 weights
        c.last_logits_first8.forEach((v, i) => expect(Math.abs(last[i] - v)).toBeLessThan(tol));
        const out = await greedy(model, c.prompt, c.new_tokens.length);
        expect(out.ids).toEqual(c.new_tokens);
        expect(out.text).toBe(c.text);
      }
    });
  }

  it('the Q8_0 GGUF loads and tells a sensible story', async () => {
    const model = Model.load(`${dir}/TinyStories-656K-Q8_0.gguf`);
    const out = await greedy(model, 'Once upon a time', 40);
    expect(out.ids.length).toBe(40);
    // Quantized weights drift from the f32 text eventually, but the story starts the same way.
    const ref = golden.cases[0].new_tokens;
    expect(out.ids.slice(0, 5)).toEqual(ref.slice(0, 5));
    expect(out.text).toMatch(/^[\x20-\x7e\n]+$/);
  });

  it('TinyStories-656K-IQ4_NL.gguf tells the story the f32 model starts', async () => {
    const out = await greedy(Model.load(`${dir}/TinyStories-656K-IQ4_NL.gguf`), 'Once upon a time', 40);
    expect(out.ids.length).toBe(40);
    expect(out.ids.slice(0, 3)).toEqual(golden.cases[0].new_tokens.slice(0, 3));
    expect(out.text).toMatch(/^[\x20-\x7e\n]+$/);
  });
});
