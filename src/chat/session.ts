// Model.chat()'s turns (turns.ts) for a model on disk: its tokenizer's chat files read from its folder.
import { chatFilesOf } from '../../models/chat/template-source.js';
import type { ModelSource } from '../../models/open.js';
import type { Tokenizer } from '../../models/tokenizers/tokenizer.js';
import { ChatTurns } from './turns.js';

export { type ChatOptions, MissingChatTemplateError } from './turns.js';

export class ChatSession extends ChatTurns {
  constructor(source: ModelSource, tokenizer: () => Tokenizer) {
    super(source.path, () => chatFilesOf(source), tokenizer);
  }
}
