// llama.cpp's GGUF LoRA adapters (convert_lora_to_gguf.py): general.type = adapter,
// adapter.type = lora, adapter.lora.alpha, and per adapted tensor `<name>.lora_a` [r, in] and
// `<name>.lora_b` [out, r], where `<name>` is the base GGUF's tensor (e.g. blk.0.attn_q.weight)
// and B's rows are in that tensor's row order (q/k permuted as the converter permutes the base).
// As llama.cpp does, the factor is alpha/r, or 1 when alpha is 0 or absent.
import { openGguf } from '../formats/gguf.js';
import type { MetaValue } from '../formats/store.js';
import { AdapterError, type LoraAdapter, type LoraTarget } from './adapter.js';
import { matrixShape } from './peft.js';

const FACTOR = /^(.+)\.lora_([ab])$/;

function stringKey(file: string, meta: ReadonlyMap<string, MetaValue>, key: string): string | undefined {
  const v = meta.get(key);
  if (v !== undefined && typeof v !== 'string') throw new AdapterError(file, `"${key}" must be a string, got ${typeof v}`);
  return v;
}

export function readGgufAdapter(file: string): LoraAdapter {
  const store = openGguf(file);
  const meta = store.metadata;
  const type = stringKey(file, meta, 'general.type');
  if (type !== 'adapter') throw new AdapterError(file, `general.type is ${type === undefined ? 'absent' : `"${type}"`}, not "adapter": this is a model, not a LoRA adapter (pass it with --model)`);
  const kind = stringKey(file, meta, 'adapter.type');
  if (kind !== 'lora') throw new AdapterError(file, `adapter.type is ${kind === undefined ? 'absent' : `"${kind}"`}; only "lora" adapters are supported`);
  const rawAlpha = meta.get('adapter.lora.alpha') ?? 0;
  if (typeof rawAlpha !== 'number' || !Number.isFinite(rawAlpha) || rawAlpha < 0) throw new AdapterError(file, `adapter.lora.alpha must be a number ≥ 0, got ${String(rawAlpha)}`);
  const alpha = rawAlpha;
  const architecture = stringKey(file, meta, 'general.architecture');
  const factors = new Map<string, { a?: string; b?: string }>();
  for (const name of store.names()) {
    const m = FACTOR.exec(name);
    if (!m) throw new AdapterError(file, `tensor "${name}" is not a LoRA factor (<tensor>.lora_a / <tensor>.lora_b)`);
    const entry = factors.get(m[1]) ?? {};
    entry[m[2] as 'a' | 'b'] = name;
    factors.set(m[1], entry);
  }
  if (factors.size === 0) throw new AdapterError(file, 'holds no LoRA factors (<tensor>.lora_a / <tensor>.lora_b)');
  const targets = [...factors].map(([tensor, { a, b }]): LoraTarget => {
    if (!a || !b) throw new AdapterError(file, `tensor "${tensor}" has ${a ? 'lora_a' : 'lora_b'} but no ${a ? 'lora_b' : 'lora_a'}`);
    const aShape = matrixShape(store.info(a).shape, file, a);
    const bShape = matrixShape(store.info(b).shape, file, b);
    if (aShape[0] !== bShape[1]) throw new AdapterError(file, `"${a}" is [${aShape.join(', ')}] and "${b}" [${bShape.join(', ')}]: their ranks (${aShape[0]} and ${bShape[1]}) differ`);
    const rank = aShape[0];
    return { tensor, a, b, aShape, bShape, rank, alpha, factor: alpha ? alpha / rank : 1 };
  });
  return { path: file, format: 'gguf', ...(architecture ? { architecture } : {}), alpha, rsLora: false, targets, store };
}
