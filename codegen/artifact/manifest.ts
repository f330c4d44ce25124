// The compiled artifact's manifest: everything the runtime needs to run a model without the
// compiler (final IR, weight table, memory plan, launch lists), plus checksums and a version.
import { ModelFormatError } from '../../ir/errors.js';
import type { GraphJSON } from '../../ir/json.js';
import type { BindingRef } from '../kernel.js';
import type { WasmTargetData } from '../wasm/serialize.js';

export const ARTIFACT_FORMAT = 'tessera-artifact';
// 2: WGSL kernels may bind row ranges of a split weight (`rows` on an operand binding), and the
// CPU module may use relaxed SIMD (`features`); a version-1 reader would bind whole weights.
// 3: CPU kernels may bind a work `counter`, and a node's scratch is only its own during its
// launches (runtimes lay every node's scratch over one region).
// 4: a WebGPU program stores its step-dims kernel (`dims`: symbols, table, WGSL file), which the
// runtime used to generate when loading.
// 5: graphs are stored in their JSON form (ir/json.ts), read without the text IR parser.
// 6: manifest.sha256 holds the manifest's checksum, and the manifest is checked against a schema on
// load (validate.ts); a version-5 reader would trust an edited manifest.
export const ARTIFACT_VERSION = 6;
export const MANIFEST_FILE = 'manifest.json';
export const WEIGHTS_FILE = 'weights.bin';
/** Weights start on this boundary in weights.bin (any SIMD load or GPU copy can use them in place). */
export const WEIGHT_ALIGN = 256;

export interface WeightEntry {
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly offset: number;
  readonly bytes: number;
  /** The weight source it was made from (for people: how merged, folded or quantized). */
  readonly source: string;
}

export interface StorageData {
  readonly id: number;
  readonly role: string;
  /** The owning value's name. */
  readonly owner: string;
  /** Bytes as a dim expression of the symbols. */
  readonly bytes: string;
  readonly maxBytes: number;
  readonly offset?: number;
  readonly firstDef: number;
  readonly lastUse: number;
  /** Role 'tail': the state storage whose new rows this is. */
  readonly tailOf?: number;
}

export interface PlanData {
  readonly bounds: Readonly<Record<string, number>>;
  readonly arenaBytes: number;
  readonly peakActivationBytes: string;
  readonly unsharedActivationBytes: number;
  readonly storages: readonly StorageData[];
  /** Value name → storage id, for every value of the graph. */
  readonly storageOf: Readonly<Record<string, number>>;
}

export interface WgslKernelData {
  readonly key: string;
  /** Relative path of the .wgsl file. */
  readonly file: string;
  readonly entryPoint: string;
  readonly label: string;
  /** Scratch sizes are dim expressions as text. */
  readonly bindings: readonly (Exclude<BindingRef, { kind: 'scratch' }> | { readonly kind: 'scratch'; readonly id: number; readonly bytes: string })[];
  readonly uniformDims: readonly string[];
  readonly grid: readonly [string, string, string];
  readonly when?: { readonly dim: string; readonly min?: number; readonly max?: number };
}

export interface WgslProgramData {
  readonly plan: PlanData;
  /** One entry per graph node, in node order. */
  readonly nodes: readonly { readonly kernels: readonly WgslKernelData[]; readonly aliasOf?: number }[];
  /** The step-dims kernel: its key, the symbols buffer's order, the distinct dims (as text) and its .wgsl file. */
  readonly dims: { readonly key: string; readonly symbols: readonly string[]; readonly table: readonly string[]; readonly file: string };
}

export interface ArtifactManifest {
  readonly format: typeof ARTIFACT_FORMAT;
  readonly version: number;
  readonly tessera: string;
  readonly created: string;
  readonly model: {
    readonly source: string;
    readonly sourceFormat: string;
    /** The normalized ModelConfig. */
    readonly config: Record<string, unknown>;
  };
  /** `file` is what to load; `files` holds it and its companions (tokenizer_config.json) with checksums. */
  readonly tokenizer?: { readonly file: string; readonly files: Readonly<Record<string, string>> };
  readonly passes: string;
  /** Final IR of each step graph, in its JSON form: decoders have `last` and `all`, encoders `batch`. */
  readonly graphs: Readonly<Record<string, GraphJSON>>;
  readonly weights: {
    readonly file: string;
    readonly bytes: number;
    readonly sha256: string;
    readonly tensors: Readonly<Record<string, WeightEntry>>;
  };
  readonly targets: {
    readonly webgpu?: { readonly programs: Readonly<Record<string, WgslProgramData>>; readonly files: Readonly<Record<string, string>> };
    readonly wasm?: WasmTargetData;
  };
}

/** A stale, truncated, tampered or foreign artifact. The message says which file and what. */
export class ArtifactError extends ModelFormatError {
  constructor(readonly dir: string, message: string) {
    super(`${dir}: ${message}`);
    this.name = 'ArtifactError';
  }
}
