// Locates the read-only data in ../shared. Tests that need a file call `hasShared`: when it is
// missing they fail under CI (CI must have the data) and skip loudly elsewhere.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export const SHARED_DIR = process.env.TESSERA_SHARED ?? resolve(projectRoot, '..', 'shared');

/**
 * True when the tests run under CI, where a missing file or adapter is a failure, not a skip.
 * CI providers set CI=true (or 1); an empty value, `false` or `0` means not CI.
 */
export function isCI(): boolean {
  const v = (process.env.CI ?? '').trim().toLowerCase();
  return v !== '' && v !== 'false' && v !== '0';
}

export function sharedPath(...parts: string[]): string {
  return join(SHARED_DIR, ...parts);
}

/** True when the shared file exists; under CI a missing file is an error, not a skip. */
export function hasShared(...parts: string[]): boolean {
  const p = sharedPath(...parts);
  if (existsSync(p)) return true;
  if (isCI()) throw new Error(`shared test data is missing: ${p} (CI must run with ../shared beside the checkout)`);
  console.warn(`[tessera tests] SKIPPING: shared data not found at ${p}`);
  return false;
}
