// Artifacts on the real backends: every architecture (one model of each in ../shared/refs, plus
// the two real checkpoints) compiled for wasm and webgpu with the default passes, then run in a
// fresh process that is forbidden to compile (TESSERA_FORBID_COMPILER=1), on each backend. The
// logits and greedy tokens must equal those of the uncompiled model on the same backend.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../../src/compile.js';
import { Model } from '../../src/model.js';
import { webgpuIfAdapter } from '../helpers/gpu.js';
import { maxAbsDiff, refDecoders } from '../helpers/refs.js';
import { hasShared, sharedPath } from '../helpers/shared.js';

const PROBE = resolve(__dirname, '../helpers/artifact-probe.mjs');
const STEPS = 8;

interface Probe { readonly backend: string; readonly logits: number[]; readonly greedy: number[] }

/** Logits and greedy tokens of `path` on `backend`, in a new process that may not compile. */
function probeFresh(path: string, backend: string, ids: readonly number[]): Probe {
  const r = spawnSync(process.execPath, [PROBE, path, backend, ids.join(','), String(STEPS)], {
    encoding: 'utf8', env: { ...process.env, TESSERA_FORBID_COMPILER: '1' },
  });
  if (r.status !== 0) throw new Error(`probe of ${path} on ${backend} failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Probe;
}

/** The same figures from the uncompiled model, in this process (compiler allowed). */
async function probeHere(path: string, backend: 'wasm' | 'webgpu', ids: readonly number[]): Promise<Probe> {
  const model = await Model.open(path, { backend, passes: 'default', threads: 2 });
  try {
    const logits = await model.logits(ids);
    model.executor.reset();
    const greedy = [await model.executor.forwardGreedy(ids)];
    while (greedy.length < STEPS) greedy.push(await model.executor.forwardGreedy([greedy[greedy.length - 1]]));
    return { backend, logits: Array.from(logits), greedy };
  } finally {
    await model.dispose();
  }
}

const MODELS: readonly [string, string[]][] = [
  ['stories260K', ['models', 'stories260K', 'stories260K.bin']],
  ['tinystories-656k', ['models', 'tinystories-656k']],
  ...refDecoders().map((a): [string, string[]] => [a, ['refs', a]]),
];

describe.runIf(hasShared('models') && hasShared('refs'))('artifacts of every decoder architecture on wasm and webgpu', () => {
  let backends: ('wasm' | 'webgpu')[] = ['wasm'];
  const dirs: string[] = [];
  beforeAll(async () => {
    backends = ['wasm', ...(await webgpuIfAdapter('artifacts of every decoder architecture'))];
  });
  afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

  for (const [name, parts] of MODELS) {
    it(`${name}: same logits and greedy tokens as the uncompiled model, without the compiler`, async () => {
      const path = sharedPath(...parts);
      const out = mkdtempSync(join(tmpdir(), `tessera-art-${name}-`));
      dirs.push(out);
      await compile(path, { out, passes: 'default', targets: ['wasm', 'webgpu'], maxChunk: 16 });
      const vocab = Model.load(path).config.vocabSize;
      const ids = [1, 5, 9, 14, 3, 7].map((i) => (i * 37) % vocab);
      for (const backend of backends) {
        const got = probeFresh(out, backend, ids);
        const want = await probeHere(path, backend, ids);
        expect(got.backend).toBe(backend);
        expect(maxAbsDiff(got.logits, want.logits), `${name} on ${backend}`).toBeLessThan(1e-4);
        expect(got.greedy, `${name} on ${backend}`).toEqual(want.greedy);
      }
    }, 120_000);
  }
});
