// Errors that point into IR: a message plus where (source position and/or node).

export interface SourceLoc {
  readonly line: number;
  readonly column: number;
  readonly file?: string;
}

export function locToString(loc: SourceLoc): string {
  return `${loc.file ? `${loc.file}:` : ''}${loc.line}:${loc.column}`;
}

/** An error in a graph or its text: verifier failures, type errors, parse errors. */
export class IRError extends Error {
  constructor(message: string, readonly loc?: SourceLoc) {
    super(loc ? `${locToString(loc)}: ${message}` : message);
    this.name = 'IRError';
  }
}

/** Thrown by an op's type inference; the caller adds which node and where. */
export class TypeInferenceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TypeInferenceError';
  }
}
