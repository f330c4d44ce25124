// Chat messages as HF chat templates and the OpenAI API take them, checked before rendering.
import { InputError } from '../../ir/errors.js';

export interface ChatMessage {
  /** 'system', 'user', 'assistant', or any role the template knows ('tool', …). */
  readonly role: string;
  /** The text, or OpenAI-style parts of which the text parts are used. */
  readonly content: string | readonly ChatContentPart[];
}

export interface ChatContentPart {
  readonly type: string;
  readonly text?: string;
}

/** Throws an InputError naming `where`[i] and the field unless `value` is a list of messages. */
export function checkMessages(value: unknown, where = 'messages'): readonly ChatMessage[] {
  if (!Array.isArray(value)) throw new InputError(`${where} must be a list of { role, content } messages`);
  if (value.length === 0) throw new InputError(`${where} is empty; give at least one message`);
  value.forEach((m: unknown, i) => {
    const at = `${where}[${i}]`;
    if (typeof m !== 'object' || m === null || Array.isArray(m)) throw new InputError(`${at} must be an object { role, content }`);
    const { role, content } = m as Record<string, unknown>;
    if (typeof role !== 'string' || role === '') throw new InputError(`${at}.role must be a non-empty string (system, user, assistant …)`);
    if (typeof content === 'string') return;
    if (!Array.isArray(content)) throw new InputError(`${at}.content must be a string or a list of { type: "text", text } parts`);
    content.forEach((p: unknown, j) => {
      const part = p as { type?: unknown; text?: unknown } | null;
      if (part?.type !== 'text' || typeof part.text !== 'string') throw new InputError(`${at}.content[${j}] must be { "type": "text", "text": string } (only text is supported)`);
    });
  });
  return value as ChatMessage[];
}

/** The message as a template sees it: parts joined into one string. */
export function flattenContent(m: ChatMessage): { role: string; content: string } {
  const content = typeof m.content === 'string' ? m.content : m.content.map((p) => p.text ?? '').join('');
  return { ...m, role: m.role, content };
}
