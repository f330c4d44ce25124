// The family table: one row per architecture family, in the order error messages list them.
// A new family is a row here (see docs/ARCHITECTURE.md, "Adding an architecture").
import { BERT, GPT2 } from './learned-positions.js';
import { GEMMA, GEMMA2, LLAMA, MISTRAL, PHI3, QWEN2, QWEN3 } from './rope-decoders.js';
import type { FamilyTraits } from './traits.js';

export const FAMILY_TABLE = {
  llama: LLAMA,
  mistral: MISTRAL,
  qwen2: QWEN2,
  qwen3: QWEN3,
  phi3: PHI3,
  gemma: GEMMA,
  gemma2: GEMMA2,
  gpt2: GPT2,
  bert: BERT,
} as const satisfies Record<string, FamilyTraits>;

export type Family = keyof typeof FAMILY_TABLE;

export const SUPPORTED_FAMILIES = Object.keys(FAMILY_TABLE) as readonly Family[];

export function familyTraits(family: Family): FamilyTraits {
  return FAMILY_TABLE[family];
}

/** The family whose transformers config class has this model_type. */
export function familyOfHfModelType(modelType: string): Family | undefined {
  return SUPPORTED_FAMILIES.find((f) => FAMILY_TABLE[f].hf.modelType === modelType);
}

/** The family llama.cpp writes under this general.architecture. */
export function familyOfGgufArchitecture(architecture: string): Family | undefined {
  return SUPPORTED_FAMILIES.find((f) => FAMILY_TABLE[f].gguf.architecture === architecture);
}
