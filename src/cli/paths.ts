// Paths named on the command line, checked before any work: a mistyped path fails at once, with
// the option that named it and what to do, instead of after the model has loaded (or as an
// internal error from deep inside a reader).
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { CliError } from './command.js';
import type { CliIO } from './io.js';

/** `value` resolved against io.cwd; it must exist. */
export function inputPath(io: CliIO, value: string, option: string): string {
  const path = resolve(io.cwd, value);
  if (!existsSync(path)) throw new CliError(`--${option} '${value}' does not exist (check the path)`);
  return path;
}

/** `value` resolved against io.cwd, as a file to write: its folder must exist, and it must not be a folder. */
export function outputFilePath(io: CliIO, value: string, option: string): string {
  const path = resolve(io.cwd, value);
  const folder = dirname(path);
  if (!existsSync(folder)) throw new CliError(`--${option} '${value}': the folder '${folder}' does not exist (create it first, or choose another path)`);
  if (!statSync(folder).isDirectory()) throw new CliError(`--${option} '${value}': '${folder}' is a file, not a folder`);
  if (existsSync(path) && statSync(path).isDirectory()) throw new CliError(`--${option} '${value}' is a folder; name a file to write`);
  return path;
}
