// quantize {tables}: embedding tables quantized in place, a tied table held once in the head's
// type, and the quantized gather equal to the reference interpreter's on wasm and webgpu.
import { afterAll, describe, expect, it } from 'vitest';
import { parseGraph } from '../../ir/parser.js';
import { printGraph } from '../../ir/printer.js';
import '../../passes/index.js';
import { runPipeline } from '../../passes/pass-manager.js';
import { Model } from '../../src/model.js';
import { webgpuIfAdapter } from '../helpers/gpu.js';
import { hasShared, sharedPath } from '../helpers/shared.js';

function run(body: string, pipeline: string) {
  const r = runPipeline(parseGraph(`graph @t<S>(%tokens: i32[S]) {\n${body}\n}\n`), pipeline);
  const stats: Record<string, number> = {};
  for (const rec of r.records) for (const [k, v] of Object.entries(rec.stats)) stats[k] = (stats[k] ?? 0) + v;
  return { lines: printGraph(r.graph).split('\n').map((l) => l.trim()), stats };
}

const TIED = `
  param %embed: f32[16, 256] = "embed"
  param %w: f32[256, 256] = "l0.wq"
  %x = embedding(%embed, %tokens) : f32[S, 256]
  %a = matmul(%x, %w) : f32[S, 256]
  %d = matmul(%a, %embed) : f32[S, 16]
  output d = %d`;

const UNTIED = `
  param %embed: f32[16, 64] = "embed"
  param %head: f32[16, 64] = "head"
  %x = embedding(%embed, %tokens) : f32[S, 64]
  %d = matmul(%x, %head) : f32[S, 16]
  output d = %d`;

describe('quantize {tables}', () => {
  it('a tied table with heads becomes one quantized parameter that both the gather and the head read', () => {
    const r = run(TIED, 'quantize{dtype=q4_0, heads=true, tables=true}');
    expect(r.lines).toContain('param %embed: q4_0[16, 256] = convert("embed") {dtype = "q4_0"}');
    expect(r.lines).toContain('%x = embedding(%embed, %tokens) : f32[S, 256]');
    expect(r.lines).toContain('%d = matmul(%a, %embed) : f32[S, 16]');
    expect(r.lines.some((l) => l.includes('embed.q4_0'))).toBe(false);
    expect(r.stats['tables-quantized']).toBe(1);
    expect(r.stats['tied-heads-copied']).toBeUndefined();
  });

  it("a recipe gives a tied table the output's type (Q6_K) and an untied one the base type, with the 32-element fallback", () => {
    expect(run(TIED, 'quantize{recipe=q4_k_m, heads=true, tables=true}').lines).toContain('param %embed: q6_k[16, 256] = convert("embed") {dtype = "q6_k"}');
    // Rows of 64: q4_k falls back to q5_0, the head's q6_k to q8_0.
    const untied = run(UNTIED, 'quantize{recipe=q4_k_m, heads=true, tables=true}').lines;
    expect(untied).toContain('param %embed: q5_0[16, 64] = convert("embed") {dtype = "q5_0"}');
    expect(untied).toContain('param %head: q8_0[16, 64] = convert("head") {dtype = "q8_0"}');
  });

  it('without heads a tied table stays float (the head must stay float too); without tables, the old copy', () => {
    expect(run(TIED, 'quantize{dtype=q8_0, tables=true}').lines).toContain('param %embed: f32[16, 256] = "embed"');
    const copied = run(TIED, 'quantize{dtype=q8_0, heads=true}');
    expect(copied.lines).toContain('param %embed: f32[16, 256] = "embed"');
    expect(copied.stats['tied-heads-copied']).toBe(1);
  });
});

describe.runIf(hasShared('models', 'stories260K'))('a quantized tied table end to end', () => {
  const bin = sharedPath('models', 'stories260K', 'stories260K.bin');
  const models: Model[] = [];
  afterAll(async () => { for (const m of models) await m.dispose(); });
  const ids = [1, 403, 407, 261, 378, 300, 15, 42];

  for (const dtype of ['q8_0', 'q4_0']) {
    it(`${dtype}: wasm and webgpu logits equal the reference interpreter's on the same graph`, async () => {
      const passes = `default,quantize{dtype=${dtype},heads=true,tables=true}`;
      const ref = Model.load(bin, { passes });
      models.push(ref);
      const table = ref.graph({ logits: 'all' }).params.find((p) => p.name === 'embed');
      expect(table?.type.dtype, 'the embedding table is quantized').toBe(dtype);
      const want = await ref.logits(ids);
      const scale = Math.max(...want.map(Math.abs));
      for (const backend of ['wasm', ...(await webgpuIfAdapter('the quantized tied table'))] as const) {
        const m = await Model.open(bin, { backend, passes, threads: 2, maxChunk: 8, contextLength: 32 });
        models.push(m);
        const got = await m.logits(ids);
        let err = 0;
        for (let i = 0; i < got.length; i++) err = Math.max(err, Math.abs(got[i] - want[i]));
        // WebGPU multiplies f32 activations (measured 1e-6 of the largest logit); wasm quantizes
        // them to 8-bit blocks in every product, as llama.cpp does (measured 0.012 and 0.019).
        expect(err / scale, backend).toBeLessThan(backend === 'webgpu' ? 1e-5 : 0.04);
      }
    }, 240_000); // kernels compiled cold, on two backends
  }
});
