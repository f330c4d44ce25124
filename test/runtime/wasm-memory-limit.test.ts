// A model over wasm32's 4 GiB is refused at once with a ResourceError that names the sizes and the
// ways that work (quantize, webgpu), before anything is lowered, compiled or read; the 1.1B f32
// model with its tied table held once (3.85 GiB) is not. The checkpoints are llama2.c headers on
// sparse files: the declared sizes are real, the disk holds nothing.
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ResourceError } from '../../ir/errors.js';
import { llama2cFileBytes } from '../../models/formats/llama2c.js';
import { assertFitsWasm32, memoryFloor } from '../../runtime/wasm/budget.js';
import { Model } from '../../src/model.js';

/** dim, hidden, layers, heads, kv heads, vocab, context: make-synthetic.mjs's shapes. */
type Shape = readonly [number, number, number, number, number, number, number];
const TINYLLAMA: Shape = [2048, 5632, 22, 32, 4, 32000, 2048];
const STORIES110M: Shape = [768, 2048, 12, 12, 12, 32000, 1024];

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'tessera-wasm-limit-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A v0 llama2.c checkpoint of `shape` whose weights are a hole in the file. */
function sparseCheckpoint(name: string, shape: Shape, sharedClassifier = true): string {
  const path = join(dir, `${name}.bin`);
  const [dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize, seqLen] = shape;
  // v0 says "not shared" with a negative vocabulary size.
  writeFileSync(path, new Uint8Array(Int32Array.from([dim, hiddenDim, nLayers, nHeads, nKvHeads, sharedClassifier ? vocabSize : -vocabSize, seqLen]).buffer));
  truncateSync(path, llama2cFileBytes({ version: 0, dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize, seqLen, sharedClassifier, headerBytes: 28 }));
  return path;
}

function stepGraphs(path: string, passes: string) {
  const m = Model.load(path, { passes });
  return [m.graph({ logits: 'last' }), m.graph({ logits: 'all' })];
}

describe('models over wasm32\'s 4 GiB', () => {
  it('the floor counts each weight once (the tied table too) and the KV cache at the context', () => {
    const graphs = stepGraphs(sparseCheckpoint('tinyllama', TINYLLAMA), 'default');
    const f = memoryFloor(graphs, { S: 128, P: 2047 });
    // 1.1B parameters in f32: the tied [32000, 2048] table once, the layers' norm gains folded into
    // their projections, the final norm kept; 22 layers × K and V × 2047 rows × 4 heads × 64.
    const [D, F, L, , KV, V] = TINYLLAMA;
    const perLayer = D * D + 2 * D * (KV * 64) + D * D + 3 * D * F;
    expect(f.weights).toBe(4 * (V * D + L * perLayer + D));
    expect(f.states).toBe(2 * L * 2047 * KV * 64 * 4);
  });

  it('refuses the 1.1B f32 model with its own classifier (4.1 GiB) at once, naming the sizes and what to do', () => {
    const graphs = stepGraphs(sparseCheckpoint('tinyllama-untied', TINYLLAMA, false), 'default');
    const t0 = performance.now();
    const refusal = (() => {
      try {
        assertFitsWasm32(graphs, { S: 128, P: 2047 });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(refusal).toBeInstanceOf(ResourceError);
    expect((refusal as Error).message).toMatch(/needs 4\.\d\d GiB of WebAssembly memory \(weights 4\.\d\d GiB, KV cache 88\.0 MiB\), but wasm32 memory holds at most 4 GiB: use a quantized model \(q8_0, q4_0\), a shorter context \(--ctx N, the contextLength load option\), or --backend webgpu/);
  });

  it('lets through the tied 1.1B f32 model, the same quantized, and a 110M f32 model', () => {
    const bounds = { S: 128, P: 2047 };
    expect(() => assertFitsWasm32(stepGraphs(sparseCheckpoint('tinyllama', TINYLLAMA), 'default'), bounds)).not.toThrow();
    expect(() => assertFitsWasm32(stepGraphs(sparseCheckpoint('tinyllama-untied', TINYLLAMA, false), 'default,quantize{dtype=q8_0,heads=true}'), bounds)).not.toThrow();
    const small = stepGraphs(sparseCheckpoint('stories110M', STORIES110M), 'default');
    expect(() => assertFitsWasm32(small, { S: 128, P: 1023 })).not.toThrow();
  });

  it('Model.open on wasm refuses it before compiling or reading a weight, in under a second', async () => {
    const path = sparseCheckpoint('tinyllama-untied', TINYLLAMA, false);
    const t0 = performance.now();
    await expect(Model.open(path, { backend: 'wasm', passes: 'default' })).rejects.toThrow(ResourceError);
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});
