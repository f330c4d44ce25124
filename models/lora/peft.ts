// Hugging Face PEFT LoRA adapters: a folder with adapter_config.json (r, lora_alpha, use_rslora,
// target_modules, rank_pattern, alpha_pattern) and adapter_model.safetensors, whose tensors are
// `base_model.model.<module>.lora_A.weight` [r, in] and `….lora_B.weight` [out, r]. `<module>` is
// the module's name in the HF model, so `<module>.weight` is the checkpoint tensor it adapts (a
// fused one such as Phi-3's qkv_proj too; GPT-2's Conv1D [in, out] weights are transposed where
// they are read, so B·A stays [out, in]).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { openSafetensors } from '../formats/safetensors.js';
import { AdapterError, type LoraAdapter, loraFactor, type LoraTarget } from './adapter.js';

export const PEFT_CONFIG = 'adapter_config.json';
export const PEFT_WEIGHTS = 'adapter_model.safetensors';

/** The adapter folder for a path naming the folder, its config or its weights; undefined when it is none. */
export function peftFolder(path: string): string | undefined {
  const dir = statSync(path).isDirectory() ? path : dirname(path);
  const name = basename(path);
  if (dir !== path && name !== PEFT_CONFIG && name !== PEFT_WEIGHTS) return undefined;
  return existsSync(join(dir, PEFT_CONFIG)) ? dir : undefined;
}

type Json = Record<string, unknown>;

function readConfig(file: string): Json {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new AdapterError(file, `not valid JSON: ${(e as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new AdapterError(file, 'must hold a JSON object');
  return json as Json;
}

function positiveNumber(file: string, json: Json, key: string, integer: boolean): number {
  const v = json[key];
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) {
    throw new AdapterError(file, `"${key}" must be a positive ${integer ? 'whole number' : 'number'}, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** PEFT's per-module overrides: the first key that matches the end of the module name, as `(.*\.)?key$`. */
function patternValue(file: string, json: Json, key: string, module: string): number | undefined {
  const table = json[key];
  if (table === undefined || table === null) return undefined;
  if (typeof table !== 'object' || Array.isArray(table)) throw new AdapterError(file, `"${key}" must be an object of module pattern → number`);
  for (const [pattern, value] of Object.entries(table as Json)) {
    let re: RegExp;
    try {
      re = new RegExp(`^(?:.*\\.)?(?:${pattern})$`);
    } catch {
      throw new AdapterError(file, `"${key}": pattern ${JSON.stringify(pattern)} is not a regular expression`);
    }
    if (!re.test(module)) continue;
    if (typeof value !== 'number' || !(value > 0)) throw new AdapterError(file, `"${key}.${pattern}" must be a positive number, got ${JSON.stringify(value)}`);
    return value;
  }
  return undefined;
}

const FACTOR = /^base_model\.model\.(.+)\.lora_([AB])\.weight$/;

export function readPeftAdapter(dir: string): LoraAdapter {
  const configFile = join(dir, PEFT_CONFIG);
  const json = readConfig(configFile);
  if (json.peft_type !== 'LORA') throw new AdapterError(configFile, `"peft_type" is ${JSON.stringify(json.peft_type)}; only LoRA adapters ("LORA") are supported`);
  if (json.use_dora === true) throw new AdapterError(configFile, '"use_dora" is true: DoRA adapters (with magnitude vectors) are not supported');
  const rank = positiveNumber(configFile, json, 'r', true);
  const alpha = positiveNumber(configFile, json, 'lora_alpha', false);
  const rsLora = json.use_rslora === true;
  const weights = join(dir, PEFT_WEIGHTS);
  if (!existsSync(weights)) {
    const pickle = existsSync(join(dir, 'adapter_model.bin'));
    throw new AdapterError(dir, `no ${PEFT_WEIGHTS}${pickle ? ' (adapter_model.bin is a PyTorch pickle, which is not read: save the adapter with safe_serialization=True)' : ''}`);
  }
  const store = openSafetensors(weights);
  const factors = new Map<string, { a?: string; b?: string }>();
  for (const name of store.names()) {
    const m = FACTOR.exec(name);
    if (!m) {
      const what = /lora_embedding_[AB]/.test(name) ? 'an embedding LoRA factor (not supported)' : /lora_magnitude/.test(name) ? 'a DoRA magnitude (not supported)' : 'not a LoRA factor (modules_to_save and other full weights are not supported)';
      throw new AdapterError(weights, `tensor "${name}" is ${what}`);
    }
    const entry = factors.get(m[1]) ?? {};
    entry[m[2] === 'A' ? 'a' : 'b'] = name;
    factors.set(m[1], entry);
  }
  if (factors.size === 0) throw new AdapterError(weights, 'holds no LoRA factors (…lora_A.weight / …lora_B.weight)');
  const targets = [...factors].map(([module, { a, b }]): LoraTarget => {
    if (!a || !b) throw new AdapterError(weights, `module "${module}" has ${a ? 'lora_A' : 'lora_B'} but no ${a ? 'lora_B' : 'lora_A'}`);
    const r = patternValue(configFile, json, 'rank_pattern', module) ?? rank;
    const moduleAlpha = patternValue(configFile, json, 'alpha_pattern', module) ?? alpha;
    const aShape = matrixShape(store.info(a).shape, weights, a);
    const bShape = matrixShape(store.info(b).shape, weights, b);
    if (aShape[0] !== r || bShape[1] !== r) {
      throw new AdapterError(weights, `module "${module}": lora_A is [${aShape.join(', ')}] and lora_B [${bShape.join(', ')}], but the adapter's rank for it is ${r} (A must be [${r}, in], B [out, ${r}])`);
    }
    return { tensor: `${module}.weight`, a, b, aShape, bShape, rank: r, alpha: moduleAlpha, factor: loraFactor(moduleAlpha, r, rsLora) };
  });
  const base = typeof json.base_model_name_or_path === 'string' ? json.base_model_name_or_path : undefined;
  return { path: weights, format: 'peft', ...(base ? { baseModel: base } : {}), rank, alpha, rsLora, targets, store };
}

export function matrixShape(shape: readonly number[], file: string, name: string): [number, number] {
  if (shape.length !== 2) throw new AdapterError(file, `tensor "${name}" has shape [${shape.join(', ')}]; a LoRA factor is a matrix`);
  return [shape[0], shape[1]];
}
