// What a CLI command is. A command is one module in src/cli/ that calls registerCommand; the
// help text, argument checking and error reporting come from its declaration.
import { TesseraError } from '../../ir/errors.js';
import type { CliIO } from './io.js';

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** May be given several times; the values are collected in order. */
  readonly multiple?: boolean;
  /** The value's placeholder in help, e.g. PIPELINE. */
  readonly value?: string;
  readonly choices?: readonly string[];
  readonly help: string;
}

export interface Example {
  readonly command: string;
  readonly says: string;
}

export type OptionValue = string | boolean | string[] | undefined;

/** A command line after checking: option values by long name, and positional arguments. */
export interface Invocation {
  readonly command: string;
  readonly values: Readonly<Record<string, OptionValue>>;
  readonly positionals: readonly string[];
}

export interface Command {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** The positional part of the usage line, e.g. `<file.ir>`. */
  readonly args: string;
  readonly positionals: { readonly min: number; readonly max: number };
  /** Paragraphs shown under the usage line. */
  readonly description?: string;
  readonly options: Readonly<Record<string, OptionSpec>>;
  readonly examples: readonly Example[];
  run(inv: Invocation, io: CliIO): Promise<number>;
}

// A bad command line (unknown command or option, missing argument, value out of range) is the
// library's UsageError: exit code 2.
export { UsageError } from '../../ir/errors.js';

/** The command ran but failed on what it was given (an unreadable file, an invalid graph …): exit code 1. */
export class CliError extends TesseraError {}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

// Typed reads of option values (the parser has already checked their kinds).
export const stringOpt = (inv: Invocation, name: string): string | undefined => {
  const v = inv.values[name];
  return typeof v === 'string' ? v : undefined;
};
export const flagOpt = (inv: Invocation, name: string): boolean => inv.values[name] === true;
export const listOpt = (inv: Invocation, name: string): string[] => {
  const v = inv.values[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
};
