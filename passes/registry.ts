// The pass registry: every pass by name. Pass modules register themselves on import
// (passes/index.ts imports them all), so a pipeline string can name any of them.
import type { Pass } from './pass.js';

const passes = new Map<string, Pass>();

const PASS_NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

export function registerPass(pass: Pass): Pass {
  if (!PASS_NAME.test(pass.name)) throw new Error(`invalid pass name '${pass.name}' (use lower-case words joined by '-')`);
  if (passes.has(pass.name)) throw new Error(`pass '${pass.name}' is registered twice`);
  passes.set(pass.name, pass);
  return pass;
}

export function findPass(name: string): Pass | undefined {
  return passes.get(name);
}

/** Every registered pass, sorted by name. */
export function listPasses(): Pass[] {
  return [...passes.values()].sort((a, b) => a.name.localeCompare(b.name));
}
