// The run-time form on the reference backend: lora-attach leaves the base weights alone and adds
// matmul_lora side paths whose scales (%lora.scales) change between requests. Switching A → B →
// none → A → A+B gives the logits of separately merged models, with the compiler forbidden while
// switching; the shared adapter at scales 1.0 and 0.5 reproduces llama.cpp's logits.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../../src/compile.js';
import { Model } from '../../src/model.js';
import { maxAbsDiff } from '../helpers/refs.js';
import { hasShared, sharedPath } from '../helpers/shared.js';
import { randomFactor, rng, writeGgufAdapter } from './adapters.js';

const GGUF = ['models', 'tinystories-656k', 'TinyStories-656K.f16.gguf'] as const;
const LORA = ['models', 'lora'] as const;

describe.runIf(hasShared(...GGUF) && hasShared(...LORA))('run-time LoRA (reference backend)', () => {
  let dir: string, a: string, b: string;
  const base = () => sharedPath(...GGUF);
  const ids = [1, 80, 147, 201, 282, 57];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-lora-runtime-'));
    a = sharedPath(...LORA, 'tinystories-656k-r8', 'adapter.gguf');
    const next = rng(11);
    // B adapts q (layer 0) and down (layer 1): it stacks onto A's blocks there.
    b = writeGgufAdapter(join(dir, 'b.gguf'), [randomFactor('blk.0.attn_q.weight', 3, 128, 128, next), randomFactor('blk.1.ffn_down.weight', 2, 384, 128, next)], { alpha: 6, architecture: 'llama' });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('switching adapters between requests equals separately merged models, without the compiler', async () => {
    const model = Model.load(base(), { lora: [{ path: a, runtime: true }, { path: b, scale: 0, runtime: true }] });
    const g = model.graph({ logits: 'all' });
    expect(g.nodes.filter((n) => n.op === 'matmul_lora').length).toBe(14);
    expect(g.params.some((p) => p.def.kind === 'param' && p.def.source.kind === 'call' && p.def.source.fn === 'add_low_rank')).toBe(false);
    const merged = async (lora: { path: string; scale: number }[]) => Model.load(base(), { lora }).logits(ids);
    const want = {
      a: await merged([{ path: a, scale: 1 }]),
      b: await merged([{ path: b, scale: 0.5 }]),
      none: await Model.load(base()).logits(ids),
      ab: await merged([{ path: a, scale: 1 }, { path: b, scale: -1 }]),
    };
    const steps: [number[], Float32Array][] = [[[1, 0], want.a], [[0, 0.5], want.b], [[0, 0], want.none], [[1, 0], want.a], [[1, -1], want.ab]];
    process.env.TESSERA_FORBID_COMPILER = '1';
    try {
      for (const [scales, expected] of steps) {
        model.setLoraScales(scales);
        expect(maxAbsDiff(await model.logits(ids), expected), `scales [${scales.join(', ')}]`).toBeLessThanOrEqual(1e-4);
      }
    } finally {
      delete process.env.TESSERA_FORBID_COMPILER;
    }
    expect(maxAbsDiff(want.a, want.none)).toBeGreaterThan(0.1);
    expect(maxAbsDiff(want.b, want.none)).toBeGreaterThan(0.01);
    expect(() => model.setLoraScales([1])).toThrow(/expected 2 finite scale\(s\), one per run-time adapter/);
  });

  it("reproduces llama.cpp's logits with the shared adapter at scales 1.0 and 0.5", async () => {
    const model = Model.load(base(), { lora: [{ path: a, runtime: true }] });
    for (const scale of ['1.0', '0.5']) {
      model.setLoraScales([Number(scale)]);
      const json = JSON.parse(readFileSync(sharedPath(...LORA, `lora-r8-scale${scale}.json`), 'utf8')) as { cases: { ids: number[]; logits: string }[] };
      for (const c of json.cases) {
        const bytes = readFileSync(sharedPath(...LORA, c.logits));
        const want = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
        const max = want.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
        expect(maxAbsDiff(await model.logits(c.ids), want)).toBeLessThanOrEqual(1e-4 * max);
      }
    }
  });

  it('is refused on the kernel backends and by compile, saying why', async () => {
    await expect(Model.open(base(), { backend: 'wasm', lora: [{ path: a, runtime: true }] })).rejects.toThrow(/run-time LoRA adapters \(runtime: true\) run on the reference backend for now/);
    await expect(compile(base(), { out: join(dir, 'artifact'), targets: [], lora: [{ path: a, runtime: true }] })).rejects.toThrow(/run-time LoRA adapters \(runtime: true\) are not compiled into artifacts yet/);
  });
});
