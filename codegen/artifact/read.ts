// Reads a compiled artifact folder in Node: the folder's files (node-files.ts) through the shared
// reader (load.ts).
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadArtifact, type LoadedArtifact } from './load.js';
import { MANIFEST_FILE } from './manifest.js';
import { DirectoryFiles } from './node-files.js';

export type { LoadedArtifact } from './load.js';

export function isArtifactDir(path: string): boolean {
  return existsSync(join(path, MANIFEST_FILE)) && statSync(path).isDirectory();
}

/** Checks and reads the artifact in `dir` (ArtifactError naming the file or field when it is not sound). */
export function readArtifact(dir: string): LoadedArtifact {
  return loadArtifact(new DirectoryFiles(dir));
}
