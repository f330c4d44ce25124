// tessera's server against the official `openai` client on loopback: listing, chat and text
// completions whole and streamed, sampling options, embeddings, OpenAI-style errors, a client
// abort cancelling its generation, a bounded queue, and concurrent clients.
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Encoder } from '../../src/encoder.js';
import { Model } from '../../src/model.js';
import { TesseraServer } from '../../src/serve/server.js';
import { hasShared, sharedPath } from '../helpers/shared.js';
import { metric, until } from './server-probes.js';

const TEMPLATE = readFileSync(new URL('../chat/fixtures/tinystories.jinja', import.meta.url), 'utf8');
const KEY = 'sk-test-key';
const ID = 'tinystories';

async function serve(server: TesseraServer): Promise<{ url: string; client: OpenAI }> {
  const { port } = await server.listen(0);
  const url = `http://127.0.0.1:${port}`;
  return { url, client: new OpenAI({ baseURL: `${url}/v1`, apiKey: KEY, maxRetries: 0 }) };
}

describe.runIf(hasShared('models', 'tinystories-656k'))('tessera serve with the openai client', () => {
  const dir = sharedPath('models', 'tinystories-656k');
  let server: TesseraServer;
  let url: string;
  let client: OpenAI;
  beforeAll(async () => {
    server = new TesseraServer({ modelId: ID, models: [Model.load(dir), Model.load(dir)], chatTemplate: TEMPLATE, apiKey: KEY, maxQueue: 16, maxBodyBytes: 64 * 1024 });
    ({ url, client } = await serve(server));
  });
  afterAll(() => server?.shutdown(0));

  it('lists the model; /health is open without a key', async () => {
    const list = await client.models.list();
    expect(list.data.map((m) => m.id)).toEqual([ID]);
    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
  });

  it('a chat completion answers as Model.chat does, with usage; streamed chunks add up to the same text', async () => {
    const messages = [{ role: 'user' as const, content: 'Once upon a time' }];
    const whole = await client.chat.completions.create({ model: ID, messages, max_tokens: 12, temperature: 0 });
    const direct = Model.load(dir);
    let expected = '';
    for await (const t of direct.chat(messages, { chatTemplate: TEMPLATE, maxTokens: 12, temperature: 0 })) expected += t.text;
    await direct.dispose();
    expect(whole.object).toBe('chat.completion');
    expect(whole.choices[0].message).toEqual({ role: 'assistant', content: expected });
    expect(whole.choices[0].finish_reason).toBe('length');
    expect(whole.usage).toMatchObject({ completion_tokens: 12, prompt_tokens: direct.chatPromptIds(messages, TEMPLATE).length });

    const stream = await client.chat.completions.create({ model: ID, messages, max_tokens: 12, temperature: 0, stream: true, stream_options: { include_usage: true } });
    let text = '';
    const finishes: (string | null)[] = [];
    let usage: OpenAI.CompletionUsage | undefined | null;
    let role: string | undefined;
    for await (const chunk of stream) {
      expect(chunk.object).toBe('chat.completion.chunk');
      role ??= chunk.choices[0]?.delta.role;
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.choices[0]) finishes.push(chunk.choices[0].finish_reason);
      if (chunk.usage) usage = chunk.usage;
    }
    expect(role).toBe('assistant');
    expect(text).toBe(expected);
    expect(finishes.at(-1)).toBe('length');
    expect(finishes.slice(0, -1).every((f) => f === null)).toBe(true);
    expect(usage?.completion_tokens).toBe(12);
  });

  it('text completions: stop texts end with finish_reason stop; the same seed samples the same text; echo', async () => {
    const stopped = await client.completions.create({ model: ID, prompt: 'Once upon a time, there was a little', max_tokens: 60, temperature: 0, stop: [' named'] });
    expect(stopped.choices[0].finish_reason).toBe('stop');
    expect(stopped.choices[0].text).not.toContain(' named');
    const sample = () => client.completions.create({ model: ID, prompt: 'The cat', max_tokens: 20, temperature: 1, top_p: 0.9, seed: 1234 });
    const [a, b] = [await sample(), await sample()];
    expect(a.choices[0].text).toBe(b.choices[0].text);
    const echoed = await client.completions.create({ model: ID, prompt: 'The dog', max_tokens: 3, temperature: 0, echo: true });
    expect(echoed.choices[0].text.startsWith('The dog')).toBe(true);
    let streamed = '';
    for await (const c of await client.completions.create({ model: ID, prompt: 'The cat', max_tokens: 20, temperature: 1, top_p: 0.9, seed: 1234, stream: true })) streamed += c.choices[0]?.text ?? '';
    expect(streamed).toBe(a.choices[0].text);
  });

  it('errors are OpenAI-shaped: 401 key, 404 model and route, 400 fields, 413 body', async () => {
    const bad = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'wrong', maxRetries: 0 });
    await expect(bad.models.list()).rejects.toMatchObject({ status: 401, code: 'invalid_api_key' });
    await expect(client.chat.completions.create({ model: 'gpt-4', messages: [{ role: 'user', content: 'x' }] })).rejects.toMatchObject({ status: 404, code: 'model_not_found', param: 'model' });
    await expect(client.chat.completions.create({ model: ID, messages: [{ role: 'user', content: 'x' }], n: 2 })).rejects.toMatchObject({ status: 400, param: 'n' });
    await expect(client.chat.completions.create({ model: ID, messages: [{ role: 'user', content: 'x' }], temperature: 3 })).rejects.toMatchObject({ status: 400, param: 'temperature' });
    await expect(client.chat.completions.create({ model: ID, messages: [] })).rejects.toMatchObject({ status: 400, param: 'messages' });
    await expect(client.completions.create({ model: ID, prompt: 'x', logit_bias: { 99999: 1 } })).rejects.toMatchObject({ status: 400, param: 'logit_bias' });
    await expect(client.completions.create({ model: ID, prompt: 'x '.repeat(600), max_tokens: 1 })).rejects.toMatchObject({ status: 400, code: 'context_length_exceeded', param: 'prompt' });
    await expect(client.chat.completions.create({ model: ID, messages: [{ role: 'user', content: 'x'.repeat(70_000) }] })).rejects.toMatchObject({ status: 413 });
    await expect(client.embeddings.create({ model: ID, input: 'x' })).rejects.toMatchObject({ status: 400, code: 'model_not_supported' });
    const notFound = await fetch(`${url}/v2/things`, { headers: { authorization: `Bearer ${KEY}` } });
    expect(notFound.status).toBe(404);
    expect((await notFound.json()).error).toMatchObject({ type: 'invalid_request_error', code: 'unknown_url' });
    const junk = await fetch(`${url}/v1/completions`, { method: 'POST', headers: { authorization: `Bearer ${KEY}` }, body: '{"model":' });
    expect(junk.status).toBe(400);
    expect((await junk.json()).error.message).toMatch(/not valid JSON/);
  });

  it('response_format constrains the answer: a json_schema gives JSON valid against it; json_object and unsupported schemas are checked', async () => {
    // TinyStories-656K's vocabulary has no brace or bracket tokens, so a scalar schema is what it can write.
    const schema = { type: 'boolean' };
    const answer = await client.chat.completions.create({ model: ID, messages: [{ role: 'user', content: 'Is the sky blue?' }], max_tokens: 8, temperature: 1.5, seed: 7, response_format: { type: 'json_schema', json_schema: { name: 'yes_no', schema } } });
    const content = answer.choices[0].message.content ?? '';
    expect(typeof JSON.parse(content)).toBe('boolean');
    expect(answer.choices[0].finish_reason).toBe('stop');
    const free = await client.chat.completions.create({ model: ID, messages: [{ role: 'user', content: 'Is the sky blue?' }], max_tokens: 8, temperature: 1.5, seed: 7, response_format: { type: 'text' } });
    expect(free.choices[0].message.content).not.toBe(content);
    await expect(client.chat.completions.create({ model: ID, messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_schema', json_schema: { name: 'n', schema: { not: { type: 'string' } } } } })).rejects.toMatchObject({ status: 400, param: 'response_format' });
    await expect(client.chat.completions.create({ model: ID, messages: [{ role: 'user', content: 'x' }], response_format: { type: 'yaml' } as never })).rejects.toMatchObject({ status: 400, param: 'response_format' });
  });

  it('a client that aborts its stream cancels the generation and frees the slot', async () => {
    const before = await metric(url, 'tessera_requests_cancelled_total');
    const generatedBefore = await metric(url, 'tessera_generated_tokens_total');
    const ctl = new AbortController();
    const stream = await client.completions.create({ model: ID, prompt: 'Once upon a time', max_tokens: 400, temperature: 0, stream: true }, { signal: ctl.signal });
    let chunks = 0;
    // The client ends the iteration (or throws, depending on where the abort lands).
    await (async () => {
      for await (const _ of stream) if (++chunks === 2) ctl.abort();
    })().catch((e: Error) => expect(e.name).toMatch(/Abort/));
    expect(chunks).toBeLessThan(50);
    await until(async () => (await metric(url, 'tessera_requests_cancelled_total')) === before + 1, 'the cancellation');
    expect(await metric(url, 'tessera_slots_busy')).toBe(0);
    expect((await metric(url, 'tessera_generated_tokens_total')) - generatedBefore).toBeLessThan(100);
  });

  it('a client that hangs up during the prefill is cancelled without a byte written', async () => {
    const before = await metric(url, 'tessera_requests_cancelled_total');
    const { port } = new URL(url);
    const req = request({ port, method: 'POST', path: '/v1/completions', headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` } });
    let answered = false;
    req.on('response', () => { answered = true; });
    req.on('error', () => undefined); // the hang-up below
    req.end(JSON.stringify({ model: ID, prompt: 'Once upon a time '.repeat(110), max_tokens: 50, stream: true }));
    // The reference interpreter takes well over 10 ms to prefill ~450 tokens.
    await new Promise((r) => setTimeout(r, 10));
    req.destroy();
    await until(async () => (await metric(url, 'tessera_requests_cancelled_total')) === before + 1, 'the cancellation');
    expect(answered).toBe(false);
    expect(await metric(url, 'tessera_slots_busy')).toBe(0);
  });

  it('concurrent clients all get their own answers (two slots, the rest queued)', async () => {
    const prompts = ['The dog', 'A bird', 'Lily', 'Tom', 'The sun', 'A frog'];
    const answers = await Promise.all(prompts.map((p) => client.completions.create({ model: ID, prompt: p, max_tokens: 8, temperature: 0 })));
    const direct = Model.load(dir);
    for (const [i, p] of prompts.entries()) {
      let expected = '';
      for await (const t of direct.generate(p, { maxTokens: 8 })) expected += t.text;
      expect(answers[i].choices[0].text).toBe(expected);
    }
    await direct.dispose();
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(text).toMatch(/tessera_requests_total\{endpoint="completions",status="200"\} \d+/);
    expect(text).toMatch(/# TYPE tessera_time_to_first_token_seconds histogram/);
  });
});

describe.runIf(hasShared('models', 'tinystories-656k'))('a full queue', () => {
  it('answers 429 at once instead of waiting without bound, and the accepted requests finish', async () => {
    const server = new TesseraServer({ modelId: ID, models: [Model.load(sharedPath('models', 'tinystories-656k'))], maxQueue: 1 });
    const { client } = await serve(server);
    try {
      const results = await Promise.allSettled(Array.from({ length: 5 }, () => client.completions.create({ model: ID, prompt: 'Once', max_tokens: 30, temperature: 0 })));
      const refused = results.filter((r) => r.status === 'rejected');
      expect(results.filter((r) => r.status === 'fulfilled').length).toBeGreaterThanOrEqual(2);
      expect(refused.length).toBeGreaterThanOrEqual(1);
      for (const r of refused) expect((r as PromiseRejectedResult).reason).toMatchObject({ status: 429, code: 'queue_full' });
    } finally {
      await server.shutdown(0);
    }
  });
});

describe.runIf(hasShared('refs', 'bert'))('embeddings from an encoder', () => {
  it('returns the encoder\'s vectors, as floats or base64 (the client\'s default)', async () => {
    const path = sharedPath('refs', 'bert');
    const server = new TesseraServer({ modelId: 'bert', encoder: Encoder.load(path) });
    const { client } = await serve(server);
    const direct = Encoder.load(path);
    try {
      const rows = [[2, 45, 19, 3], [2, 7, 3]];
      const expected = await direct.embed(rows);
      const viaBase64 = await client.embeddings.create({ model: 'bert', input: rows });
      const viaFloat = await client.embeddings.create({ model: 'bert', input: rows, encoding_format: 'float' });
      for (const res of [viaBase64, viaFloat]) {
        expect(res.data.map((d) => d.index)).toEqual([0, 1]);
        res.data.forEach((d, i) => expect(Float32Array.from(d.embedding)).toEqual(expected[i]));
        expect(res.usage).toEqual({ prompt_tokens: 7, total_tokens: 7 });
      }
      await expect(client.chat.completions.create({ model: 'bert', messages: [{ role: 'user', content: 'x' }] })).rejects.toMatchObject({ status: 400, code: 'model_not_supported' });
    } finally {
      await direct.dispose();
      await server.shutdown(0);
    }
  });
});
