// What a start-up loads: running a compiled artifact, or a model whose CPU programs are in the
// compile cache, must import neither the IR text parser (chevrotain), the compiler (AssemblyScript,
// Binaryen) nor the code generators, and must not need them installed. Each run is a fresh process
// whose module loader refuses those packages and modules, and where requiring one of the packages
// (asc's package.json, say) fails as it does when the package is not installed.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compile } from '../../src/compile.js';
import { hasShared, sharedPath } from '../helpers/shared.js';

const CLI = resolve(__dirname, '../../bin/tessera.js');
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

function generate(model: string, cacheDir: string, forbid: boolean) {
  const args = [...(forbid ? ['--import', `data:text/javascript,${encodeURIComponent(REGISTER)}`] : []), CLI, 'generate', '-m', model, '--backend', 'wasm', '--threads', '1', '--ids', '1', '-n', '1'];
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

  it.skipIf(!hasShared('models', 'stories260K'))('a warm compile cache runs without the parser, the code generators or the compiler installed', () => {
    const model = sharedPath('models', 'stories260K', 'stories260K.bin');
    const cache = tempDir('tessera-startup-warm-');
    const first = generate(model, cache, false);
    expect(first.code, first.stderr).toBe(0);
    const warm = generate(model, cache, true);
    expect(warm.code, warm.stderr).toBe(0);
    expect(warm.stdout).toBe(first.stdout);
  }, 300_000);

  it.skipIf(!hasShared('models', 'stories260K'))('a compiled artifact runs without the parser or the compiler', async () => {
    const model = sharedPath('models', 'stories260K', 'stories260K.bin');
    const out = tempDir('tessera-startup-art-');
    await compile(model, { out, targets: ['wasm'] });
    const r = generate(out, tempDir('tessera-startup-empty-'), true);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.length).toBeGreaterThan(0);
  }, 300_000);
});
