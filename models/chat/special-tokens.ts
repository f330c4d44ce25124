// Special tokens written as text in a rendered chat prompt ("<|im_start|>user…") must become
// their ids, as llama.cpp does when it tokenizes with parse_special (chat-files.ts says which).
import type { ModelSource } from '../open.js';
import { promptSpecialsIn } from './chat-files.js';
import { chatFilesOf } from './template-source.js';

/** Text → id of the tokens a prompt's text stands for; empty when the tokenizer handles them itself. */
export function promptSpecialTokens(source: ModelSource): ReadonlyMap<string, number> {
  return promptSpecialsIn(chatFilesOf(source));
}
