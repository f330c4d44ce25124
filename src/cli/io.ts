// The CLI's view of the outside world, injectable so tests run commands in-process.

export interface Writer {
  write(text: string): unknown;
}

export interface CliIO {
  readonly stdout: Writer;
  readonly stderr: Writer;
  /** Relative paths in arguments resolve against this. */
  readonly cwd: string;
  /** Environment for child programs (Graphviz `dot` is found through its PATH). */
  readonly env: Readonly<Record<string, string | undefined>>;
}

export function processIO(): CliIO {
  return { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd(), env: process.env };
}
