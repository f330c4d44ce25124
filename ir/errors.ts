// Tessera's error hierarchy, and errors that point into IR. Every error Tessera throws on purpose
// is a TesseraError whose message names what is wrong, where, and what to do; anything else that
// escapes is a bug. The base lives here, in ir/ (which imports nothing of ours), so that every
// folder can derive its errors from it.

export interface SourceLoc {
  readonly line: number;
  readonly column: number;
  readonly file?: string;
}

export function locToString(loc: SourceLoc): string {
  return `${loc.file ? `${loc.file}:` : ''}${loc.line}:${loc.column}`;
}

/** Base of every error Tessera throws on purpose (the user's input or environment, not a bug). */
export class TesseraError extends Error {
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * How Tessera was called: a command-line argument or API option that is unknown, missing or out
 * of range. `command` is the CLI command whose usage was wrong, when there is one.
 */
export class UsageError extends TesseraError {
  constructor(message: string, readonly command?: string) {
    super(message);
  }
}

/** Data a model cannot take: a prompt longer than its context, a token id outside its vocabulary. */
export class InputError extends TesseraError {}

/** Model files (checkpoint, config, tokenizer, compiled artifact) that are malformed, inconsistent or unsupported. */
export class ModelFormatError extends TesseraError {}

/** What this machine lacks or cannot give: a WebGPU adapter, memory, a backend able to run the graph. */
export class ResourceError extends TesseraError {}

/** An object used in a state that does not allow the call: after dispose(), or while another call holds it. */
export class StateError extends TesseraError {}

/** An error in a graph or its text: verifier failures, type errors, parse errors. */
export class IRError extends TesseraError {
  constructor(message: string, readonly loc?: SourceLoc) {
    super(loc ? `${locToString(loc)}: ${message}` : message);
  }
}

/** Thrown by an op's type inference; the caller adds which node and where. */
export class TypeInferenceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TypeInferenceError';
  }
}
