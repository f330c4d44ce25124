// Options every model command shares (--model, --tokenizer, --backend, --passes), and checked
// number parsing for the rest.
import { resolve } from 'node:path';
import { BACKENDS, type BackendName } from '../backends.js';
import { Model } from '../model.js';
import { type Invocation, type OptionSpec, stringOpt, UsageError } from './command.js';
import type { CliIO } from './io.js';

export const MODEL_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  model: { type: 'string', short: 'm', value: 'PATH', help: 'an HF model directory, a .gguf file or a llama2.c .bin checkpoint' },
  tokenizer: { type: 'string', value: 'PATH', help: 'tokenizer.json, a llama2.c tokenizer.bin, or a .gguf (default: found beside the model)' },
  backend: { type: 'string', value: 'NAME', choices: BACKENDS, help: 'auto (default: WebGPU when a hardware adapter can hold the model, else wasm), wasm, webgpu or reference' },
  passes: { type: 'string', value: 'PIPELINE', help: "optimisation passes to run on the graph first, e.g. 'default' (default: none)" },
  threads: { type: 'string', value: 'N', help: 'CPU threads for the wasm backend (default: every core)' },
  'no-cache': { type: 'boolean', help: 'compile without reading or writing the compile cache (see `tessera cache`)' },
};

export function requireString(inv: Invocation, name: string): string {
  const v = stringOpt(inv, name);
  if (v === undefined) throw new UsageError(`missing --${name}`, inv.command);
  return v;
}

/** Opens the decoder named by --model on the --backend, saying on stderr which backend and why. */
export async function loadModelFrom(inv: Invocation, io: CliIO): Promise<Model> {
  const path = resolve(io.cwd, requireString(inv, 'model'));
  const tok = stringOpt(inv, 'tokenizer');
  const backend = (stringOpt(inv, 'backend') ?? 'auto') as BackendName;
  const model = await Model.open(path, {
    ...(tok ? { tokenizer: resolve(io.cwd, tok) } : {}),
    backend,
    threads: numberOpt(inv, 'threads', { min: 1, max: 64, integer: true }),
    passes: stringOpt(inv, 'passes'),
  });
  if (backend === 'auto') io.stderr.write(`backend ${model.backendReason}\n`);
  return model;
}

/** A number option within [min, max]; `integer` rejects fractions. */
export function numberOpt(inv: Invocation, name: string, range: { min?: number; max?: number; integer?: boolean } = {}): number | undefined {
  const text = stringOpt(inv, name);
  if (text === undefined) return undefined;
  const v = Number(text);
  const what = range.integer ? 'a whole number' : 'a number';
  if (text.trim() === '' || !Number.isFinite(v) || (range.integer && !Number.isInteger(v))) throw new UsageError(`--${name} must be ${what}, got '${text}'`, inv.command);
  if (range.min !== undefined && v < range.min) throw new UsageError(`--${name} must be ≥ ${range.min}, got ${v}`, inv.command);
  if (range.max !== undefined && v > range.max) throw new UsageError(`--${name} must be ≤ ${range.max}, got ${v}`, inv.command);
  return v;
}

/** "1,2,3" → [1, 2, 3], with the bad item named. */
export function parseIdList(text: string, option: string, command: string): number[] {
  const items = text.split(',').map((s) => s.trim());
  return items.map((s, i) => {
    const v = Number(s);
    if (s === '' || !Number.isInteger(v) || v < 0) throw new UsageError(`--${option}: item ${i + 1} ('${s}') is not a token id (a whole number ≥ 0)`, command);
    return v;
  });
}
