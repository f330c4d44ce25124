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
import { OptionError, type OptionRule } from '../runtime/options.js';
import type { Value } from '../ir/graph.js';
import { tensor } from '../ir/tensor.js';
import { LORA_SCALES_LEAF } from '../passes/lora-attach.js';
import type { ParamResolver } from '../runtime/reference/interpreter.js';

/**
 * The scales of the run-time adapters (%lora.scales, one per lora option entry with runtime: true,
 * in their order): what every backend reads. The reference interpreter resolves them every step;
 * wasm and webgpu keep a copy next to the weights, which `activate` overwrites in place (16 bytes
 * for four adapters): no recompiling, the base weights untouched.
 */
export class LoraScales {
  /** What setLoraScales (or the lora option) chose: a request without `lora` runs with these. */
  private defaults: Float32Array;
  /** What the backend holds now. */
  private active: Float32Array;
  private readonly rewrites: ((bytes: Uint8Array) => void)[] = [];

  constructor(loras: readonly LoraOption[] | undefined) {
    this.defaults = Float32Array.from((loras ?? []).filter((l) => l.runtime), (l) => l.scale ?? 1);
    this.active = this.defaults.slice();
  }

  get length(): number {
    return this.defaults.length;
  }

  /** A copy of the scales a request without its own `lora` runs with. */
  defaultScales(): Float32Array {
    return this.defaults.slice();
  }

  /** The scales later requests run with unless they name their own. */
  setDefaults(scales: Float32Array): void {
    this.defaults = scales.slice();
  }

  /**
   * Makes the backend run with `scales` (the defaults when undefined) from its next step on;
   * true when they differ from the last ones (a KV cache filled before is then stale).
   */
  activate(scales: Float32Array = this.defaults): boolean {
    if (scales.length === this.active.length && scales.every((s, i) => Object.is(s, this.active[i]))) return false;
    this.active = scales.slice();
    const bytes = new Uint8Array(this.active.buffer.slice(0));
    for (const rewrite of this.rewrites) rewrite(bytes);
    return true;
  }

  /**
   * Resolves %lora.scales (lora-attach) to the active scales and every other weight through
   * `base`; every copy a runtime places (each executor's) is rewritten by `activate`.
   */
  resolver(base: ParamResolver): ParamResolver {
    const isScales = (p: Value) => p.def.kind === 'param' && p.def.source.kind === 'tensor' && p.def.source.name === LORA_SCALES_LEAF;
    const resolve: ParamResolver = (p) => (isScales(p) ? tensor('f32', [this.active.length], this.active.slice()) : base(p));
    if (base.streamer) resolve.streamer = (p) => (isScales(p) ? undefined : base.streamer!(p));
    resolve.placed = (p, rewrite) => {
      if (isScales(p)) this.rewrites.push(rewrite);
      else base.placed?.(p, rewrite);
    };
    return resolve;
  }
}

/** The per-request option of generate and chat (and the server's `lora` field). */
export interface LoraParams {
  /**
   * The run-time adapters this request runs with, each by its index among them or its `id`, at
   * its scale; the others are off. Absent: the model's current scales (setLoraScales).
   */
  readonly lora?: readonly LoraRequest[];
}

/** One adapter of a request: which run-time adapter (its index among them, or its id) at what scale. */
export interface LoraRequest {
  readonly id: number | string;
  readonly scale: number;
}

/**
 * A request's scales: the named adapters at their scales, every other run-time adapter off (as
 * llama.cpp's server does). `loras` is the lora load option; ids are an adapter's index among the
 * run-time ones or its `id`.
 */
export function requestScales(loras: readonly LoraOption[] | undefined, request: readonly LoraRequest[], where: string): Float32Array {
  const runtime = (loras ?? []).filter((l) => l.runtime);
  if (!Array.isArray(request)) throw new OptionError('lora', `${where}: lora must be an array of { id, scale }`);
  const scales = new Float32Array(runtime.length);
  const known = () => (runtime.length ? runtime.map((l, i) => (l.id !== undefined ? `${i} (${l.id})` : String(i))).join(', ') : 'none: load the model with lora entries that have runtime: true');
  for (const [i, r] of request.entries()) {
    if (typeof r !== 'object' || r === null || !Number.isFinite(r.scale)) throw new OptionError('lora', `${where}: lora[${i}] must be { id, scale } with a finite scale`);
    const at = typeof r.id === 'number' ? (Number.isInteger(r.id) && r.id >= 0 && r.id < runtime.length ? r.id : -1) : runtime.findIndex((l) => l.id === r.id);
    if (at < 0) throw new OptionError('lora', `${where}: lora[${i}].id ${JSON.stringify(r.id)} names no run-time adapter of this model (known: ${known()})`);
    scales[at] = r.scale;
  }
  return scales;
}

export interface LoraOption {
  /** A PEFT adapter folder, or a llama.cpp GGUF LoRA adapter. */
  readonly path: string;
  /** How much of the update to add (default 1; 0 adds nothing, negative subtracts). */
  readonly scale?: number;
  /**
   * Apply at run time instead of merging: the base weights stay as they are and the adapter's
   * scale can change between requests (Model.setLoraScales, or a request's `lora`).
   */
  readonly runtime?: boolean;
  /** The name requests may use for a run-time adapter (besides its index among them). */
  readonly id?: string;
}

export const loraRule: OptionRule<unknown> = (v) => {
  const ok = Array.isArray(v) && v.every((l) => typeof l === 'object' && l !== null && typeof (l as LoraOption).path === 'string'
    && ((l as LoraOption).scale === undefined || Number.isFinite((l as LoraOption).scale))
    && ((l as LoraOption).runtime === undefined || typeof (l as LoraOption).runtime === 'boolean')
    && ((l as LoraOption).id === undefined || typeof (l as LoraOption).id === 'string'));
  return ok ? undefined : 'must be an array of { path: string, scale?: finite number, runtime?: boolean, id?: string }';
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
