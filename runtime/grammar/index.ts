// Structured output: GBNF grammars and JSON schemas compiled to token masks for sampling.
import { type CompiledGrammar, compileGrammar } from './compile.js';
import { parseGbnf } from './gbnf-parser.js';

export { GrammarAutomaton } from './automaton.js';
export type { CompiledGrammar } from './compile.js';
export { GrammarError, SchemaError } from './errors.js';
export { parseGbnf } from './gbnf-parser.js';
export { JSON_OBJECT_GRAMMAR } from './json-rules.js';
export { jsonSchemaToGbnf } from './json-schema.js';
export { GrammarConstraint, GrammarMatcher, maskHas, type TokenMask } from './matcher.js';
export { tokenizerVocabulary, type TokenVocabulary, vocabularyFromBytes } from './vocabulary.js';

export interface BuildGrammarOptions {
  /** The start rule. Default 'root'. */
  readonly root?: string;
  /** Named in error locations. */
  readonly file?: string;
}

/** GBNF text → the compiled grammar (GrammarError at line:column when it is malformed). */
export function buildGrammar(text: string, opts: BuildGrammarOptions = {}): CompiledGrammar {
  return compileGrammar(parseGbnf(text, opts.file), opts);
}
