// Broken or mismatched model files give errors that name the file and what is wrong.
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSafetensors } from '../../models/formats/safetensors.js';
import { Model } from '../../src/model.js';
import { hasShared, sharedPath } from '../helpers/shared.js';
import { safetensorsBytes } from '../models/writers.js';

function tempModel(arch: string, editConfig: (c: Record<string, unknown>) => void): string {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-bad-'));
  const config = JSON.parse(readFileSync(sharedPath('refs', arch, 'config.json'), 'utf8'));
  editConfig(config);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  copyFileSync(sharedPath('refs', arch, 'model.safetensors'), join(dir, 'model.safetensors'));
  return dir;
}

describe.runIf(hasShared('refs'))('mismatched and broken models', () => {
  it('a config that disagrees with the weights names the tensor and both shapes', () => {
    const dir = tempModel('llama', (c) => { c.intermediate_size = 96; });
    expect(() => Model.load(dir)).toThrow(/w_gate .*model\.layers\.0\.mlp\.gate_proj\.weight.* has shape \[128, 64\], but the config .* needs \[96, 64\]/);
  });

  it('an unsupported architecture lists the supported ones', () => {
    const dir = tempModel('llama', (c) => { c.model_type = 'mamba'; c.architectures = ['MambaForCausalLM']; });
    expect(() => Model.load(dir)).toThrow(/model_type "mamba" \(MambaForCausalLM\) is not supported; supported: llama, mistral, qwen2, qwen3, phi3, gemma, gemma2, gpt2, bert/);
  });

  it('a missing tensor is named', () => {
    const dir = tempModel('llama', () => {});
    const store = openSafetensors(join(dir, 'model.safetensors'));
    const kept = store.names().filter((n) => n !== 'model.layers.1.self_attn.v_proj.weight');
    writeFileSync(join(dir, 'model.safetensors'), safetensorsBytes(kept.map((name) => {
      const t = store.read(name);
      return { name, dtype: 'F32', shape: [...t.shape], data: t.data as Float32Array };
    })));
    expect(() => Model.load(dir)).toThrow(/missing tensor "model\.layers\.1\.self_attn\.v_proj\.weight"/);
  });

  it('invalid JSON in config.json is reported with the file', () => {
    const dir = tempModel('llama', () => {});
    writeFileSync(join(dir, 'config.json'), '{"model_type": "llama",');
    expect(() => Model.load(dir)).toThrow(/config\.json: not valid JSON/);
  });

  it('a config with impossible head counts is refused', () => {
    const dir = tempModel('llama', (c) => { c.num_key_value_heads = 3; });
    expect(() => Model.load(dir)).toThrow(/num_attention_heads \(4\) must be a multiple of num_key_value_heads \(3\)/);
  });
});

describe.runIf(hasShared('models', 'stories260K'))('truncated checkpoints', () => {
  it('a truncated GGUF names the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-bad-'));
    const bytes = readFileSync(sharedPath('models', 'stories260K', 'stories260K.gguf'));
    const path = join(dir, 'cut.gguf');
    writeFileSync(path, bytes.subarray(0, bytes.length - 1000));
    expect(() => Model.load(path)).toThrow(/cut\.gguf: .*(past the end|beyond|truncated)/i);
  });
  it('a truncated llama2.c checkpoint states expected and actual sizes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-bad-'));
    const bytes = readFileSync(sharedPath('models', 'stories260K', 'stories260K.bin'));
    const path = join(dir, 'cut.bin');
    writeFileSync(path, bytes.subarray(0, bytes.length - 4));
    expect(() => Model.load(path)).toThrow(/cut\.bin: the header implies \d+ bytes .* but the file has \d+/);
  });
});
