// The WebAssembly backend with the full `default` pass pipeline (norm_matmul, matmul_ep with
// epilogues, flash_attention, fused_elementwise): every HF reference decoder's logits within 1e-4
// of transformers and the same greedy tokens, at the thread count wasm-decoders.test.ts does not
// use for it; a real checkpoint's golden text, and a Q8_0 one against the reference backend.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { hasWasmKernel } from '../../codegen/wasm/emit.js';
import { Model } from '../../src/model.js';
import { maxAbsDiff, readRef, refDecoders } from '../helpers/refs.js';
import { greedy } from '../helpers/generate.js';
import { hasShared, sharedPath } from '../helpers/shared.js';


/** The ops of the model's step graph (after the pipeline), each of which must have a CPU kernel. */
function stepOps(model: Model): Set<string> {
  const ops = new Set(model.graph({ logits: 'last' }).nodes.map((n) => n.op));
  for (const op of ops) expect(hasWasmKernel(op), `no wasm kernel for ${op}`).toBe(true);
  return ops;
}

describe.runIf(hasShared('refs'))('WebAssembly backend with the default passes on the HF reference decoders', () => {
  const models: Model[] = [];
  afterAll(async () => { for (const m of models) await m.dispose(); });
  refDecoders().forEach((arch, i) => {
    const threads = 2 - (i % 2);
    it(`${arch} (${threads} thread${threads > 1 ? 's' : ''}): fused ops, logits and greedy tokens equal transformers`, async () => {
      const ref = readRef(arch);
      const ids = ref.inputIds[0];
      const model = await Model.open(sharedPath('refs', arch), { backend: 'wasm', threads, maxChunk: 32, passes: 'default' });
      models.push(model);
      expect(model.executor.backend).toBe('wasm');
      const ops = stepOps(model);
      for (const op of ['norm_matmul', 'flash_attention']) expect(ops, `${arch} runs ${op}`).toContain(op);
      // A projection with an epilogue: a residual add (matmul_ep), or gemma2's logit softcap on the
      // final norm_matmul (its post-norms leave no add right after a projection).
      const epilogues = model.graph({ logits: 'last' }).nodes.filter((n) => n.op === 'matmul_ep' || (n.op === 'norm_matmul' && n.attrs.epilogue !== undefined));
      expect(epilogues.length, `${arch} runs a projection with an epilogue`).toBeGreaterThan(0);
      expect(maxAbsDiff(await model.logits(ids), ref.tensor('logits').data)).toBeLessThan(1e-4);
      expect((await greedy(model, ids, 12, false)).ids).toEqual(ref.json.generate!.new_tokens);
    });
  });
});

describe.runIf(hasShared('models'))('WebAssembly backend with the default passes on real checkpoints', () => {
  it('stories260K generates the llama2.c golden text at 2 threads', async () => {
    const golden = JSON.parse(readFileSync(sharedPath('golden', 'stories260K-llama2c.json'), 'utf8')).cases[0];
    const model = await Model.open(sharedPath('models', 'stories260K', 'stories260K.bin'), { backend: 'wasm', threads: 2, maxChunk: 16, passes: 'default' });
    expect(stepOps(model)).toContain('norm_matmul');
    const n = golden.steps - model.tokenizer.encode(golden.prompt).length + 1;
    expect(golden.prompt + (await greedy(model, golden.prompt, n)).text + '\n').toBe(golden.text);
    await model.dispose();
  });
  it('TinyStories-656K Q8_0 (quantized epilogue matmuls) starts the story as the reference backend does', async () => {
    const q8 = sharedPath('models', 'tinystories-656k', 'TinyStories-656K-Q8_0.gguf');
    const wasm = await Model.open(q8, { backend: 'wasm', threads: 2, passes: 'default' });
    expect(stepOps(wasm)).toContain('matmul_ep');
    const a = await greedy(wasm, 'Once upon a time', 24);
    const b = await greedy(Model.load(q8), 'Once upon a time', 24);
    // Q8_0 matmuls quantize activations to 8 bits (see wasm-decoders.test.ts), so only the start must agree.
    expect(a.ids.slice(0, 8)).toEqual(b.ids.slice(0, 8));
    await wasm.dispose();
  }, 120_000);
});
