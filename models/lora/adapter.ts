// What a LoRA adapter is once read, whatever file it came from: for each checkpoint tensor it
// adapts (named as the base model's file names it), the two factors A [r, in] and B [out, r] and
// the factor its update is scaled by (alpha/r, alpha/√r for rsLoRA, per module when the adapter
// says so). The merged weight is W + scale · factor · B · A (passes/lora-merge.ts).
import { ModelFormatError } from '../../ir/errors.js';
import type { TensorStore } from '../formats/store.js';

export type AdapterFormat = 'peft' | 'gguf';

export interface LoraTarget {
  /** The base model's checkpoint tensor the update is added to (e.g. `blk.0.attn_q.weight`). */
  readonly tensor: string;
  /** The adapter's own tensor names for A [r, in] and B [out, r]. */
  readonly a: string;
  readonly b: string;
  readonly aShape: readonly [number, number];
  readonly bShape: readonly [number, number];
  readonly rank: number;
  readonly alpha: number;
  /** What B·A is multiplied by before the user's scale. */
  readonly factor: number;
}

export interface LoraAdapter {
  /** The file holding the factors (adapter_model.safetensors, or the .gguf). */
  readonly path: string;
  readonly format: AdapterFormat;
  /** GGUF: general.architecture, the llama.cpp architecture it was made for. */
  readonly architecture?: string;
  /** PEFT: base_model_name_or_path, when given (informational). */
  readonly baseModel?: string;
  /** The rank and alpha the adapter declares (targets may override them per module). */
  readonly rank?: number;
  readonly alpha: number;
  readonly rsLora: boolean;
  readonly targets: readonly LoraTarget[];
  readonly store: TensorStore;
}

/** An adapter that cannot be read, or that does not fit the base model it is applied to. */
export class AdapterError extends ModelFormatError {
  constructor(readonly file: string, readonly detail: string) {
    super(`${file}: ${detail}`);
  }
}

const LEAF_PREFIX = 'lora:';

/**
 * How a weight expression names an adapter's tensor: `lora:<file>#<tensor>`. Model sources resolve
 * these names (withAdapterLeaves), so a merged weight reads its factors like any checkpoint tensor.
 */
export function adapterLeaf(file: string, tensor: string): string {
  return `${LEAF_PREFIX}${file}#${tensor}`;
}

/** The file and tensor an adapter leaf names, or undefined for a base-model tensor. */
export function parseAdapterLeaf(name: string): { readonly file: string; readonly tensor: string } | undefined {
  if (!name.startsWith(LEAF_PREFIX)) return undefined;
  const at = name.lastIndexOf('#');
  if (at < LEAF_PREFIX.length) return undefined;
  return { file: name.slice(LEAF_PREFIX.length, at), tensor: name.slice(at + 1) };
}

/** The LoRA scaling factor: alpha/r, or alpha/√r with rank-stabilized LoRA. */
export function loraFactor(alpha: number, rank: number, rsLora: boolean): number {
  return rsLora ? alpha / Math.sqrt(rank) : alpha / rank;
}
