// End-of-generation tokens of a model on disk: every id at which a model's turn is over. The
// config's EOS ids are not enough for instruct models, which end a turn with another token
// (Llama-3 <|eot_id|>, ChatML <|im_end|>, Gemma <end_of_turn>); chat-files.ts collects them from
// what is read here: generation_config.json, the GGUF's metadata, the vocabulary.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { GgufStore, openGguf } from '../formats/gguf.js';
import type { ModelSource } from '../open.js';
import { endOfGenerationIdsFrom, type EogVocabulary } from './chat-files.js';
import { isGgufFile } from './template-source.js';

export { END_OF_TURN_TEXTS, type EogVocabulary } from './chat-files.js';

/** The model's end-of-generation ids, sorted, each once. */
export function endOfGenerationIds(source: ModelSource, tokenizer: EogVocabulary | undefined): number[] {
  const tok = source.tokenizerPath;
  const gguf = tok !== undefined && isGgufFile(tok);
  return endOfGenerationIdsFrom({
    config: source.config,
    // Also when a compiled artifact carries a llama2.c tokenizer.bin.
    llama2c: source.format === 'llama2c' || (tok !== undefined && !tok.endsWith('.json') && !gguf),
    generationConfig: generationConfigText(source),
    gguf: gguf ? (tok === source.path && source.store instanceof GgufStore ? source.store.metadata : openGguf(tok).metadata) : undefined,
    tokenizer,
  });
}

/** HF generation_config.json beside the model, else beside its tokenizer. */
function generationConfigText(source: ModelSource): string | undefined {
  const dirs = [source.path, source.tokenizerPath === undefined ? undefined : dirname(source.tokenizerPath)];
  for (const dir of dirs) {
    if (dir === undefined) continue;
    const path = join(dir, 'generation_config.json');
    if (existsSync(path)) return readFileSync(path, 'utf8');
  }
  return undefined;
}
