// What Model.chat() keeps between turns: the chat template (the model's own, or one given as
// text) and the token ids whose keys are in the KV cache, so that a turn which extends the last
// conversation prefills only its new tokens. Node and the browser alike: the tokenizer's chat
// files come from a folder (session.ts) or an artifact's fetched files (src/web/).
import { type ChatFiles, chatSpecialsIn, chatTemplateIn, ChatTemplateError, promptSpecialsIn } from '../../models/chat/chat-files.js';
import type { Tokenizer } from '../../models/tokenizers/tokenizer.js';
import type { Executor } from '../../runtime/executor.js';
import type { GeneratedToken, GenerateParams, GenerationStats } from '../../runtime/generate.js';
import type { ChatMessage } from './messages.js';
import { encodeChatPrompt } from './prompt.js';
import { ChatTemplate } from './template.js';

export interface ChatOptions extends GenerateParams {
  /** A Jinja chat template (its text) to use instead of the model's own. */
  readonly chatTemplate?: string;
}

/** A model that has no chat template of its own and was given none. */
export class MissingChatTemplateError extends ChatTemplateError {}

export class ChatTurns {
  private own?: ChatTemplate;
  private given?: ChatTemplate;
  private specials?: ReadonlyMap<string, number>;
  /** Ids whose keys the executor's cache holds, in order; empty when unknown. */
  private cached: readonly number[] = [];

  private files?: ChatFiles;

  /** `path` names the model in messages; `chatFiles` is read on first use. */
  constructor(private readonly path: string, private readonly chatFiles: () => ChatFiles, private readonly tokenizer: () => Tokenizer) {}

  private read(): ChatFiles {
    this.files ??= this.chatFiles();
    return this.files;
  }

  /** The template a turn uses: `text` when given, else the model's own (MissingChatTemplateError without one). */
  template(text?: string): ChatTemplate {
    if (text !== undefined) {
      if (this.given?.source.text !== text) this.given = new ChatTemplate({ text, origin: 'the given chat template', specials: chatSpecialsIn(this.read()) });
      return this.given;
    }
    if (!this.own) {
      const found = chatTemplateIn(this.read());
      if (!found) {
        throw new MissingChatTemplateError(
          `${this.path}: the model has no chat template (none in tokenizer_config.json, chat_template.jinja or the GGUF's tokenizer.chat_template); ` +
            'give one with --chat-template FILE (API: chat(messages, { chatTemplate: text }))',
        );
      }
      this.own = new ChatTemplate(found);
    }
    return this.own;
  }

  /** The conversation rendered and encoded, ending with the assistant's header. */
  promptIds(messages: readonly ChatMessage[], templateText?: string): number[] {
    const text = this.template(templateText).render(messages, { addGenerationPrompt: true });
    this.specials ??= promptSpecialsIn(this.read());
    return encodeChatPrompt(this.tokenizer(), text, this.specials);
  }

  /** The cache no longer holds what we recorded (generate() or logits() reset it). */
  forget(): void {
    this.cached = [];
  }

  /** How many leading ids of `ids` the cache holds (read by the turn when it starts, before run() records anew). */
  reusable(ids: readonly number[], position: number): number {
    const held = Math.min(this.cached.length, position);
    let n = 0;
    while (n < held && n < ids.length && this.cached[n] === ids[n]) n++;
    return n;
  }

  /**
   * Passes a turn's tokens through, recording the ids the cache holds when it ends: the prompt
   * and the generated tokens up to the executor's position. A stream that fails leaves nothing
   * recorded, so the next turn starts from an empty cache.
   */
  async *run(executor: Executor, promptIds: readonly number[], inner: AsyncGenerator<GeneratedToken, GenerationStats>): AsyncGenerator<GeneratedToken, GenerationStats> {
    const seen = [...promptIds];
    let ok = false;
    let failed = false;
    try {
      for (;;) {
        const r = await inner.next();
        if (r.done) {
          ok = true;
          return r.value;
        }
        if (r.value.id >= 0) seen.push(r.value.id);
        yield r.value;
      }
    } catch (e) {
      failed = true;
      throw e;
    } finally {
      // Left early (return() or break): the cache still holds what was computed so far.
      if (!ok && !failed) await inner.return(undefined as never);
      this.cached = failed ? [] : seen.slice(0, executor.position);
    }
  }
}
