// LoRA adapters at the API and CLI: the `lora: [{ path, scale }]` load option, `--lora PATH[:SCALE]`,
// and the lora-merge steps they put in front of the pass pipeline. Installs the adapter reader the
// lora-merge pass asks for (passes cannot import models/).
import { resolve } from 'node:path';
import { isDType } from '../ir/dtype.js';
import { UsageError } from '../ir/errors.js';
import { AdapterError, adapterLeaf, type LoraAdapter } from '../models/lora/adapter.js';
import { checkAdapterFits } from '../models/lora/check.js';
import { openLoraAdapter } from '../models/lora/open.js';
import type { ModelSource } from '../models/open.js';
import { type LoraMergeAdapter, setLoraAdapterReader } from '../passes/lora-merge.js';
import type { OptionRule } from '../runtime/options.js';
import type { Value } from '../ir/graph.js';
import { tensor } from '../ir/tensor.js';
import { LORA_SCALES_LEAF } from '../passes/lora-attach.js';
import type { ParamResolver } from '../runtime/reference/interpreter.js';

/** The scales of the run-time adapters, in the order they were given (their slots in %lora.scales). */
export function runtimeScales(loras: readonly LoraOption[] | undefined): Float32Array {
  return Float32Array.from((loras ?? []).filter((l) => l.runtime), (l) => l.scale ?? 1);
}

/** Resolves %lora.scales (lora-attach) to the current scales; every other weight through `base`. */
export function withLoraScales(base: ParamResolver, scales: () => Float32Array): ParamResolver {
  const isScales = (p: Value) => p.def.kind === 'param' && p.def.source.kind === 'tensor' && p.def.source.name === LORA_SCALES_LEAF;
  const resolve: ParamResolver = (p) => (isScales(p) ? tensor('f32', [scales().length], scales().slice()) : base(p));
  if (base.streamer) resolve.streamer = (p) => (isScales(p) ? undefined : base.streamer!(p));
  return resolve;
}

export interface LoraOption {
  /** A PEFT adapter folder, or a llama.cpp GGUF LoRA adapter. */
  readonly path: string;
  /** How much of the update to add (default 1; 0 adds nothing, negative subtracts). */
  readonly scale?: number;
  /**
   * Apply at run time instead of merging: the base weights stay as they are and the adapter's
   * scale can change between requests (Model.setLoraScales). Reference backend only for now.
   */
  readonly runtime?: boolean;
}

export const loraRule: OptionRule<unknown> = (v) => {
  const ok = Array.isArray(v) && v.every((l) => typeof l === 'object' && l !== null && typeof (l as LoraOption).path === 'string'
    && ((l as LoraOption).scale === undefined || Number.isFinite((l as LoraOption).scale))
    && ((l as LoraOption).runtime === undefined || typeof (l as LoraOption).runtime === 'boolean'));
  return ok ? undefined : 'must be an array of { path: string, scale?: finite number, runtime?: boolean }';
};

/** `PATH` or `PATH:SCALE` (the last ':' followed by a number), paths resolved against `cwd`. */
export function parseLoraFlag(text: string, cwd: string, command: string): LoraOption {
  const at = text.lastIndexOf(':');
  const tail = at >= 0 ? text.slice(at + 1) : '';
  const isScale = at >= 0 && /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(tail);
  const path = isScale ? text.slice(0, at) : text;
  if (!path) throw new UsageError(`--lora '${text}': expected PATH or PATH:SCALE`, command);
  return { path: resolve(cwd, path), ...(isScale ? { scale: Number(tail) } : {}) };
}

/** The pipeline that merges `loras` (in order) and then runs `passes`. */
export function withLoraPipeline(passes: string | undefined, loras: readonly LoraOption[] | undefined): string | undefined {
  if (!loras?.length) return passes;
  const runtime = loras.filter((l) => l.runtime);
  const merged = loras.filter((l) => !l.runtime).map((l) => `lora-merge{adapter=${JSON.stringify(resolve(l.path))},scale=${l.scale ?? 1}}`);
  const attached = runtime.map((l, i) => `lora-attach{adapter=${JSON.stringify(resolve(l.path))},slot=${i},slots=${runtime.length}}`);
  const steps = [...merged, ...attached].join(',');
  return !passes || passes === 'none' ? steps : `${steps},${passes}`;
}

/** Reads each adapter and checks that it fits `base` (an AdapterError names the file and tensor). */
export function checkLoras(loras: readonly LoraOption[] | undefined, base: ModelSource): LoraAdapter[] {
  return (loras ?? []).map((l) => {
    const adapter = openLoraAdapter(resolve(l.path));
    checkAdapterFits(adapter, base);
    return adapter;
  });
}

/** What the lora-merge pass needs: each target's factors as leaves the model source resolves. */
export function mergeTable(adapter: LoraAdapter): LoraMergeAdapter {
  const typeOf = (name: string) => {
    const info = adapter.store.info(name);
    if (!isDType(info.dtype)) throw new AdapterError(adapter.path, `tensor "${name}" has type ${info.dtype}, which is not supported for LoRA factors`);
    return { dtype: info.dtype, shape: info.shape };
  };
  return {
    name: adapter.path,
    targets: adapter.targets.map((t) => ({
      tensor: t.tensor,
      a: adapterLeaf(adapter.path, t.a),
      b: adapterLeaf(adapter.path, t.b),
      aType: typeOf(t.a),
      bType: typeOf(t.b),
      factor: t.factor,
    })),
  };
}

setLoraAdapterReader((path) => mergeTable(openLoraAdapter(path)));

/** What `tessera info --lora` prints: format, ranks, alpha and the adapted tensors. */
export interface AdapterInfo {
  readonly path: string;
  readonly format: LoraAdapter['format'];
  readonly architecture?: string;
  readonly baseModel?: string;
  readonly ranks: readonly number[];
  readonly alpha: number;
  readonly rsLora: boolean;
  readonly targets: readonly { readonly tensor: string; readonly rank: number; readonly alpha: number; readonly factor: number }[];
}

export function describeAdapter(adapter: LoraAdapter): AdapterInfo {
  return {
    path: adapter.path,
    format: adapter.format,
    ...(adapter.architecture ? { architecture: adapter.architecture } : {}),
    ...(adapter.baseModel ? { baseModel: adapter.baseModel } : {}),
    ranks: [...new Set(adapter.targets.map((t) => t.rank))].sort((a, b) => a - b),
    alpha: adapter.alpha,
    rsLora: adapter.rsLora,
    targets: adapter.targets.map((t) => ({ tensor: t.tensor, rank: t.rank, alpha: t.alpha, factor: t.factor })),
  };
}

export function formatAdapterInfo(info: AdapterInfo): string {
  const kinds = [...new Set(info.targets.map((t) => t.tensor.replace(/^(?:.*\.)?(?:layers|blk|h)\.\d+\./, '')))];
  return [
    `adapter ${info.path}`,
    `  format:    ${info.format === 'peft' ? 'PEFT (Hugging Face)' : 'GGUF (llama.cpp)'}${info.architecture ? `, for ${info.architecture}` : ''}${info.baseModel ? `, base ${info.baseModel}` : ''}`,
    `  rank:      ${info.ranks.join(', ')}`,
    `  alpha:     ${info.alpha}${info.rsLora ? ' (rsLoRA: alpha/√r)' : ''}`,
    `  targets:   ${info.targets.length} tensors: ${kinds.join(', ')}`,
    ...info.targets.map((t) => `    ${t.tensor}  r=${t.rank} alpha=${t.alpha} factor=${+t.factor.toPrecision(6)}`),
    '',
  ].join('\n');
}
