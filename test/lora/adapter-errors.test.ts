// LoRA adapters that do not fit, or are not adapters, are refused with an error naming the file
// and the tensor; the lora-merge rewrite itself, as printed; the load option and --lora's syntax.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelFormatError } from '../../ir/errors.js';
import { formatWeight } from '../../ir/printer.js';
import { AdapterError } from '../../models/lora/adapter.js';
import { openLoraAdapter } from '../../models/lora/open.js';
import { parseLoraFlag } from '../../src/lora.js';
import { Model } from '../../src/model.js';
import { OptionError } from '../../runtime/options.js';
import { PassError } from '../../passes/pass-manager.js';
import { hasShared, sharedPath } from '../helpers/shared.js';
import { bytesOf, ggufBytes, safetensorsBytes } from '../models/writers.js';
import { randomFactor, rng, type TestFactor, writeGgufAdapter, writePeftAdapter } from './adapters.js';

const next = rng(7);
let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'tessera-lora-errors-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let count = 0;
const fresh = (name: string) => join(dir, `${count++}-${name}`);

const LLAMA = ['refs', 'llama'] as const;
const GGUF = ['models', 'tinystories-656k', 'TinyStories-656K.f16.gguf'] as const;

/** refs/llama's q_proj of layer 0 is [hidden, hidden]; read from its config below. */
function llamaQ(rank: number, hidden: number, tensor = 'model.layers.0.self_attn.q_proj.weight'): TestFactor {
  return randomFactor(tensor, rank, hidden, hidden, next);
}

describe.runIf(hasShared(...LLAMA))('PEFT adapters that do not fit refs/llama', () => {
  let hidden: number;
  const base = () => sharedPath(...LLAMA);
  beforeAll(() => { hidden = Model.load(base()).config.hiddenSize; });

  it('an unknown target names the adapter tensor and the missing base tensor', () => {
    const a = writePeftAdapter(fresh('peft'), [llamaQ(2, hidden, 'model.layers.0.self_attn.qq_proj.weight')], { r: 2, alpha: 4 });
    const load = () => Model.load(base(), { lora: [{ path: a }] });
    expect(load).toThrow(AdapterError);
    expect(load).toThrow(/"base_model\.model\.model\.layers\.0\.self_attn\.qq_proj\.lora_A\.weight" adapts "model\.layers\.0\.self_attn\.qq_proj\.weight", which .* does not hold/);
  });

  it('a factor of another rank than the config declares', () => {
    const a = writePeftAdapter(fresh('peft'), [llamaQ(3, hidden)], { r: 4, alpha: 4 });
    expect(() => openLoraAdapter(a)).toThrow(/module "model\.layers\.0\.self_attn\.q_proj": lora_A is \[3, \d+\] and lora_B \[\d+, 3\], but the adapter's rank for it is 4/);
  });

  it('a factor of the wrong size for the base tensor (a model of another size)', () => {
    const f = randomFactor('model.layers.0.self_attn.q_proj.weight', 2, hidden, hidden + 1, next);
    const a = writePeftAdapter(fresh('peft'), [f], { r: 2, alpha: 4 });
    expect(() => Model.load(base(), { lora: [{ path: a }] })).toThrow(new RegExp(`lora_B\\.weight" · ".*lora_A\\.weight" is \\[${hidden + 1}, ${hidden}\\], but "model\\.layers\\.0\\.self_attn\\.q_proj\\.weight" is \\[${hidden}, ${hidden}\\]`));
  });

  it('a lora_A without its lora_B', () => {
    const a = writePeftAdapter(fresh('peft'), [llamaQ(2, hidden)], { r: 2, alpha: 4 });
    const f = llamaQ(2, hidden);
    writeFileSync(join(a, 'adapter_model.safetensors'), (jsonSafetensors([{ name: 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight', shape: [2, hidden], data: f.a }])));
    expect(() => openLoraAdapter(a)).toThrow(/module "model\.layers\.0\.self_attn\.q_proj" has lora_A but no lora_B/);
  });

  it('DoRA and non-LoRA PEFT types are refused by their config key', () => {
    const dora = writePeftAdapter(fresh('peft'), [llamaQ(2, hidden)], { r: 2, alpha: 4, extra: { use_dora: true } });
    expect(() => openLoraAdapter(dora)).toThrow(/"use_dora" is true/);
    const ia3 = writePeftAdapter(fresh('peft'), [llamaQ(2, hidden)], { r: 2, alpha: 4, extra: { peft_type: 'IA3' } });
    expect(() => openLoraAdapter(ia3)).toThrow(/"peft_type" is "IA3"; only LoRA adapters/);
  });

  it('an adapted embedding table is refused by the pass, naming the tensor', () => {
    const cfg = Model.load(base()).config;
    const f = randomFactor('model.embed_tokens.weight', 2, cfg.hiddenSize, cfg.vocabSize, next);
    const a = writePeftAdapter(fresh('peft'), [f], { r: 2, alpha: 4 });
    let err: unknown;
    try { Model.load(base(), { lora: [{ path: a }] }).graph(); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(PassError);
    expect((err as PassError).cause).toBeInstanceOf(ModelFormatError);
    expect((err as Error).message).toMatch(/"model\.embed_tokens\.weight" is read by %.*only projection weights/);
  });

  it('rank_pattern and alpha_pattern override r and lora_alpha per module', () => {
    const f = llamaQ(3, hidden);
    const g = randomFactor('model.layers.0.self_attn.k_proj.weight', 2, hidden, Model.load(base()).config.numKvHeads * Model.load(base()).config.headDim, next);
    const a = writePeftAdapter(fresh('peft'), [f, g], { r: 2, alpha: 8, extra: { rank_pattern: { q_proj: 3 }, alpha_pattern: { 'layers\\.0\\.self_attn\\.q_proj': 6 } } });
    const targets = openLoraAdapter(a).targets;
    expect(targets.map((t) => [t.tensor, t.rank, t.alpha, t.factor])).toEqual([
      ['model.layers.0.self_attn.q_proj.weight', 3, 6, 2],
      ['model.layers.0.self_attn.k_proj.weight', 2, 8, 4],
    ]);
  });

  it('a GGUF adapter on an HF checkpoint says which form to use', () => {
    const a = writeGgufAdapter(fresh('a.gguf'), [llamaQ(2, hidden, 'blk.0.attn_q.weight')], { alpha: 4, architecture: 'llama' });
    expect(() => Model.load(base(), { lora: [{ path: a }] })).toThrow(/a GGUF LoRA adapter names llama\.cpp's tensors, but .* is an HF checkpoint/);
  });

  it('the load option is checked up front', () => {
    expect(() => Model.load(base(), { lora: [{ scale: 1 }] as never })).toThrow(OptionError);
    expect(() => Model.load(base(), { lora: [{ path: 'x', scale: Number.NaN }] })).toThrow(/lora must be an array of \{ path: string, scale\?: finite number, runtime\?: boolean, id\?: string \}/);
    expect(() => Model.load(base(), { lora: [{ path: 'x', id: 3 }] as never })).toThrow(/id\?: string/);
  });
});

describe.runIf(hasShared(...GGUF))('GGUF adapters that do not fit TinyStories-656K', () => {
  const base = () => sharedPath(...GGUF);
  const q = () => randomFactor('blk.0.attn_q.weight', 2, 128, 128, next);

  it('an adapter for another architecture', () => {
    const a = writeGgufAdapter(fresh('a.gguf'), [q()], { alpha: 4, architecture: 'qwen2' });
    expect(() => Model.load(base(), { lora: [{ path: a }] })).toThrow(/the adapter is for general\.architecture "qwen2", the model is "llama"/);
  });

  it('a model file given as an adapter', () => {
    expect(() => openLoraAdapter(base())).toThrow(/general\.type is absent, not "adapter": this is a model, not a LoRA adapter/);
  });

  it('a PEFT adapter on a GGUF model says which form to use', () => {
    const a = writePeftAdapter(fresh('peft'), [randomFactor('model.layers.0.self_attn.q_proj.weight', 2, 128, 128, next)], { r: 2, alpha: 4 });
    expect(() => Model.load(base(), { lora: [{ path: a }] })).toThrow(/a PEFT adapter names Hugging Face tensors, but .* is a gguf file/);
  });

  it('lora_a and lora_b of different ranks', () => {
    const f = q();
    const g = randomFactor('blk.0.attn_q.weight', 3, 128, 128, next);
    const file = fresh('a.gguf');
    writeFileSync(file, ggufBytes({
      kv: [['general.architecture', 8, 'llama'], ['general.type', 8, 'adapter'], ['adapter.type', 8, 'lora'], ['adapter.lora.alpha', 6, 4]],
      tensors: [
        { name: 'blk.0.attn_q.weight.lora_a', dims: [128, 2], typeId: 0, data: bytesOf(f.a) },
        { name: 'blk.0.attn_q.weight.lora_b', dims: [3, 128], typeId: 0, data: bytesOf(g.b) },
      ],
    }));
    expect(() => openLoraAdapter(file)).toThrow(/"blk\.0\.attn_q\.weight\.lora_a" is \[2, 128\] and "blk\.0\.attn_q\.weight\.lora_b" \[128, 3\]: their ranks \(2 and 3\) differ/);
  });

  it('the merged weight is add_low_rank over the checkpoint tensor, and a pipeline string does the same', async () => {
    const f = q();
    const a = writeGgufAdapter(fresh('a.gguf'), [f], { alpha: 4, architecture: 'llama' });
    const model = Model.load(base(), { lora: [{ path: a, scale: 0.25 }] });
    const p = model.graph({ logits: 'all' }).params.find((v) => v.def.kind === 'param' && v.def.source.kind === 'call' && v.def.source.fn === 'add_low_rank');
    expect(p && p.def.kind === 'param' ? formatWeight(p.def.source) : undefined).toBe(
      `add_low_rank("blk.0.attn_q.weight", "lora:${a}#blk.0.attn_q.weight.lora_b", "lora:${a}#blk.0.attn_q.weight.lora_a") {scale = 0.5}`,
    );
    expect(p?.type.dtype).toBe('f32');
    const viaPasses = Model.load(base(), { passes: `lora-merge{adapter=${JSON.stringify(a)},scale=0.25}` });
    const ids = [1, 80, 147];
    expect(await viaPasses.logits(ids)).toEqual(await model.logits(ids));
  });
});

describe('--lora PATH[:SCALE]', () => {
  it('takes the scale after the last colon only when it is a number', () => {
    expect(parseLoraFlag('a/b.gguf:0.5', '/w', 'generate')).toEqual({ path: '/w/a/b.gguf', scale: 0.5 });
    expect(parseLoraFlag('a.gguf:-1e-1', '/w', 'generate')).toEqual({ path: '/w/a.gguf', scale: -0.1 });
    expect(parseLoraFlag('/abs/peft', '/w', 'generate')).toEqual({ path: '/abs/peft' });
    expect(parseLoraFlag('dir:name', '/w', 'generate')).toEqual({ path: '/w/dir:name' });
    expect(() => parseLoraFlag(':0.5', '/w', 'generate')).toThrow(/--lora ':0\.5': expected PATH or PATH:SCALE/);
  });
});

/** A safetensors file with F32 tensors (the test writer, without the StTensor boilerplate). */
function jsonSafetensors(ts: { name: string; shape: number[]; data: Float32Array }[]): Uint8Array {
  return safetensorsBytes(ts.map((t) => ({ ...t, dtype: 'F32' })));
}
