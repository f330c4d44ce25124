// The run-time form on every backend: lora-attach leaves the base weights alone and adds
// matmul_lora side paths whose scales (%lora.scales) change between requests. On one model,
// switching A → B → none → A → A+B (setLoraScales, or a request's `lora`) gives the logits of
// separately compiled models with the adapters merged, with the compiler forbidden while
// switching; the shared adapter at scales 1.0 and 0.5 reproduces llama.cpp's logits.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../../src/compile.js';
import type { BackendName } from '../../src/backends.js';
import { Model } from '../../src/model.js';
import { greedy } from '../helpers/generate.js';
import { gpuSkipReason } from '../helpers/gpu.js';
import { maxAbsDiff } from '../helpers/refs.js';
import { hasShared, sharedPath } from '../helpers/shared.js';
import { randomFactor, rng, writeGgufAdapter } from './adapters.js';

const GGUF = ['models', 'tinystories-656k', 'TinyStories-656K.f16.gguf'] as const;
const LORA = ['models', 'lora'] as const;
const BACKENDS = ['reference', 'wasm', 'webgpu'] as const;
/** llama.cpp's bound per backend (issue 24), relative to max |logit|. */
const LLAMA_BOUND: Record<(typeof BACKENDS)[number], number> = { reference: 1e-4, wasm: 1e-3, webgpu: 1e-3 };

/** A kernel backend compiles a module per model (asc: tens of seconds on a loaded 2-core machine). */
const TIMEOUT = 600_000;
const gpuReason = gpuSkipReason('WebGPU for run-time LoRA');
const maxAbs = (xs: Float32Array) => xs.reduce((m, x) => Math.max(m, Math.abs(x)), 0);

/** A model on `backend` as the kernel backends run it: the fusing pipeline, 2 threads on wasm. */
function open(backend: BackendName, lora: { path: string; scale?: number; runtime?: boolean; id?: string }[]): Promise<Model> {
  const path = sharedPath(...GGUF);
  if (backend === 'reference') return Promise.resolve(Model.load(path, { lora }));
  return Model.open(path, { backend, passes: 'default', lora, ...(backend === 'wasm' ? { threads: 2 } : {}) });
}

/** Runs `body` with the compiler forbidden: switching adapters must not compile anything. */
async function withoutCompiler<T>(body: () => Promise<T>): Promise<T> {
  process.env.TESSERA_FORBID_COMPILER = '1';
  try {
    return await body();
  } finally {
    delete process.env.TESSERA_FORBID_COMPILER;
  }
}

describe.runIf(hasShared(...GGUF) && hasShared(...LORA))('run-time LoRA', () => {
  let dir: string, a: string, b: string;
  const ids = [1, 80, 147, 201, 282, 57];
  const models: Model[] = [];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-lora-runtime-'));
    a = sharedPath(...LORA, 'tinystories-656k-r8', 'adapter.gguf');
    const next = rng(11);
    // B adapts q (layer 0) and down (layer 1): it stacks onto A's blocks there.
    b = writeGgufAdapter(join(dir, 'b.gguf'), [randomFactor('blk.0.attn_q.weight', 3, 128, 128, next), randomFactor('blk.1.ffn_down.weight', 2, 384, 128, next)], { alpha: 6, architecture: 'llama' });
  });
  afterAll(async () => {
    for (const m of models) await m.dispose();
    rmSync(dir, { recursive: true, force: true });
  });
  const keep = (m: Model) => { models.push(m); return m; };

  for (const backend of BACKENDS) {
    it(`${backend}: switching A, B, none, A, A+B between requests equals separately compiled merged models, without the compiler`, async (t) => {
      if (backend === 'webgpu' && gpuReason()) return t.skip();
      const model = keep(await open(backend, [{ path: a, runtime: true, id: 'a' }, { path: b, scale: 0, runtime: true }]));
      expect(model.executor.backend).toBe(backend);
      const g = model.graph({ logits: 'all' });
      expect(g.nodes.filter((n) => n.op === 'matmul_lora').length).toBe(14);
      expect(g.params.some((p) => p.def.kind === 'param' && p.def.source.kind === 'call' && p.def.source.fn === 'add_low_rank')).toBe(false);
      const merged = async (lora: { path: string; scale: number }[]) => {
        const m = await open(backend, lora);
        try { return await m.logits(ids); } finally { await m.dispose(); }
      };
      const want = {
        a: await merged([{ path: a, scale: 1 }]),
        b: await merged([{ path: b, scale: 0.5 }]),
        none: await merged([]),
        ab: await merged([{ path: a, scale: 1 }, { path: b, scale: -1 }]),
      };
      const bound = 1e-4 * maxAbs(want.none);
      const steps: [number[], Float32Array][] = [[[1, 0], want.a], [[0, 0.5], want.b], [[0, 0], want.none], [[1, 0], want.a], [[1, -1], want.ab]];
      await withoutCompiler(async () => {
        for (const [scales, expected] of steps) {
          model.setLoraScales(scales);
          expect(maxAbsDiff(await model.logits(ids), expected), `scales [${scales.join(', ')}]`).toBeLessThanOrEqual(bound);
        }
      });
      expect(maxAbsDiff(want.a, want.none)).toBeGreaterThan(0.1);
      expect(maxAbsDiff(want.b, want.none)).toBeGreaterThan(0.01);
      expect(() => model.setLoraScales([1])).toThrow(/expected 2 finite scale\(s\), one per run-time adapter/);
    }, TIMEOUT);
  }

  it('wasm: a request\'s lora picks adapters by index or id for that request only; the others are off', async () => {
    const model = keep(await open('wasm', [{ path: a, runtime: true, id: 'a' }, { path: b, scale: 0, runtime: true, id: 'b' }]));
    const n = 12;
    const continuation = async (m: Model, lora?: { id: number | string; scale: number }[]) => {
      const out: number[] = [];
      for await (const t of m.generate(ids, { maxTokens: n, stopAtEos: false, ...(lora ? { lora } : {}) })) out.push(t.id);
      return out;
    };
    // What separately merged models generate (reference interpreter).
    const merged = (lora: { path: string; scale: number }[]) => continuation(Model.load(sharedPath(...GGUF), { lora }));
    const want = { none: await merged([]), a: await merged([{ path: a, scale: 1 }]), b: await merged([{ path: b, scale: 4 }]), ab: await merged([{ path: a, scale: 1 }, { path: b, scale: 4 }]) };
    expect(want.b, 'B at scale 4 changes the continuation').not.toEqual(want.none);
    await withoutCompiler(async () => {
      expect(await continuation(model), 'the defaults: A at 1, B at 0').toEqual(want.a);
      expect(await continuation(model, [{ id: 'b', scale: 4 }]), 'B alone').toEqual(want.b);
      expect(await continuation(model, []), 'none').toEqual(want.none);
      expect(await continuation(model, [{ id: 0, scale: 1 }, { id: 1, scale: 4 }]), 'A and B by index').toEqual(want.ab);
      expect(await continuation(model), 'a request without lora: the defaults again').toEqual(want.a);
    });
    expect(() => model.generate(ids, { lora: [{ id: 'c', scale: 1 }] })).toThrow(/lora\[0\]\.id "c" names no run-time adapter of this model \(known: 0 \(a\), 1 \(b\)\)/);
    expect(() => model.generate(ids, { lora: [{ id: 2, scale: 1 }] })).toThrow(/lora\[0\]\.id 2 names no run-time adapter/);
    expect(() => model.generate(ids, { lora: [{ id: 0, scale: Number.NaN }] })).toThrow(/lora\[0\] must be \{ id, scale \} with a finite scale/);
  }, TIMEOUT);

  for (const backend of BACKENDS) {
    it(`${backend}: reproduces llama.cpp's logits with the shared adapter at scales 1.0 and 0.5 (within ${LLAMA_BOUND[backend]}·max|logit|)`, async (t) => {
      if (backend === 'webgpu' && gpuReason()) return t.skip();
      const model = keep(await open(backend, [{ path: a, runtime: true }]));
      for (const scale of ['1.0', '0.5']) {
        model.setLoraScales([Number(scale)]);
        const json = JSON.parse(readFileSync(sharedPath(...LORA, `lora-r8-scale${scale}.json`), 'utf8')) as { cases: { ids: number[]; logits: string; greedy: number[] }[] };
        for (const [i, c] of json.cases.entries()) {
          const bytes = readFileSync(sharedPath(...LORA, c.logits));
          const want = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
          const err = maxAbsDiff(await model.logits(c.ids), want);
          console.info(`[lora] run-time ${backend} scale ${scale} case ${i}: max |Δlogit| ${err.toExponential(3)}, bound ${(LLAMA_BOUND[backend] * maxAbs(want)).toExponential(3)}`);
          expect(err, `scale ${scale} case ${i}`).toBeLessThanOrEqual(LLAMA_BOUND[backend] * maxAbs(want));
        }
        const c = json.cases[0];
        expect((await greedy(model, c.ids, c.greedy.length, false)).ids, `scale ${scale}: llama.cpp's greedy continuation`).toEqual(c.greedy);
      }
    }, TIMEOUT);
  }

  it('is refused by compile, saying why', async () => {
    await expect(compile(sharedPath(...GGUF), { out: join(dir, 'artifact'), targets: [], lora: [{ path: a, runtime: true }] })).rejects.toThrow(/run-time LoRA adapters \(runtime: true\) are not compiled into artifacts yet/);
  });
});
