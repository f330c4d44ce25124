// How errors reach the user: expected ones (bad input, bad usage, what the machine lacks) as one
// clear message and an exit code; anything else is a bug in Tessera, reported as such (stack with
// TESSERA_DEBUG=1). Expected means a TesseraError, or a file-system error on a path the user named.
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { TesseraError, UsageError } from '../../ir/errors.js';
import { EXIT_FAILURE, EXIT_USAGE } from './command.js';

/** What each file-system error code means for the path it names, and what to do about it. */
const FILE_ERRORS: Readonly<Record<string, (path: string) => string>> = {
  ENOENT: (p) => (existsSync(dirname(p)) ? `'${p}' does not exist (check the path)` : `'${p}': the folder '${dirname(p)}' does not exist (check the path, or create the folder first)`),
  ENOTDIR: (p) => `'${p}': a part of the path is a file, not a folder (check the path)`,
  EISDIR: (p) => `'${p}' is a folder; name a file instead`,
  EEXIST: (p) => `'${p}' already exists and is not a folder; remove it or choose another path`,
  EACCES: (p) => `permission denied for '${p}'`,
  EPERM: (p) => `operation not permitted on '${p}'`,
  EROFS: (p) => `'${p}' is on a read-only file system`,
  ENOSPC: (p) => `no space left on the device while writing '${p}'`,
  ENAMETOOLONG: (p) => `the path '${p}' is too long`,
};

interface FileSystemError extends Error {
  readonly code: string;
  readonly path: string;
}

/** A Node file-system error on a named path, of a kind the user can fix. */
function isFileSystemError(e: unknown): e is FileSystemError {
  if (!(e instanceof Error)) return false;
  const { code, path } = e as Partial<FileSystemError>;
  return typeof code === 'string' && code in FILE_ERRORS && typeof path === 'string';
}

/** Errors caused by what the user gave us (command line, IR, model files, paths) or lacks, not by a bug. */
export function isUserError(e: unknown): e is Error {
  return e instanceof TesseraError || isFileSystemError(e);
}

export function errorMessage(e: unknown): string {
  if (isFileSystemError(e)) return FILE_ERRORS[e.code](e.path);
  return e instanceof Error ? e.message : String(e);
}

/** Exit code for a user error: bad command lines (and pipeline strings, a UsageError too) exit 2. */
export function exitCodeFor(e: unknown): number {
  return e instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE;
}
