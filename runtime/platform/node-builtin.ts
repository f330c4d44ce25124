// Node's built-in modules for code that also runs in a browser: reached through
// process.getBuiltinModule (Node ≥ 20.16), which exists for exactly this, so a module that needs
// node:fs only on a Node path has no static import of it and bundles for the web unchanged.

type NodeProcess = { getBuiltinModule?: (id: string) => unknown; versions?: { node?: string } };
const nodeProcess = (globalThis as { process?: NodeProcess }).process;

/** True under Node (not in a browser, even one with a `process` shim). */
export const isNode = typeof nodeProcess?.versions?.node === 'string' && typeof nodeProcess.getBuiltinModule === 'function';

/** Thrown when something needs Node (a file path, a Node module) where there is none. */
export class PlatformError extends Error {
  override name = 'PlatformError';
}

/** A Node built-in module, loaded when first asked for; elsewhere a PlatformError saying what needed it. */
export function nodeBuiltin<T>(id: `node:${string}`, neededFor: string): T {
  if (!isNode) throw new PlatformError(`${neededFor} needs Node.js (${id}); in a browser, give the bytes instead of a path`);
  return nodeProcess!.getBuiltinModule!(id) as T;
}
