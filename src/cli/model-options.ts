// Options every model command shares (--model, --tokenizer, --backend, --passes), and checked
// number parsing for the rest.
import { resolve } from 'node:path';
import { BACKENDS, type BackendName } from '../backends.js';
import { describeBounds, type NumberRange, withinBounds } from '../../runtime/options.js';
import { GpuUnavailableError } from '../../runtime/webgpu/device.js';
import { LOAD_RANGES, Model } from '../model.js';
import { progressLine } from '../progress.js';
import { type Invocation, listOpt, type OptionSpec, stringOpt, UsageError } from './command.js';
import { type LoraOption, parseLoraFlag } from '../lora.js';
import type { CliIO } from './io.js';
import { inputPath } from './paths.js';

export const MODEL_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  model: { type: 'string', short: 'm', value: 'PATH', help: 'an HF model directory, a .gguf file or a llama2.c .bin checkpoint' },
  tokenizer: { type: 'string', value: 'PATH', help: 'tokenizer.json, a llama2.c tokenizer.bin, or a .gguf (default: found beside the model)' },
  backend: { type: 'string', value: 'NAME', choices: BACKENDS, help: 'auto (default: WebGPU when a hardware adapter can hold the model, else wasm), wasm, webgpu or reference' },
  passes: { type: 'string', value: 'PIPELINE', help: "optimisation passes to run on the graph first, e.g. 'default' (default: none)" },
  threads: { type: 'string', value: 'N', help: 'CPU threads for the wasm backend (default: every core)' },
  'spin-micros': { type: 'string', value: 'US', help: 'how long an idle wasm thread spins before it sleeps (default 20000; 0 on a machine shared with other busy work)' },
  'no-cache': { type: 'boolean', help: 'compile without reading or writing the compile cache (see `tessera cache`)' },
  quiet: { type: 'boolean', help: 'no progress line on standard error for slow loading steps' },
};

/** --ctx N: the decoder commands size the KV cache to N tokens (the contextLength load option). */
export const CTX_OPTION: OptionSpec = {
  type: 'string', value: 'N',
  help: "tokens the KV cache holds, prompt and output together (default: the model's context); less context, less memory",
};

/** The --ctx flag as the contextLength load option (undefined when absent). */
export function contextLengthOpt(inv: Invocation): number | undefined {
  return numberOpt(inv, 'ctx', LOAD_RANGES.contextLength);
}

/** --lora PATH[:SCALE], repeatable: the decoder commands and compile merge it (serve loads it for run time). */
export const LORA_OPTION: OptionSpec = {
  type: 'string', multiple: true, value: 'PATH[:SCALE]',
  help: 'merge a LoRA adapter (a PEFT folder or a llama.cpp GGUF adapter) into the weights at load, scaled by SCALE (default 1); serve loads adapters for per-request use instead',
};

/** The adapters named by --lora, paths resolved against the working directory. */
export function loraOpts(inv: Invocation, io: CliIO): LoraOption[] {
  return listOpt(inv, 'lora').map((text) => parseLoraFlag(text, io.cwd, inv.command));
}

export function requireString(inv: Invocation, name: string): string {
  const v = stringOpt(inv, name);
  if (v === undefined) throw new UsageError(`missing --${name}`, inv.command);
  return v;
}

/**
 * Opens the decoder named by --model on the --backend, saying on stderr which backend and why;
 * `lora`: the adapters (default: --lora, merged).
 */
export async function loadModelFrom(inv: Invocation, io: CliIO, lora: readonly LoraOption[] = loraOpts(inv, io)): Promise<Model> {
  const path = resolve(io.cwd, requireString(inv, 'model'));
  const tok = stringOpt(inv, 'tokenizer');
  const backend = (stringOpt(inv, 'backend') ?? 'auto') as BackendName;
  const model = await withBackendAdvice(backend, () => Model.open(path, {
    ...(tok ? { tokenizer: inputPath(io, tok, 'tokenizer') } : {}),
    backend,
    threads: numberOpt(inv, 'threads', LOAD_RANGES.threads),
    spinMicros: numberOpt(inv, 'spin-micros', LOAD_RANGES.spinMicros),
    contextLength: contextLengthOpt(inv),
    passes: stringOpt(inv, 'passes'),
    lora,
    progress: inv.values.quiet === true ? undefined : progressLine(io.stderr),
  }));
  if (backend === 'auto') io.stderr.write(`backend ${model.backendReason}\n`);
  return model;
}

/** Runs `open`; when the --backend asked for has no device here, says which option and what to use instead. */
export async function withBackendAdvice<T>(backend: BackendName, open: () => Promise<T>): Promise<T> {
  try {
    return await open();
  } catch (e) {
    if (!(e instanceof GpuUnavailableError)) throw e;
    throw new GpuUnavailableError(`--backend ${backend}: ${e.message}\nRun on the CPU with --backend wasm, or let --backend auto choose.`, { cause: e });
  }
}

/** A number option within `range` (the API's own ranges, so the CLI and the API agree). */
export function numberOpt(inv: Invocation, name: string, range: NumberRange = {}): number | undefined {
  const text = stringOpt(inv, name);
  if (text === undefined) return undefined;
  const v = Number(text);
  const bounds = describeBounds(range);
  const fail = (message: string): never => {
    throw new UsageError(`--${name} must be ${message}`, inv.command);
  };
  if (text.trim() === '' || !Number.isFinite(v) || (range.integer && !Number.isInteger(v))) fail(`${range.integer ? 'a whole number' : 'a number'}, got '${text}'${bounds ? ` (valid: ${bounds})` : ''}`);
  if (!withinBounds(v, range)) fail(`${bounds}, got ${v}`);
  if (range.integer && !Number.isSafeInteger(v)) fail(`at most ${Number.MAX_SAFE_INTEGER}, got '${text}'`);
  return v;
}

/** Throws a usage error naming `--option` unless every id is in the model's vocabulary. */
export function checkIdsInVocabulary(ids: Iterable<number>, vocabSize: number, option: string, command: string): void {
  for (const id of ids) if (id >= vocabSize) throw new UsageError(`--${option}: token id ${id} is outside the vocabulary [0, ${vocabSize})`, command);
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
