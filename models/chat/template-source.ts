// Where a model keeps its chat template, and the special-token texts the template may name, read
// from files on disk (Node). HF: `chat_template.jinja` beside the tokenizer, else
// `tokenizer_config.json` → `chat_template` (a string, or a list of `{ name, template }` of which
// "default" is used unless one is named). GGUF: `tokenizer.chat_template` (named ones:
// `tokenizer.chat_template.<name>`). The tokenizer's folder is searched, so a compiled artifact,
// which keeps tokenizer_config.json beside tokenizer.json, is read the same way. What is read of
// the files is chat-files.ts, shared with the browser.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { GGUF_MAGIC, GgufStore, openGguf } from '../formats/gguf.js';
import { FileSource } from '../formats/source.js';
import type { ModelSource } from '../open.js';
import { type ChatFiles, chatSpecialsIn, chatTemplateIn, type ChatTemplateSource } from './chat-files.js';

export { ChatTemplateError, type ChatTemplateSource } from './chat-files.js';

/** The chat data of a model's tokenizer on disk: a GGUF's metadata, or the HF tokenizer's folder. */
export function chatFilesOf(source: ModelSource): ChatFiles {
  const tok = source.tokenizerPath;
  if (tok !== undefined && isGgufFile(tok)) return { kind: 'gguf', meta: tok === source.path && source.store instanceof GgufStore ? source.store.metadata : openGguf(tok).metadata };
  const dir = tok !== undefined && tok.endsWith('.json') ? dirname(tok) : isDir(source.path) ? source.path : undefined;
  if (dir === undefined) return { kind: 'none' };
  return { kind: 'hf', files: { where: (name) => join(dir, name), text: (name) => (existsSync(join(dir, name)) ? readFileSync(join(dir, name), 'utf8') : undefined) } };
}

/** The model's own template (undefined when it has none); `name` picks a named one. */
export function findChatTemplate(source: ModelSource, name?: string): ChatTemplateSource | undefined {
  return chatTemplateIn(chatFilesOf(source), name);
}

/** The special-token texts for a model whose template is supplied separately (--chat-template). */
export function tokenizerSpecials(source: ModelSource): Readonly<Record<string, string>> {
  return chatSpecialsIn(chatFilesOf(source));
}

export function isGgufFile(path: string): boolean {
  if (isDir(path) || !existsSync(path)) return false;
  const src = new FileSource(path);
  if (src.size < 4) return false;
  const head = src.read(0, 4, 'file start');
  return new DataView(head.buffer, head.byteOffset, 4).getUint32(0, true) === GGUF_MAGIC;
}

function isDir(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory();
}
