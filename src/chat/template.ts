// A chat template rendered as transformers' apply_chat_template does: Jinja with trim_blocks and
// lstrip_blocks (@huggingface/jinja, which transformers.js uses), the messages, the tokenizer's
// special-token texts (bos_token, eos_token, …) and add_generation_prompt.
import { Template } from '@huggingface/jinja';
import { InputError } from '../../ir/errors.js';
import { ChatTemplateError, type ChatTemplateSource } from '../../models/chat/chat-files.js';
import { type ChatMessage, checkMessages, flattenContent } from './messages.js';

export interface RenderOptions {
  /** End with the header that starts the assistant's turn (default true). */
  readonly addGenerationPrompt?: boolean;
}

export class ChatTemplate {
  private readonly template: Template;

  /** Parses the template now: a syntax error is a ChatTemplateError naming where it came from. */
  constructor(readonly source: ChatTemplateSource) {
    try {
      this.template = new Template(source.text);
    } catch (e) {
      throw new ChatTemplateError(`${source.origin}: not a valid Jinja template: ${(e as Error).message}`);
    }
  }

  /** The prompt text. Messages are checked first (InputError naming the message and field). */
  render(messages: readonly ChatMessage[], opts: RenderOptions = {}): string {
    const checked = checkMessages(messages).map(flattenContent);
    try {
      return this.template.render({
        ...this.source.specials,
        messages: checked,
        add_generation_prompt: opts.addGenerationPrompt ?? true,
      });
    } catch (e) {
      // raise_exception() in a template is how it refuses a conversation (roles not alternating …).
      throw new InputError(`${this.source.origin}: the chat template refused the messages: ${(e as Error).message}`);
    }
  }
}
