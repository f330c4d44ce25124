// `tessera serve --lora A --lora B:0.5` as a process (the built CLI in dist/), with and without
// batching: the adapters are loaded for run-time use as llama.cpp's server loads them, so a request
// without `lora` runs with the command line's scales, a request's own `lora` runs with those
// adapters only, and GET/POST /lora-adapters list and set the scales later requests default to.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoraOption, LoraRequest } from '../../src/lora.js';
import { Model } from '../../src/model.js';
import { randomFactor, rng, writeGgufAdapter } from '../lora/adapters.js';
import { hasShared, sharedPath } from '../helpers/shared.js';

const CLI = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../bin/tessera.js');
const GGUF = ['models', 'tinystories-656k', 'TinyStories-656K.f16.gguf'] as const;
const ADAPTER = ['models', 'lora', 'tinystories-656k-r8', 'adapter.gguf'] as const;
const ID = 'TinyStories-656K.f16.gguf';
const PROMPT = 'The little dog';
const TOKENS = 16;

async function until(check: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !check(); waited += 20) {
    if (waited > 120_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Served {
  readonly child: ChildProcessWithoutNullStreams;
  readonly url: string;
  readonly client: OpenAI;
  /** What it said on standard error before it listened. */
  readonly banner: string;
}

/** Starts `tessera serve -m GGUF --backend reference --port 0 ...args` and waits for it to listen. */
async function serve(args: readonly string[]): Promise<Served> {
  const child = spawn(process.execPath, [CLI, 'serve', '-m', sharedPath(...GGUF), '--backend', 'reference', '--port', '0', ...args], { stdio: 'pipe' }) as ChildProcessWithoutNullStreams;
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  try {
    await until(() => /serving .* on http:\/\/127\.0\.0\.1:\d+\/v1/.test(stderr) || child.exitCode !== null, 'the server to listen');
  } finally {
    if (child.exitCode === null && !/serving/.test(stderr)) child.kill('SIGKILL');
  }
  const url = /on (http:\/\/127\.0\.0\.1:\d+)\/v1/.exec(stderr)?.[1];
  if (!url) throw new Error(`tessera serve did not start:\n${stderr}`);
  return { child, url, banner: stderr, client: new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 }) };
}

/** A greedy completion, with `lora` when given (the openai client passes the field through). */
function complete(client: OpenAI, lora?: readonly LoraRequest[]): Promise<string> {
  return client.completions.create({ model: ID, prompt: PROMPT, max_tokens: TOKENS, temperature: 0, ...(lora ? { lora } : {}) } as OpenAI.CompletionCreateParamsNonStreaming).then((r) => r.choices[0].text);
}

/** GET (or with `init`, POST) /lora-adapters: the status and the JSON body. */
function adapters(url: string, init?: RequestInit): Promise<{ status: number; body: unknown }> {
  return fetch(`${url}/lora-adapters`, init).then(async (r) => ({ status: r.status, body: await r.json() as unknown }));
}

/** The greedy answer of a model opened through the API with `lora` (run-time adapters). */
async function alone(lora: LoraOption[]): Promise<string> {
  const model = Model.load(sharedPath(...GGUF), { lora });
  try {
    let text = '';
    for await (const t of model.generate(PROMPT, { maxTokens: TOKENS, temperature: 0 })) text += t.text;
    return text;
  } finally {
    await model.dispose();
  }
}

describe.runIf(hasShared(...GGUF) && hasShared(...ADAPTER))('tessera serve --lora (process)', () => {
  let dir: string;
  let a: string, b: string;
  /** What the API gives: A at 1 and B at 0.5 (the command line's defaults), B alone at 1, no adapter. */
  const want = { defaults: '', bAlone: '', none: '' };
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-serve-lora-'));
    a = sharedPath(...ADAPTER);
    const next = rng(7);
    // B adapts q (layer 0) and down (layer 1), strongly enough to change a greedy answer.
    b = writeGgufAdapter(join(dir, 'b.gguf'), [randomFactor('blk.0.attn_q.weight', 4, 128, 128, next), randomFactor('blk.1.ffn_down.weight', 4, 384, 128, next)], { alpha: 16, architecture: 'llama' });
    want.defaults = await alone([{ path: a, runtime: true }, { path: b, scale: 0.5, runtime: true }]);
    want.bAlone = await alone([{ path: b, runtime: true }]);
    want.none = await alone([]);
    // Each check below tells its configuration apart from the others.
    expect(new Set(Object.values(want)).size).toBe(3);
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  describe.each([1, 2])('--parallel %i', (parallel) => {
    let served: Served | undefined;
    const client = () => served!.client;
    const post = (body: unknown) => adapters(served!.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    beforeAll(async () => {
      served = await serve(['--lora', a, '--lora', `${b}:0.5`, '--parallel', String(parallel)]);
      expect(served.banner).toMatch(parallel > 1 ? /2 slots batched on one copy, .*backend reference, 2 LoRA adapters\)/ : /1 slot, backend reference, 2 LoRA adapters\)/);
    }, 120_000);
    afterAll(() => { served?.child.kill('SIGKILL'); });

    it('a request without lora runs with the command line scales, one with lora with those adapters only (concurrently)', async () => {
      const [defaults, bAlone, off] = await Promise.all([complete(client()), complete(client(), [{ id: 1, scale: 1 }]), complete(client(), [])]);
      expect(defaults).toBe(want.defaults);
      expect(bAlone).toBe(want.bAlone);
      expect(off).toBe(want.none);
    }, 120_000);

    it('GET /lora-adapters lists ids, paths and scales; POST sets the defaults of later requests', async () => {
      expect(await adapters(served!.url)).toEqual({ status: 200, body: [{ id: 0, path: a, scale: 1 }, { id: 1, path: b, scale: 0.5 }] });
      // Adapters the body leaves out go to 0, as llama.cpp's server does.
      expect(await post([{ id: 1, scale: 1 }])).toEqual({ status: 200, body: [{ id: 0, path: a, scale: 0 }, { id: 1, path: b, scale: 1 }] });
      expect(await complete(client())).toBe(want.bAlone);
      // A request's own lora still overrides the new defaults.
      expect(await complete(client(), [{ id: 0, scale: 1 }, { id: 1, scale: 0.5 }])).toBe(want.defaults);
      expect(await post([{ id: 0, scale: 1 }, { id: 1, scale: 0.5 }])).toEqual({ status: 200, body: [{ id: 0, path: a, scale: 1 }, { id: 1, path: b, scale: 0.5 }] });
      expect(await complete(client())).toBe(want.defaults);
    }, 120_000);

    it('a bad POST /lora-adapters is a 400 naming the item and field, and changes nothing', async () => {
      const before = (await adapters(served!.url)).body;
      const cases: [unknown, string | null, RegExp][] = [
        [{ id: 0, scale: 1 }, null, /must be a JSON list/],
        [[{ id: 0, scale: 1 }, { id: 2, scale: 1 }], '[1].id', /\[1\]\.id 2 names no loaded adapter \(known: 0, 1\)/],
        [[{ id: 0, scale: 'high' }], '[0].scale', /\[0\]\.scale must be a finite number, got "high"/],
        [[7], '[0]', /item 0 must be/],
      ];
      for (const [body, param, message] of cases) {
        const r = await post(body);
        expect(r.status, JSON.stringify(body)).toBe(400);
        const error = (r.body as { error: { message: string; type: string; param: string | null } }).error;
        expect(error.type).toBe('invalid_request_error');
        expect(error.param).toBe(param);
        expect(error.message).toMatch(message);
      }
      expect((await adapters(served!.url)).body).toEqual(before);
      // And a request's unknown adapter is a 400 naming lora.
      const refused = await complete(client(), [{ id: 5, scale: 1 }]).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
      expect((refused as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('lora');
    }, 120_000);
  });

  it('--lora-init-without-apply loads the adapters at scale 0: off until a request or POST names them', async () => {
    const served = await serve(['--lora', a, '--lora', `${b}:0.5`, '--lora-init-without-apply']);
    try {
      expect(served.banner).toMatch(/2 LoRA adapters \(off\)\)/);
      expect((await adapters(served.url)).body).toEqual([{ id: 0, path: a, scale: 0 }, { id: 1, path: b, scale: 0 }]);
      expect(await complete(served.client)).toBe(want.none);
      expect(await complete(served.client, [{ id: 1, scale: 1 }])).toBe(want.bAlone);
    } finally {
      served.child.kill('SIGKILL');
    }
  }, 120_000);
});
