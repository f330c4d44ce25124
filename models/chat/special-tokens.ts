// Special tokens written as text in a rendered chat prompt ("<|im_start|>user…") must become
// their ids, as llama.cpp does when it tokenizes with parse_special. The HF tokenizer library does
// this itself (tokenizer.json's added_tokens); GGUF tokenizers get the control and user-defined
// entries of the vocabulary here, and the prompt is split on them (src/chat/prompt.ts).
import { GgufStore, openGguf } from '../formats/gguf.js';
import type { ModelSource } from '../open.js';
import { TokenType } from '../tokenizers/spm.js';
import { isGgufFile } from './template-source.js';

/** Text → id of the tokens a prompt's text stands for; empty when the tokenizer handles them itself. */
export function promptSpecialTokens(source: ModelSource): ReadonlyMap<string, number> {
  const tok = source.tokenizerPath;
  const out = new Map<string, number>();
  if (tok === undefined || !isGgufFile(tok)) return out;
  const meta = tok === source.path && source.store instanceof GgufStore ? source.store.metadata : openGguf(tok).metadata;
  const tokens = meta.getStrings('tokenizer.ggml.tokens') ?? [];
  const types = meta.getNumbers('tokenizer.ggml.token_type');
  if (!types) return out;
  for (let id = 0; id < tokens.length; id++) {
    if ((types[id] === TokenType.control || types[id] === TokenType.userDefined) && tokens[id].length > 0 && !out.has(tokens[id])) out.set(tokens[id], id);
  }
  return out;
}
