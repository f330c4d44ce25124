// tessera/web runs in a browser: nothing its entry (dist/src/web/index.js) loads may be a Node
// built-in (`node:…` or a bare `fs`, `worker_threads` …) or a Node-only package. Walks the built
// import graph, static and dynamic, as a bundler would.
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const WEB_ENTRY = join(ROOT, 'dist/src/web/index.js');
/** The engine worker's script (tessera/web/worker). */
const WORKER_ENTRY = join(ROOT, 'dist/src/web/worker-entry.js');
const NODE_ENTRY = join(ROOT, 'dist/src/index.js');
/** Packages that load native code or Node APIs. */
const NODE_ONLY_PACKAGES = ['webgpu', 'assemblyscript'];

const SPECIFIERS = [
  /^\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]/gm,
  /^\s*import\s*['"]([^'"]+)['"]/gm,
  /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
];

/** Every module reachable from `entry`, and the bare (non-relative) specifiers they import, by importer. */
function importGraph(entry: string): { files: Set<string>; bare: { from: string; spec: string }[] } {
  const files = new Set<string>();
  const bare: { from: string; spec: string }[] = [];
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const text = readFileSync(file, 'utf8');
    for (const re of SPECIFIERS) {
      for (const m of text.matchAll(re)) {
        const spec = m[1];
        if (spec.startsWith('.')) visit(resolve(dirname(file), spec));
        else bare.push({ from: relative(ROOT, file), spec });
      }
    }
  };
  visit(entry);
  return { files, bare };
}

const isNodeOnly = (spec: string) => spec.startsWith('node:') || builtinModules.includes(spec.split('/')[0]) || NODE_ONLY_PACKAGES.includes(spec);

describe.runIf(existsSync(WEB_ENTRY))('the browser entry tessera/web', () => {
  it('imports no Node built-in and no Node-only package (the page entry and the engine worker)', () => {
    for (const entry of [WEB_ENTRY, WORKER_ENTRY]) {
      const { files, bare } = importGraph(entry);
      expect(files.size).toBeGreaterThan(50);
      expect(bare.filter((b) => isNodeOnly(b.spec)).map((b) => `${b.from} imports ${b.spec}`)).toEqual([]);
    }
  });

  it('the walk finds Node imports where there are some (the Node entry)', () => {
    const { bare } = importGraph(NODE_ENTRY);
    expect(bare.filter((b) => isNodeOnly(b.spec)).length).toBeGreaterThan(3);
  });

  it('is the package export tessera/web', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, { default: string }> };
    expect(resolve(ROOT, pkg.exports['./web'].default)).toBe(WEB_ENTRY);
    expect(resolve(ROOT, pkg.exports['./web/worker'].default)).toBe(WORKER_ENTRY);
  });
});

it.skipIf(existsSync(WEB_ENTRY))('the browser entry is built', () => {
  console.log(`SKIP tessera/web import graph: ${relative(ROOT, WEB_ENTRY)} is missing (npm test builds it with tsc first)`);
});
