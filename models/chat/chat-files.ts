// What chat reads of a model's tokenizer files, wherever they are (a folder in Node, an artifact's
// fetched files in a browser): the chat template, the special-token texts a template may name, the
// special tokens a rendered prompt writes as text, and the end-of-generation ids. No file access
// here: template-source.ts (Node) and src/web/ (a browser) say how a file is read.
import { ModelFormatError } from '../../ir/errors.js';
import type { GgufMetadata } from '../formats/gguf-metadata.js';
import type { Tokenizer } from '../tokenizers/tokenizer.js';
import { TokenType } from '../tokenizers/spm.js';

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

/** The files beside an HF tokenizer.json, read as text (undefined: no such file). */
export interface TextFiles {
  text(name: string): string | undefined;
  /** The file's name as messages give it (its path or URL). */
  where(name: string): string;
}

/** A tokenizer's chat data: HF files beside tokenizer.json, a GGUF's metadata, or none (llama2.c). */
export type ChatFiles =
  | { readonly kind: 'hf'; readonly files: TextFiles }
  | { readonly kind: 'gguf'; readonly meta: GgufMetadata }
  | { readonly kind: 'none' };

/** The model's own template (undefined when it has none); `name` picks a named one. */
export function chatTemplateIn(files: ChatFiles, name?: string): ChatTemplateSource | undefined {
  if (files.kind === 'gguf') return ggufTemplate(files.meta, name);
  return files.kind === 'hf' ? hfTemplate(files.files, name) : undefined;
}

/** The special-token texts for a model whose template is supplied separately (--chat-template). */
export function chatSpecialsIn(files: ChatFiles): Readonly<Record<string, string>> {
  if (files.kind === 'gguf') return ggufSpecials(files.meta);
  if (files.kind === 'none') return {};
  const config = readJsonObject(files.files, 'tokenizer_config.json');
  return config ? hfSpecials(config) : {};
}

/**
 * Text → id of the tokens a rendered prompt writes as text; empty when the tokenizer handles them
 * itself (the HF tokenizer library does, from tokenizer.json's added_tokens). GGUF tokenizers get
 * the control and user-defined entries of the vocabulary (src/chat/prompt.ts splits on them).
 */
export function promptSpecialsIn(files: ChatFiles): ReadonlyMap<string, number> {
  const out = new Map<string, number>();
  if (files.kind !== 'gguf') return out;
  const tokens = files.meta.getStrings('tokenizer.ggml.tokens') ?? [];
  const types = files.meta.getNumbers('tokenizer.ggml.token_type');
  if (!types) return out;
  for (let id = 0; id < tokens.length; id++) {
    if ((types[id] === TokenType.control || types[id] === TokenType.userDefined) && tokens[id].length > 0 && !out.has(tokens[id])) out.set(tokens[id], id);
  }
  return out;
}

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

export interface EogInputs {
  readonly config: { readonly eosIds: readonly number[]; readonly vocabSize: number };
  /** llama2.c's run.c stops at BOS only; its tokenizer's EOS is no end there. */
  readonly llama2c: boolean;
  /** generation_config.json's text, where there is one. */
  readonly generationConfig?: string;
  readonly gguf?: GgufMetadata;
  readonly tokenizer?: EogVocabulary;
}

/**
 * Every id at which a model's turn is over, sorted, each once: the config's EOS, the tokenizer's,
 * generation_config.json's eos_token_id (a number or a list), the GGUF ids (eos/eot/eom), and the
 * vocabulary entries of the well-known end-of-turn tokens, as llama.cpp and transformers collect them.
 */
export function endOfGenerationIdsFrom(e: EogInputs): number[] {
  const ids = new Set<number>(e.config.eosIds);
  if (e.llama2c) return [...ids];
  if (e.tokenizer?.eosId !== undefined) ids.add(e.tokenizer.eosId);
  for (const id of generationConfigEos(e.generationConfig)) ids.add(id);
  for (const k of e.gguf ? GGUF_EOG_KEYS : []) {
    const id = e.gguf?.getNumber(k);
    if (id !== undefined && id >= 0) ids.add(id);
  }
  if (e.tokenizer) for (const id of vocabularyEog(e.tokenizer)) ids.add(id);
  return [...ids].filter((id) => Number.isInteger(id) && id >= 0 && id < e.config.vocabSize).sort((a, b) => a - b);
}

function generationConfigEos(text: string | undefined): number[] {
  if (text === undefined) return [];
  try {
    const v = (JSON.parse(text) as { eos_token_id?: unknown }).eos_token_id;
    return (Array.isArray(v) ? v : [v]).filter((x): x is number => typeof x === 'number');
  } catch {
    return []; // a generation config we cannot read only costs its extra stop ids
  }
}

/** Ids whose vocabulary entry is one of END_OF_TURN_TEXTS. */
function vocabularyEog(tokenizer: EogVocabulary): number[] {
  const wanted = new Set(END_OF_TURN_TEXTS);
  const found: number[] = [];
  for (let id = 0; id < tokenizer.vocabSize; id++) if (wanted.has(tokenizer.tokenText(id))) found.push(id);
  return found;
}

function hfTemplate(files: TextFiles, name: string | undefined): ChatTemplateSource | undefined {
  const configPath = files.where('tokenizer_config.json');
  const config = readJsonObject(files, 'tokenizer_config.json') ?? {};
  const specials = hfSpecials(config);
  const jinja = files.text('chat_template.jinja');
  if (jinja !== undefined && name === undefined) return { text: jinja, origin: files.where('chat_template.jinja'), specials };
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

/** A JSON file that must hold an object; undefined when there is no such file. */
function readJsonObject(files: TextFiles, name: string): Record<string, unknown> | undefined {
  const text = files.text(name);
  if (text === undefined) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new ChatTemplateError(`${files.where(name)}: not valid JSON: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ChatTemplateError(`${files.where(name)}: must hold a JSON object`);
  return v as Record<string, unknown>;
}
