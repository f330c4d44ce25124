// The server with continuous batching (--parallel N on one copy of the model) against the official
// `openai` client: concurrent clients get the answers each would get alone, in fewer steps than
// tokens (their decode steps were shared); /metrics reports the KV pages in use; a client that
// aborts frees its pages while the others go on.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchedModel } from '../../src/batched.js';
import { Model } from '../../src/model.js';
import { TesseraServer } from '../../src/serve/server.js';
import { hasShared, sharedPath } from '../helpers/shared.js';
import { metric, until } from './server-probes.js';

const ID = 'tinystories';

describe.runIf(hasShared('models', 'tinystories-656k'))('tessera serve with continuous batching', () => {
  const dir = sharedPath('models', 'tinystories-656k');
  let server: TesseraServer;
  let url: string;
  let client: OpenAI;
  beforeAll(async () => {
    const model = Model.load(dir);
    // Pages of 8 positions, fewer than three full contexts: sequences share the pool.
    const batched = await BatchedModel.open(model, { sequences: 3, blockSize: 8, kvBlocks: 64, maxRows: 16 });
    server = new TesseraServer({ modelId: ID, models: [model], batched, maxQueue: 16 });
    const { port } = await server.listen(0);
    url = `http://127.0.0.1:${port}`;
    client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
  }, 120_000);
  afterAll(() => server?.shutdown(0));

  it('concurrent clients get the answers each gets alone, in shared steps; every page comes back', async () => {
    const prompts = ['The dog', 'A bird sat on the tree and', 'Lily', 'Tom wanted to', 'The sun', 'A frog'];
    const stepsBefore = await metric(url, 'tessera_batch_steps_total');
    const answers = await Promise.all(prompts.map((p, i) => i % 2
      ? client.completions.create({ model: ID, prompt: p, max_tokens: 10, temperature: 0 }).then((r) => r.choices[0].text)
      : (async () => {
        let text = '';
        for await (const c of await client.completions.create({ model: ID, prompt: p, max_tokens: 10, temperature: 0, stream: true })) text += c.choices[0]?.text ?? '';
        return text;
      })()));
    const direct = Model.load(dir);
    for (const [i, p] of prompts.entries()) {
      let expected = '';
      for await (const t of direct.generate(p, { maxTokens: 10, temperature: 0 })) expected += t.text;
      expect(answers[i], p).toBe(expected);
    }
    await direct.dispose();
    const steps = (await metric(url, 'tessera_batch_steps_total')) - stepsBefore;
    // Alone, six requests of one prompt chunk and 10 tokens each take 6 × 10 steps.
    expect(steps).toBeGreaterThan(0);
    expect(steps).toBeLessThan(6 * 10);
    expect(await metric(url, 'tessera_kv_pages_in_use')).toBe(0);
    expect(await metric(url, 'tessera_kv_pages')).toBe(64);
    expect(await metric(url, 'tessera_slots')).toBe(3);
  }, 120_000);

  it('a request the KV pool cannot hold is refused with 503 kv_cache_full, and the server goes on', async () => {
    const model = Model.load(dir);
    const tiny = await BatchedModel.open(model, { sequences: 1, blockSize: 4, kvBlocks: 2 });
    const small = new TesseraServer({ modelId: ID, models: [model], batched: tiny });
    try {
      const { port } = await small.listen(0);
      const smallClient = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'unused', maxRetries: 0 });
      const refused = await smallClient.completions.create({ model: ID, prompt: 'Once upon a time there was a little girl', max_tokens: 4 }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(OpenAI.APIError);
      expect((refused as InstanceType<typeof OpenAI.APIError>).status).toBe(503);
      expect((refused as InstanceType<typeof OpenAI.APIError>).code).toBe('kv_cache_full');
      expect((await smallClient.completions.create({ model: ID, prompt: 'Tom', max_tokens: 2, temperature: 0 })).choices[0].finish_reason).toBe('length');
    } finally {
      await small.shutdown(0);
    }
  }, 60_000);

  it('a client that aborts frees its pages while another stream goes on', async () => {
    const ctl = new AbortController();
    const long = await client.completions.create({ model: ID, prompt: 'Once upon a time', max_tokens: 300, temperature: 0, stream: true }, { signal: ctl.signal });
    const other = client.completions.create({ model: ID, prompt: 'The cat', max_tokens: 40, temperature: 0 });
    let chunks = 0, pagesWhileRunning = 0;
    await (async () => {
      for await (const _ of long) {
        if (++chunks === 3) {
          pagesWhileRunning = await metric(url, 'tessera_kv_pages_in_use');
          ctl.abort();
        }
      }
    })().catch((e: Error) => expect(e.name).toMatch(/Abort/));
    expect(pagesWhileRunning).toBeGreaterThan(0);
    expect((await other).choices[0].finish_reason).toBe('length');
    await until(async () => (await metric(url, 'tessera_kv_pages_in_use')) === 0 && (await metric(url, 'tessera_slots_busy')) === 0, 'the pages to come back');
    expect(await metric(url, 'tessera_requests_cancelled_total')).toBe(1);
  }, 120_000);
});
