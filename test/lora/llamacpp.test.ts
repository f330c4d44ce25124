// The llama.cpp cross-check of ../shared/models/lora (README there): TinyStories-656K's f16 GGUF
// with adapter.gguf merged at scales 1.0 and 0.5 reproduces llama.cpp's logits (which apply the
// adapter at run time on an F32 copy of the same weights) — within 1e-4·max|logit| on the
// reference interpreter, 1e-3·max|logit| on wasm and webgpu — and its greedy continuation; the
// PEFT form of the same adapter on the HF safetensors model gives the same greedy tokens.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Model } from '../../src/model.js';
import type { BackendName } from '../../src/backends.js';
import { greedy } from '../helpers/generate.js';
import { gpuSkipReason } from '../helpers/gpu.js';
import { maxAbsDiff } from '../helpers/refs.js';
import { hasShared, sharedPath } from '../helpers/shared.js';

const LORA = ['models', 'lora'] as const;
const GGUF = ['models', 'tinystories-656k', 'TinyStories-656K.f16.gguf'] as const;
const HF = ['models', 'tinystories-656k'] as const;
const ADAPTER = [...LORA, 'tinystories-656k-r8'] as const;

interface RefCase { readonly ids: number[]; readonly logits: string; readonly greedy: number[] }
interface RefSet { readonly cases: RefCase[]; readonly logits: Float32Array[] }

function readRefs(file: string): RefSet {
  const json = JSON.parse(readFileSync(sharedPath(...LORA, file), 'utf8')) as { cases: RefCase[] };
  const logits = json.cases.map((c) => {
    const b = readFileSync(sharedPath(...LORA, c.logits));
    return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  });
  return { cases: json.cases, logits };
}

const maxAbs = (xs: Float32Array) => xs.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
const gpuReason = gpuSkipReason('WebGPU on the LoRA cross-check');

const BOUNDS: Record<BackendName, number> = { reference: 1e-4, wasm: 1e-3, webgpu: 1e-3, auto: 1e-3 };

describe.runIf(hasShared(...LORA) && hasShared(...GGUF))('LoRA adapter against llama.cpp', () => {
  const models: Model[] = [];
  afterAll(async () => { for (const m of models) await m.dispose(); });

  for (const scale of ['1.0', '0.5'] as const) {
    describe(`scale ${scale}`, () => {
      let refs: RefSet, base: RefSet;
      beforeAll(() => {
        refs = readRefs(`lora-r8-scale${scale}.json`);
        base = readRefs('base.json');
      });

      for (const backend of ['reference', 'wasm', 'webgpu'] as const) {
        it(`${backend}: llama.cpp's logits within ${BOUNDS[backend]}·max|logit|, and its greedy continuation`, async (t) => {
          if (backend === 'webgpu' && gpuReason()) return t.skip();
          const model = await Model.open(sharedPath(...GGUF), {
            backend, ...(backend === 'wasm' ? { threads: 2 } : {}),
            // The fusing pipeline on the kernel backends: merged weights go on through qkv-merge and the norm folds.
            ...(backend === 'reference' ? {} : { passes: 'default' }),
            lora: [{ path: sharedPath(...ADAPTER, 'adapter.gguf'), scale: Number(scale) }],
          });
          models.push(model);
          expect(model.executor.backend).toBe(backend);
          for (const [i, c] of refs.cases.entries()) {
            const want = refs.logits[i];
            const got = await model.logits(c.ids);
            const err = maxAbsDiff(got, want);
            // Not vacuous: the adapter moves the logits far more than the bound.
            expect(maxAbsDiff(base.logits[i], want), `case ${i}: the adapter changes the logits`).toBeGreaterThan(10 * BOUNDS[backend] * maxAbs(want));
            console.info(`[lora] ${backend} scale ${scale} case ${i}: max |Δlogit| ${err.toExponential(3)}, bound ${(BOUNDS[backend] * maxAbs(want)).toExponential(3)}`);
            expect(err, `case ${i}: max |Δlogit| ${err.toExponential(3)}`).toBeLessThanOrEqual(BOUNDS[backend] * maxAbs(want));
          }
          const c = refs.cases[0];
          expect((await greedy(model, c.ids, c.greedy.length, false)).ids).toEqual(c.greedy);
        });
      }

      it('reference: the PEFT form on the HF model gives the same greedy tokens', async () => {
        const model = Model.load(sharedPath(...HF), { lora: [{ path: sharedPath(...ADAPTER, 'peft'), scale: Number(scale) }] });
        models.push(model);
        for (const c of refs.cases) expect((await greedy(model, c.ids, c.greedy.length, false)).ids).toEqual(c.greedy);
      });
    });
  }
});
