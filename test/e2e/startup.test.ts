// What a start-up loads: running a compiled artifact, or a model whose CPU module is in the compile
// cache, must import neither the IR text parser (chevrotain) nor the compiler (AssemblyScript,
// Binaryen). Each run is a fresh process whose module loader refuses those packages.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compile } from '../../src/compile.js';
import { hasShared, sharedPath } from '../helpers/shared.js';

const CLI = resolve(__dirname, '../../bin/tessera.js');
const FORBIDDEN = ['chevrotain', 'assemblyscript', 'binaryen'];

// A loader hook (registered by --import) that fails any import of a forbidden package, naming it.
const HOOKS = `export async function resolve(spec, ctx, next) {
  const r = await next(spec, ctx);
  const hit = ${JSON.stringify(FORBIDDEN)}.find((p) => r.url.includes('/node_modules/' + p + '/'));
  if (hit) throw new Error('start-up imported ' + hit + ' (from ' + ctx.parentURL + ')');
  return r;
}`;
const REGISTER = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(HOOKS)}`)});`;

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
    expect(r.stderr).toMatch(/start-up imported (assemblyscript|binaryen)/);
  }, 300_000);

  it.skipIf(!hasShared('models', 'stories260K'))('a warm compile cache runs without the parser or the compiler', () => {
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
