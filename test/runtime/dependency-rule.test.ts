// The runtime's side of the dependency rule (docs/ARCHITECTURE.md §1): what runtime/ loads of
// codegen/ is the kernel contracts, never an emitter, so running a compiled artifact generates no
// code; it imports nothing of passes/ or src/. Type-only imports are erased and may name anything.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The codegen modules the runtime may load: data and functions both sides of a kernel agree on. */
const CONTRACTS = ['codegen/kernel.ts', 'codegen/wasm/abi.ts', 'codegen/wgsl/contract.ts', 'codegen/wgsl/split.ts'];
/** Not the runtime proper: the CPU kernel micro-benchmark compiles the kernels it times. */
const TOOLS = ['runtime/wasm/bench-kernels.ts'];

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

/** Modules a file loads at run time: its imports and re-exports that are not `import type`. */
function valueImports(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const out: string[] = [];
  const specifiers = [
    ...[...text.matchAll(/^(?:import|export)\s+(type\s+)?[^'";]*?\s*from\s+'([^']+)'/gm)].filter((m) => !m[1]).map((m) => m[2]),
    ...[...text.matchAll(/^import\s+'([^']+)'/gm)].map((m) => m[1]),
  ];
  for (const s of specifiers) {
    if (s.startsWith('.')) out.push(relative(ROOT, resolve(ROOT, dirname(file), s)).replace(/\.js$/, '.ts'));
  }
  return out;
}

it('runtime/ loads only the kernel contracts of codegen/, and nothing of passes/ or src/', () => {
  const files = sources('runtime').filter((f) => !TOOLS.includes(f));
  expect(files.length).toBeGreaterThan(10);
  const breaches = files.flatMap((f) => valueImports(f)
    .filter((m) => (m.startsWith('codegen/') && !CONTRACTS.includes(m)) || m.startsWith('passes/') || m.startsWith('src/'))
    .map((m) => `${f} imports ${m}`));
  expect(breaches).toEqual([]);
});

it('the contracts themselves load only ir/ and one another', () => {
  const breaches = CONTRACTS.flatMap((f) => valueImports(f).filter((m) => !m.startsWith('ir/') && !CONTRACTS.includes(m)).map((m) => `${f} imports ${m}`));
  expect(breaches).toEqual([]);
});
