// Where a model keeps its chat template, and the special-token texts the template may name.
// HF: `chat_template.jinja` beside the tokenizer, else `tokenizer_config.json` → `chat_template`
// (a string, or a list of `{ name, template }` of which "default" is used unless one is named).
// GGUF: `tokenizer.chat_template` (named ones: `tokenizer.chat_template.<name>`). The tokenizer's
// folder is searched, so a compiled artifact, which keeps tokenizer_config.json beside
// tokenizer.json, is read the same way.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ModelFormatError } from '../../ir/errors.js';
import type { GgufMetadata } from '../formats/gguf-metadata.js';
import { GGUF_MAGIC, GgufStore, openGguf } from '../formats/gguf.js';
import { FileSource } from '../formats/source.js';
import type { ModelSource } from '../open.js';

/** A chat template that cannot be found, read or rendered; the message names where it came from. */
export class ChatTemplateError extends ModelFormatError {}

export interface ChatTemplateSource {
  /** The Jinja text. */
  readonly text: string;
  /** Where it came from, for messages, e.g. "…/tokenizer_config.json chat_template". */
  readonly origin: string;
  /**
   * The tokenizer's special-token texts by HF's names (bos_token, eos_token, unk_token,
   * pad_token), which HF hands to every template.
   */
  readonly specials: Readonly<Record<string, string>>;
}

/** The model's own template (undefined when it has none); `name` picks a named one. */
export function findChatTemplate(source: ModelSource, name?: string): ChatTemplateSource | undefined {
  const tok = source.tokenizerPath;
  if (tok !== undefined && isGgufFile(tok)) return ggufTemplate(tok === source.path && source.store instanceof GgufStore ? source.store.metadata : openGguf(tok).metadata, name);
  const dir = tok !== undefined && tok.endsWith('.json') ? dirname(tok) : isDir(source.path) ? source.path : undefined;
  return dir === undefined ? undefined : hfTemplate(dir, name);
}

/** The special-token texts for a model whose template is supplied separately (--chat-template). */
export function tokenizerSpecials(source: ModelSource): Readonly<Record<string, string>> {
  const tok = source.tokenizerPath;
  if (tok !== undefined && isGgufFile(tok)) return ggufSpecials(tok === source.path && source.store instanceof GgufStore ? source.store.metadata : openGguf(tok).metadata);
  const dir = tok !== undefined && tok.endsWith('.json') ? dirname(tok) : isDir(source.path) ? source.path : undefined;
  const configPath = dir === undefined ? undefined : join(dir, 'tokenizer_config.json');
  return configPath !== undefined && existsSync(configPath) ? hfSpecials(readJsonObject(configPath)) : {};
}

function hfTemplate(dir: string, name: string | undefined): ChatTemplateSource | undefined {
  const configPath = join(dir, 'tokenizer_config.json');
  const config = existsSync(configPath) ? readJsonObject(configPath) : {};
  const specials = hfSpecials(config);
  const jinjaPath = join(dir, 'chat_template.jinja');
  if (existsSync(jinjaPath) && name === undefined) return { text: readFileSync(jinjaPath, 'utf8'), origin: jinjaPath, specials };
  const t = config.chat_template;
  if (t === undefined || t === null) {
    if (name !== undefined) throw new ChatTemplateError(`${configPath}: no chat template named "${name}" (the file has no chat_template)`);
    return undefined;
  }
  const origin = `${configPath} chat_template`;
  if (typeof t === 'string') {
    if (name !== undefined && name !== 'default') throw new ChatTemplateError(`${origin}: there is one unnamed template, not one named "${name}"`);
    return { text: t, origin, specials };
  }
  if (!Array.isArray(t)) throw new ChatTemplateError(`${origin} must be a string or a list of { "name", "template" } objects`);
  const named = new Map<string, string>();
  t.forEach((entry: unknown, i) => {
    const e = entry as { name?: unknown; template?: unknown } | null;
    if (typeof e?.name !== 'string' || typeof e.template !== 'string') throw new ChatTemplateError(`${origin}[${i}] must be a { "name": string, "template": string } object`);
    named.set(e.name, e.template);
  });
  return pickNamed(named, name ?? 'default', origin, specials);
}

function ggufTemplate(meta: GgufMetadata, name: string | undefined): ChatTemplateSource | undefined {
  const specials = ggufSpecials(meta);
  const key = name === undefined || name === 'default' ? 'tokenizer.chat_template' : `tokenizer.chat_template.${name}`;
  const text = meta.getString(key);
  if (text !== undefined) return { text, origin: `${meta.file} ${key}`, specials };
  if (name === undefined) return undefined;
  const names = [...meta.keys()].filter((k) => k.startsWith('tokenizer.chat_template.')).map((k) => k.slice('tokenizer.chat_template.'.length));
  throw new ChatTemplateError(`${meta.file}: no chat template named "${name}" (named templates: ${names.join(', ') || 'none'})`);
}

function pickNamed(named: ReadonlyMap<string, string>, name: string, origin: string, specials: Readonly<Record<string, string>>): ChatTemplateSource {
  const text = named.get(name);
  if (text === undefined) throw new ChatTemplateError(`${origin}: no template named "${name}" (named templates: ${[...named.keys()].join(', ')}); pick one by name`);
  return { text, origin: `${origin} "${name}"`, specials };
}

const HF_SPECIAL_KEYS = ['bos_token', 'eos_token', 'unk_token', 'pad_token'] as const;

function hfSpecials(config: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of HF_SPECIAL_KEYS) {
    const v = config[key] as string | { content?: unknown } | null | undefined;
    const text = typeof v === 'string' ? v : typeof v?.content === 'string' ? v.content : undefined;
    if (text !== undefined) out[key] = text;
  }
  return out;
}

/** GGUF keeps ids; the texts are the vocabulary entries. */
const GGUF_SPECIAL_IDS: Readonly<Record<(typeof HF_SPECIAL_KEYS)[number], string>> = {
  bos_token: 'tokenizer.ggml.bos_token_id',
  eos_token: 'tokenizer.ggml.eos_token_id',
  unk_token: 'tokenizer.ggml.unknown_token_id',
  pad_token: 'tokenizer.ggml.padding_token_id',
};

function ggufSpecials(meta: GgufMetadata): Record<string, string> {
  const tokens = meta.getStrings('tokenizer.ggml.tokens') ?? [];
  const out: Record<string, string> = {};
  for (const [name, key] of Object.entries(GGUF_SPECIAL_IDS)) {
    const id = meta.getNumber(key);
    if (id !== undefined && id >= 0 && id < tokens.length) out[name] = tokens[id];
  }
  return out;
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

function readJsonObject(path: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new ChatTemplateError(`${path}: not valid JSON: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ChatTemplateError(`${path}: must hold a JSON object`);
  return v as Record<string, unknown>;
}
