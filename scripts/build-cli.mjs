// Bundles the compiled CLI (dist/src/cli.js and what it imports) into dist/cli/: one file per
// command and a few shared chunks instead of ~190 modules, which Node 20 resolves and compiles one
// by one at every start (measured in BENCHMARKS.md, session 10: ~150 ms of CPU of a warm
// `tessera generate`). bin/tessera.js runs the bundle only while it is at least as new as tsc's
// output, so a later `tsc` alone is never shadowed by a stale bundle. Run by `npm run build`
// (and so by `npm ci`'s prepare and `npm test`).
//
// Kept out of the bundle: the optional packages (AssemblyScript, Binaryen, Dawn), which must stay
// loadable on demand and absent from a runtime-only install, and chevrotain, which only the IR
// text parser needs; test/e2e/startup.test.ts checks a warm start imports none of them.
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const outdir = `${dist}cli`;
// Chunk names carry content hashes: clear the last build's so they do not pile up.
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: [`${dist}src/cli.js`],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['assemblyscript', 'binaryen', 'chevrotain', 'webgpu'],
  logLevel: 'warning',
});
