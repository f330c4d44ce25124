// What a start-up loads: running a compiled artifact, or a model whose CPU programs are in the
// compile cache, must import neither the IR text parser (chevrotain), the compiler (AssemblyScript,
// Binaryen) nor the code generators, and must not need them installed. Each run is a fresh process
// whose module loader refuses those packages and modules, and where requiring one of the packages
// (asc's package.json, say) fails as it does when the package is not installed. Runs go through
// bin/tessera.js (the bundle in dist/cli/ when it is current) and through tsc's dist/src/cli.js,
// where the code generators are files of their own that the loader can refuse by name.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { cliEntry } from '../../bin/cli-entry.js';
import { compile } from '../../src/compile.js';
import { hasShared, sharedPath } from '../helpers/shared.js';

const CLI = resolve(__dirname, '../../bin/tessera.js');
const UNBUNDLED = pathToFileURL(resolve(__dirname, '../../dist/src/cli.js')).href;
/** How a run starts the CLI: as users do, or tsc's modules directly (`node -e`, argv after it). */
const ENTRY = {
  bin: [CLI],
  unbundled: ['--input-type=module', '-e', `const { main } = await import(${JSON.stringify(UNBUNDLED)}); process.exitCode = await main(process.argv.slice(1));`],
} as const;
type Entry = keyof typeof ENTRY;
const FORBIDDEN = ['/node_modules/chevrotain/', '/node_modules/assemblyscript/', '/node_modules/binaryen/', '/codegen/wasm/emit.', '/codegen/wgsl/emit.'];
const NOT_INSTALLED = /^(chevrotain|assemblyscript|binaryen)(\/|$)/;

// A loader hook (registered by --import) that fails any import of a forbidden module, naming it.
const HOOKS = `export async function resolve(spec, ctx, next) {
  const r = await next(spec, ctx);
  const hit = ${JSON.stringify(FORBIDDEN)}.find((p) => r.url.includes(p));
  if (hit) throw new Error('start-up imported ' + hit + ' (from ' + ctx.parentURL + ')');
  return r;
}`;
// CommonJS resolution (createRequire) does not pass through that hook: answer as npm would
// without the package.
const NO_PACKAGES = `import Module from 'node:module';
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (${NOT_INSTALLED}.test(request)) throw Object.assign(new Error("Cannot find module '" + request + "'"), { code: 'MODULE_NOT_FOUND' });
  return resolveFilename.call(this, request, ...rest);
};`;
const REGISTER = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(HOOKS)}`)});
${NO_PACKAGES}`;

function generate(model: string, cacheDir: string, forbid: boolean, entry: Entry = 'bin') {
  const args = [...(forbid ? ['--import', `data:text/javascript,${encodeURIComponent(REGISTER)}`] : []), ...ENTRY[entry], 'generate', '-m', model, '--backend', 'wasm', '--threads', '1', '--ids', '1', '-n', '1'];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, TESSERA_CACHE_DIR: cacheDir } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const temps: string[] = [];
const tempDir = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  temps.push(d);
  return d;
};
afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

describe('start-up imports', () => {
  it.skipIf(!hasShared('models', 'stories260K'))('the hook refuses a forbidden import (so the checks below can fail)', () => {
    // A cold cache compiles the CPU module, which needs AssemblyScript.
    const r = generate(sharedPath('models', 'stories260K', 'stories260K.bin'), tempDir('tessera-startup-cold-'), true);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/start-up imported \/(node_modules\/(assemblyscript|binaryen)|codegen\/wasm\/emit)|'assemblyscript' package, which is not installed/);
  }, 300_000);

  it.skipIf(!hasShared('models', 'stories260K')).each(['bin', 'unbundled'] as const)('a warm compile cache runs without the parser, the code generators or the compiler installed (%s)', (entry) => {
    const model = sharedPath('models', 'stories260K', 'stories260K.bin');
    const cache = tempDir('tessera-startup-warm-');
    const first = generate(model, cache, false, entry);
    expect(first.code, first.stderr).toBe(0);
    const warm = generate(model, cache, true, entry);
    expect(warm.code, warm.stderr).toBe(0);
    expect(warm.stdout).toBe(first.stdout);
  }, 300_000);

  it.skipIf(!hasShared('models', 'stories260K'))('a compiled artifact runs without the parser or the compiler', async () => {
    const model = sharedPath('models', 'stories260K', 'stories260K.bin');
    const out = tempDir('tessera-startup-art-');
    await compile(model, { out, targets: ['wasm'] });
    for (const entry of ['bin', 'unbundled'] as const) {
      const r = generate(out, tempDir('tessera-startup-empty-'), true, entry);
      expect(r.code, `${entry}: ${r.stderr}`).toBe(0);
      expect(r.stdout.length).toBeGreaterThan(0);
    }
  }, 300_000);
});

describe('which build bin/tessera.js runs', () => {
  /** A dist/ folder holding tsc's cli.js and, when given, a bundle; mtimes in seconds. */
  function dist(compiledAt: number | undefined, bundledAt: number | undefined): URL {
    const root = tempDir('tessera-entry-');
    const put = (path: string, at: number) => {
      mkdirSync(join(root, path, '..'), { recursive: true });
      writeFileSync(join(root, path), '');
      utimesSync(join(root, path), at, at);
    };
    if (compiledAt !== undefined) put('src/cli.js', compiledAt);
    if (bundledAt !== undefined) put('cli/cli.js', bundledAt);
    return pathToFileURL(`${root}/`);
  }
  const picked = (url: URL | undefined) => url?.pathname.split('/').slice(-2).join('/');

  it('the bundle while it is at least as new as tsc\'s output (an npm install gives both one mtime)', () => {
    expect(picked(cliEntry(dist(1000, 1001)))).toBe('cli/cli.js');
    expect(picked(cliEntry(dist(1000, 1000)))).toBe('cli/cli.js');
  });

  it('tsc\'s output when a later tsc made the bundle stale, or there is none', () => {
    expect(picked(cliEntry(dist(1001, 1000)))).toBe('src/cli.js');
    expect(picked(cliEntry(dist(1000, undefined)))).toBe('src/cli.js');
  });

  it('nothing without a build', () => {
    expect(cliEntry(dist(undefined, 1000))).toBeUndefined();
  });
});
