// Every quantized GGUF in ../shared/models/quant whose tensor types the dtype table (ir/dtype.ts)
// all has, against llama.cpp's own logits (README there): the reference interpreter matches the
// exact semantics (an F32 copy of the dequantized weights) to rounding, with the same greedy
// continuation; wasm and webgpu, which quantize activations as llama.cpp's CPU kernels do, stay
// within 1.5× llama.cpp's own error on the same file. A new dtype row brings its files in by itself;
// files holding a type we do not read yet are listed as left out.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DTYPES, dtypeInfo } from '../../ir/dtype.js';
import { openGguf } from '../../models/formats/gguf.js';
import { Model } from '../../src/model.js';
import { greedy } from '../helpers/generate.js';
import { gpuSkipReason } from '../helpers/gpu.js';
import { maxAbsDiff } from '../helpers/refs.js';
import { hasShared, sharedPath } from '../helpers/shared.js';

const QUANT = ['models', 'quant'] as const;
/** GGUF type names the dtype table reads. */
const SUPPORTED = new Set(DTYPES.flatMap((d) => dtypeInfo(d).ggml?.name ?? []));

interface RefCase { readonly ids: number[]; readonly logits: string; readonly greedy: number[] }
interface RefSet { readonly cases: RefCase[]; readonly logits: Float32Array[] }
interface QuantFile { readonly name: string; readonly path: string; readonly types: string[] }

/**
 * The reference sets (`<name>.dequant.json` names each tensor's type) and where each model file is:
 * beside its references, or for the shared TinyStories files in ../tinystories-656k. Read when the
 * module loads, since the tests are made per file; the logits are read in beforeAll.
 */
function quantFiles(): QuantFile[] {
  if (!hasShared(...QUANT)) return [];
  return readdirSync(sharedPath(...QUANT)).filter((f) => f.endsWith('.dequant.json')).sort().map((f) => {
    const name = f.slice(0, -'.dequant.json'.length);
    const tensors = JSON.parse(readFileSync(sharedPath(...QUANT, f), 'utf8')).tensors as Record<string, { type: string }>;
    const types = [...new Set(Object.values(tensors).map((t) => t.type))].sort();
    const beside = sharedPath(...QUANT, `${name}.gguf`);
    return { name, types, path: existsSync(beside) ? beside : sharedPath('models', 'tinystories-656k', `${name}.gguf`) };
  });
}

function readRefs(file: string): RefSet {
  const json = JSON.parse(readFileSync(sharedPath(...QUANT, file), 'utf8')) as { cases: RefCase[] };
  const logits = json.cases.map((c) => {
    const b = readFileSync(sharedPath(...QUANT, c.logits));
    return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  });
  return { cases: json.cases, logits };
}

const maxAbs = (xs: Float32Array) => xs.reduce((m, x) => Math.max(m, Math.abs(x)), 0);

const files = quantFiles();
const runnable = files.filter((f) => f.types.every((t) => SUPPORTED.has(t)));
const gpuReason = gpuSkipReason('WebGPU on the quantized GGUF files');

describe.runIf(hasShared(...QUANT))('quantized GGUF files against llama.cpp', () => {
  const leftOut = files.filter((f) => !runnable.includes(f));
  const lacking = (f: QuantFile) => f.types.filter((t) => !SUPPORTED.has(t));
  it('runs at least one file, and names those left out for types the dtype table lacks', () => {
    if (leftOut.length) console.warn(`[tessera tests] not yet readable, left out: ${leftOut.map((f) => `${f.name} (${lacking(f).join(', ')})`).join('; ')}`);
    expect(runnable.length).toBeGreaterThan(0);
  });

  // Every shared file is readable now, so the refusal is shown on one whose last tensor in the
  // data section (so that no later offset contradicts the new size) is relabelled as IQ2_XXS, a
  // type out of scope: the error must name that tensor and the type.
  it('refuses a file holding a type we do not read, naming the tensor and the type', () => {
    const source = runnable.find((f) => f.name === 'quant-mini-Q8_0-pure') ?? runnable[0];
    const store = openGguf(source.path);
    const last = store.names().map((n) => store.tensorInfo(n)).reduce((a, b) => (Number(b.offset) > Number(a.offset) ? b : a));
    const bytes = new Uint8Array(readFileSync(source.path));
    const name = new TextEncoder().encode(last.name);
    const at = bytes.findIndex((_, i) => bytes[i - 1] === 0 && name.every((c, j) => bytes[i + j] === c));
    expect(at).toBeGreaterThan(0);
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const nDims = view.getUint32(at + name.length, true);
    view.setUint32(at + name.length + 4 + 8 * nDims, 16, true); // ggml type id 16: IQ2_XXS
    // The data section ends where the relabelled tensor's IQ2_XXS blocks (66 bytes per 256) end.
    const elements = last.shape.reduce((a: number, b: number) => a * b, 1);
    const relabelled = bytes.subarray(0, bytes.length - (last.byteLength ?? 0) + (elements / 256) * 66);
    const dir = mkdtempSync(join(tmpdir(), 'tessera-iq2-'));
    try {
      const file = join(dir, 'relabelled.gguf');
      writeFileSync(file, relabelled);
      expect(() => Model.load(file)).toThrow(`tensor "${last.name}" has type IQ2_XXS, which is not supported`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  for (const file of runnable) {
    describe(`${file.name} (${file.types.join(', ')})`, () => {
      let exact: RefSet, llama: RefSet;
      const models: Model[] = [];
      beforeAll(() => {
        exact = readRefs(`${file.name}.exact.json`);
        llama = readRefs(`${file.name}.json`);
      });
      afterAll(async () => { for (const m of models) await m.dispose(); });

      it('reference: llama.cpp\'s exact logits to rounding, and its greedy continuation', async () => {
        const model = await Model.open(file.path, { backend: 'reference' });
        models.push(model);
        for (const [i, c] of exact.cases.entries()) {
          const want = exact.logits[i];
          expect(maxAbsDiff(await model.logits(c.ids), want), `case ${i}`).toBeLessThanOrEqual(1e-4 * maxAbs(want));
        }
        const c = exact.cases[0];
        expect((await greedy(model, c.ids, c.greedy.length, false)).ids).toEqual(c.greedy);
      });

      for (const backend of ['wasm', 'webgpu'] as const) {
        it(`${backend}: within 1.5× llama.cpp's own error against the exact logits`, async (t) => {
          if (backend === 'webgpu' && gpuReason()) return t.skip();
          const model = await Model.open(file.path, backend === 'wasm' ? { backend, threads: 2 } : { backend });
          models.push(model);
          expect(model.executor.backend).toBe(backend);
          for (const [i, c] of exact.cases.entries()) {
            const want = exact.logits[i];
            // The reference's rounding allowance on top: llama.cpp's error is 0 on a file whose
            // kernels do not quantize activations.
            const bound = 1.5 * maxAbsDiff(llama.logits[i], want) + 1e-4 * maxAbs(want);
            const err = maxAbsDiff(await model.logits(c.ids), want);
            const summary = `case ${i}: ours ${err.toExponential(3)}, llama.cpp ${maxAbsDiff(llama.logits[i], want).toExponential(3)}`;
            // The errors, for the record (BENCHMARKS and reports quote them).
            console.info(`[tessera tests] ${file.name} ${backend} ${summary}`);
            expect(err, summary).toBeLessThanOrEqual(bound);
          }
          // A wasm module per file (asc) and two prompts: over a minute on a loaded 2-core machine.
        }, 300_000);
      }
    });
  }
});
