// The batched server (--parallel) takes each request's `lora` (llama.cpp's per-request adapters):
// concurrent requests with different adapters share steps and each gets the answer it gets alone;
// an adapter the model does not have is a 400 naming the field.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchedModel } from '../../src/batched.js';
import type { LoraRequest } from '../../src/lora.js';
import { Model } from '../../src/model.js';
import { TesseraServer } from '../../src/serve/server.js';
import { hasShared, sharedPath } from '../helpers/shared.js';
import { metric } from './server-probes.js';

const ID = 'tinystories-lora';
const GGUF = ['models', 'tinystories-656k', 'TinyStories-656K.f16.gguf'] as const;
const ADAPTER = ['models', 'lora', 'tinystories-656k-r8', 'adapter.gguf'] as const;

describe.runIf(hasShared(...GGUF) && hasShared(...ADAPTER))('tessera serve --parallel with per-request LoRA adapters', () => {
  const options = () => ({ lora: [{ path: sharedPath(...ADAPTER), runtime: true, id: 'story', scale: 0 }] });
  let server: TesseraServer;
  let url: string;
  let client: OpenAI;
  beforeAll(async () => {
    const model = Model.load(sharedPath(...GGUF), options());
    const batched = await BatchedModel.open(model, { sequences: 3, blockSize: 8, kvBlocks: 48, maxRows: 16 });
    server = new TesseraServer({ modelId: ID, models: [model], batched, maxQueue: 8 });
    const { port } = await server.listen(0);
    url = `http://127.0.0.1:${port}`;
    client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
  }, 120_000);
  afterAll(() => server?.shutdown(0));

  /** A completion with `lora` (a field the openai client passes through as it is). */
  const complete = (prompt: string, lora?: readonly LoraRequest[]) =>
    client.completions.create({ model: ID, prompt, max_tokens: 12, temperature: 0, ...(lora ? { lora } : {}) } as OpenAI.CompletionCreateParamsNonStreaming).then((r) => r.choices[0].text);

  it('concurrent requests with different adapters each get their answer alone, in shared steps', async () => {
    const requests: { prompt: string; lora?: readonly LoraRequest[] }[] = [
      { prompt: 'The dog', lora: [{ id: 'story', scale: 1 }] },
      { prompt: 'The dog', lora: [{ id: 0, scale: -2 }] },
      { prompt: 'The dog' },
      { prompt: 'Lily went', lora: [{ id: 'story', scale: 3 }] },
    ];
    const stepsBefore = await metric(url, 'tessera_batch_steps_total');
    const answers = await Promise.all(requests.map((r) => complete(r.prompt, r.lora)));
    const steps = (await metric(url, 'tessera_batch_steps_total')) - stepsBefore;
    // Alone, four requests of one prompt chunk and 12 tokens each take 4 × 12 steps.
    expect(steps).toBeLessThan(4 * 12);
    const alone = Model.load(sharedPath(...GGUF), options());
    try {
      for (const [i, r] of requests.entries()) {
        let expected = '';
        for await (const t of alone.generate(r.prompt, { maxTokens: 12, temperature: 0, ...(r.lora ? { lora: r.lora } : {}) })) expected += t.text;
        expect(answers[i], JSON.stringify(r)).toBe(expected);
      }
    } finally {
      await alone.dispose();
    }
    // The adapter changed the answer to the same prompt.
    expect(new Set(answers.slice(0, 3)).size).toBeGreaterThan(1);
    expect(await metric(url, 'tessera_kv_pages_in_use')).toBe(0);
  }, 120_000);

  it('an adapter the model does not have is a 400 naming lora', async () => {
    const refused = await complete('The dog', [{ id: 'other', scale: 1 }]).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
    expect((refused as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('lora');
    expect((refused as Error).message).toMatch(/lora\[0\]\.id "other" names no run-time adapter of this model \(known: 0 \(story\)\)/);
  }, 60_000);
});
