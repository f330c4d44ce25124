// The structured-output options of generation (grammar, jsonSchema, json) and how they become a
// GrammarConstraint for a model's vocabulary. Constraints are cached per vocabulary and grammar
// text, so a repeated schema costs its compilation once; masks stay cached with it.
import type { Tokenizer } from '../../models/tokenizers/tokenizer.js';
import { booleanRule, OptionError, type OptionRule, type OptionRules } from '../options.js';
import { buildGrammar } from './index.js';
import { JSON_OBJECT_GRAMMAR } from './json-rules.js';
import { jsonSchemaToGbnf } from './json-schema.js';
import { GrammarConstraint } from './matcher.js';
import { tokenizerVocabulary, type TokenVocabulary } from './vocabulary.js';

export interface StructuredOutputParams {
  /** A GBNF grammar (llama.cpp's format, start rule `root`) the output must follow. */
  readonly grammar?: string;
  /** A JSON schema the output must be a JSON instance of. */
  readonly jsonSchema?: object;
  /** The output is a JSON object (any object). */
  readonly json?: boolean;
}

const grammarRule: OptionRule<unknown> = (v) => (typeof v === 'string' ? undefined : 'must be GBNF grammar text (a string)');
const schemaRule: OptionRule<unknown> = (v) => (typeof v === 'object' && v !== null && !Array.isArray(v)) || typeof v === 'boolean' ? undefined : 'must be a JSON schema (an object)';

export const STRUCTURED_OUTPUT_RULES: OptionRules<StructuredOutputParams, unknown> = {
  grammar: grammarRule,
  jsonSchema: schemaRule,
  json: booleanRule,
};

/** The GBNF text the options ask for, or undefined when the output is free; at most one may be set. */
export function structuredOutputGrammar(p: StructuredOutputParams): string | undefined {
  const set = (['grammar', 'jsonSchema', 'json'] as const).filter((k) => p[k] !== undefined && p[k] !== false);
  if (set.length > 1) return conflict(set);
  if (p.grammar !== undefined) return p.grammar;
  if (p.jsonSchema !== undefined) return jsonSchemaToGbnf(p.jsonSchema);
  return p.json ? JSON_OBJECT_GRAMMAR : undefined;
}

function conflict(set: readonly string[]): never {
  throw new OptionError(set[1], `generate: give at most one of grammar, jsonSchema and json; got ${set.join(' and ')}`);
}

/**
 * Whether text generated after `promptIds` starts the text with a leading space dropped: the
 * prompt decodes to nothing (BOS alone) and decoding a probe token " a…" after it gives "a…".
 */
export function dropsLeadingSpace(tokenizer: Tokenizer, promptIds: readonly number[], vocabulary: TokenVocabulary): boolean {
  if (tokenizer.decode(promptIds) !== '') return false;
  const probe = vocabulary.bytes.findIndex((b) => b.length >= 2 && b[0] === 0x20 && b.subarray(1).every((x) => x >= 0x61 && x <= 0x7a));
  if (probe < 0) return false;
  return tokenizer.decode([...promptIds, probe]) === new TextDecoder().decode(vocabulary.bytes[probe].subarray(1));
}

const MAX_CACHED_GRAMMARS = 16;
const constraints = new WeakMap<TokenVocabulary, Map<string, GrammarConstraint>>();

/**
 * The constraint for `grammar` over the tokenizer's vocabulary (padded to `vocabSize` ids),
 * compiled on first use and cached (the least recently used of more than 16 grammars is dropped).
 */
export function grammarConstraint(grammar: string, tokenizer: Tokenizer, vocabSize: number, eosIds: readonly number[]): GrammarConstraint {
  const vocabulary = tokenizerVocabulary(tokenizer, vocabSize);
  let byText = constraints.get(vocabulary);
  if (!byText) constraints.set(vocabulary, (byText = new Map()));
  const key = `${eosIds.join(',')}\n${grammar}`;
  let c = byText.get(key);
  if (c) byText.delete(key);
  else c = new GrammarConstraint(buildGrammar(grammar), vocabulary, eosIds);
  byText.set(key, c);
  if (byText.size > MAX_CACHED_GRAMMARS) byText.delete(byText.keys().next().value!);
  return c;
}
