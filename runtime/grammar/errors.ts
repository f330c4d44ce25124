// Errors of structured output: a grammar or JSON schema the user gave that Tessera cannot use.
// They are usage errors (the caller's input), and point at the place: line:column in GBNF text,
// a JSON pointer in a schema.
import { locToString, type SourceLoc, UsageError } from '../../ir/errors.js';

/** A GBNF grammar that does not parse or cannot be built (undefined rule, left recursion, …). */
export class GrammarError extends UsageError {
  constructor(message: string, readonly loc?: SourceLoc) {
    super(`grammar${loc ? ` ${locToString(loc)}` : ''}: ${message}`);
  }
}

/** A JSON schema outside the subset that maps to a grammar; `path` is a JSON pointer ('' = the root). */
export class SchemaError extends UsageError {
  constructor(message: string, readonly path: string) {
    super(`JSON schema at ${path === '' ? 'the root' : `'${path}'`}: ${message}`);
  }
}
