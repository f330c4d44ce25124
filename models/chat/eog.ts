// End-of-generation tokens: every id at which a model's turn is over. The config's EOS ids are
// not enough for instruct models, which end a turn with another token (Llama-3 <|eot_id|>,
// ChatML <|im_end|>, Gemma <end_of_turn>). Collected, as llama.cpp and transformers do, from the
// config, generation_config.json's eos_token_id (a number or a list), the GGUF ids
// (eos/eot/eom), and the vocabulary entries of the well-known end-of-turn tokens.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { GgufStore, openGguf } from '../formats/gguf.js';
import type { ModelSource } from '../open.js';
import type { Tokenizer } from '../tokenizers/tokenizer.js';
import { isGgufFile } from './template-source.js';

/** Texts of tokens that end a turn in the families we know (one row per convention). */
export const END_OF_TURN_TEXTS: readonly string[] = [
  '<|eot_id|>', // Llama-3
  '<|eom_id|>', // Llama-3.1 tool calls
  '<|im_end|>', // ChatML: Qwen, Yi, SmolLM …
  '<|endoftext|>', // GPT-2, Qwen base
  '<end_of_turn>', // Gemma
  '<|end|>', // Phi-3
  '<|end_of_text|>', // Llama-3 base
  '</s>', // Llama-2, Mistral
];

/** What is read of the tokenizer. */
export type EogVocabulary = Pick<Tokenizer, 'vocabSize' | 'eosId' | 'tokenText'>;

const GGUF_EOG_KEYS = ['tokenizer.ggml.eos_token_id', 'tokenizer.ggml.eot_token_id', 'tokenizer.ggml.eom_token_id'];

/** The model's end-of-generation ids, sorted, each once. */
export function endOfGenerationIds(source: ModelSource, tokenizer: EogVocabulary | undefined): number[] {
  const ids = new Set<number>(source.config.eosIds);
  // llama2.c's run.c stops at BOS only; its tokenizer's EOS is not an end there (also when a
  // compiled artifact carries a llama2.c tokenizer.bin).
  if (source.format === 'llama2c' || isLlama2cTokenizer(source.tokenizerPath)) return [...ids];
  if (tokenizer?.eosId !== undefined) ids.add(tokenizer.eosId);
  for (const id of generationConfigEos(source)) ids.add(id);
  for (const id of ggufEog(source)) ids.add(id);
  if (tokenizer) for (const id of vocabularyEog(tokenizer)) ids.add(id);
  return [...ids].filter((id) => Number.isInteger(id) && id >= 0 && id < source.config.vocabSize).sort((a, b) => a - b);
}

/** A tokenizer file that is neither tokenizer.json nor a GGUF: llama2.c's tokenizer.bin. */
function isLlama2cTokenizer(path: string | undefined): boolean {
  return path !== undefined && !path.endsWith('.json') && !isGgufFile(path);
}

/** HF generation_config.json → eos_token_id, which may list several ids (Llama-3 instruct). */
function generationConfigEos(source: ModelSource): number[] {
  const dirs = [source.path, source.tokenizerPath === undefined ? undefined : dirname(source.tokenizerPath)];
  for (const dir of dirs) {
    if (dir === undefined) continue;
    const path = join(dir, 'generation_config.json');
    if (!existsSync(path)) continue;
    try {
      const v = (JSON.parse(readFileSync(path, 'utf8')) as { eos_token_id?: unknown }).eos_token_id;
      return (Array.isArray(v) ? v : [v]).filter((x): x is number => typeof x === 'number');
    } catch {
      return []; // a generation config we cannot read only costs its extra stop ids
    }
  }
  return [];
}

function ggufEog(source: ModelSource): number[] {
  const tok = source.tokenizerPath;
  if (tok === undefined || !isGgufFile(tok)) return [];
  const meta = tok === source.path && source.store instanceof GgufStore ? source.store.metadata : openGguf(tok).metadata;
  return GGUF_EOG_KEYS.map((k) => meta.getNumber(k)).filter((v): v is number => v !== undefined && v >= 0);
}

/** Ids whose vocabulary entry is one of END_OF_TURN_TEXTS. */
function vocabularyEog(tokenizer: EogVocabulary): number[] {
  const wanted = new Set(END_OF_TURN_TEXTS);
  const found: number[] = [];
  for (let id = 0; id < tokenizer.vocabSize; id++) if (wanted.has(tokenizer.tokenText(id))) found.push(id);
  return found;
}
