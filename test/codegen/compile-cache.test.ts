// The persistent compile cache: a hit serves the same bytes without asc, a different source or
// feature set misses, damaged entries are rebuilt with a warning, concurrent processes that
// compile the same module both succeed, and the size limit evicts the least recently used.
// The lowering cache (CPU programs with their module): a hit gives the same logits as a fresh
// compile without lowering or compiling, other bounds or passes miss, a damaged entry is rebuilt.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cacheGet, cacheKey, cachePut, clearCache, listCache } from '../../codegen/compile-cache.js';
import { clearCompileCache, compileAssemblyScript } from '../../codegen/wasm/asc.js';
import { Model } from '../../src/model.js';
import { hasShared, sharedPath } from '../helpers/shared.js';

const run = promisify(execFile);
const SOURCE = 'export function twice(x: i32): i32 { return x * 2; }';
const root = resolve(import.meta.dirname, '..', '..');

let dir: string;
let saved: string | undefined;

beforeEach(() => {
  saved = process.env.TESSERA_CACHE_DIR;
  dir = mkdtempSync(join(tmpdir(), 'tessera-cache-test-'));
  process.env.TESSERA_CACHE_DIR = dir;
  clearCompileCache();
});

afterEach(() => {
  restoreEnv('TESSERA_CACHE_DIR', saved);
  rmSync(dir, { recursive: true, force: true });
  vi.restoreAllMocks();
});

function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

function wasmEntries(): string[] {
  return readdirSync(join(dir, 'wasm')).filter((f) => f.endsWith('.bin'));
}

describe('compile cache', () => {
  it('serves a second compile from disk with the same bytes, without running asc', async () => {
    const first = await compileAssemblyScript(SOURCE, { optimizeLevel: 0 });
    expect(first.cached).toBe(false);
    expect(wasmEntries()).toHaveLength(1);
    clearCompileCache(); // as a fresh process would be
    const again = await compileAssemblyScript(SOURCE, { optimizeLevel: 0 });
    expect(again.cached).toBe(true);
    expect(Buffer.from(again.binary).equals(Buffer.from(first.binary))).toBe(true);
  });

  it('misses for another source, flag or feature set', async () => {
    await compileAssemblyScript(SOURCE, { optimizeLevel: 0 });
    clearCompileCache();
    expect((await compileAssemblyScript(`${SOURCE}\n`, { optimizeLevel: 0 })).cached).toBe(false);
    expect((await compileAssemblyScript(SOURCE, { optimizeLevel: 1 })).cached).toBe(false);
    expect((await compileAssemblyScript(SOURCE, { optimizeLevel: 0, features: ['relaxed-simd'] })).cached).toBe(false);
    expect(wasmEntries()).toHaveLength(4);
  });

  it('rebuilds a truncated or tampered entry, with a warning', async () => {
    const first = await compileAssemblyScript(SOURCE, { optimizeLevel: 0 });
    const [name] = wasmEntries();
    const path = join(dir, 'wasm', name);
    const bytes = readFileSync(path);
    for (const damaged of [bytes.subarray(0, bytes.length - 7), Buffer.concat([bytes.subarray(0, -1), Buffer.from([bytes[bytes.length - 1] ^ 1])])]) {
      writeFileSync(path, damaged);
      clearCompileCache();
      const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
      const rebuilt = await compileAssemblyScript(SOURCE, { optimizeLevel: 0 });
      expect(rebuilt.cached).toBe(false);
      expect(Buffer.from(rebuilt.binary).equals(Buffer.from(first.binary))).toBe(true);
      expect(warn.mock.calls.map((c) => String(c[0])).join('\n')).toMatch(/compile cache entry rebuilt: .*checksum mismatch/);
      warn.mockRestore();
      expect(readFileSync(path).equals(bytes)).toBe(true);
    }
  });

  it('refuses an entry that is not one of ours', () => {
    const key = cacheKey(['x']);
    expect(cachePut('wasm', key, new Uint8Array([1, 2, 3]))).toBeUndefined();
    writeFileSync(join(dir, 'wasm', `${key}.bin`), 'hello');
    expect(cacheGet('wasm', key)).toMatchObject({ status: 'corrupt', reason: expect.stringMatching(/bad header/) });
    expect(cacheGet('wasm', key)).toEqual({ status: 'miss' });
  });

  it('lets two processes compile the same module at once', async () => {
    const script = join(root, 'test', 'helpers', 'compile-probe.mjs');
    const env = { ...process.env, TESSERA_CACHE_DIR: dir };
    const outs = await Promise.all([0, 1].map(() => run(process.execPath, [script, SOURCE], { env, cwd: root })));
    const sizes = outs.map((o) => JSON.parse(o.stdout) as { bytes: number });
    expect(sizes[0].bytes).toBeGreaterThan(0);
    expect(sizes[1].bytes).toBe(sizes[0].bytes);
    expect(wasmEntries()).toHaveLength(1);
    expect(readdirSync(join(dir, 'wasm')).filter((f) => f.startsWith('.tmp'))).toEqual([]);
  });

  it('evicts the least recently used entries past the size limit', () => {
    const savedMax = process.env.TESSERA_CACHE_MAX_MB;
    process.env.TESSERA_CACHE_MAX_MB = String(2.5 / 1024); // 2.5 KiB: room for two 1 KiB entries
    try {
      const keys = ['a', 'b', 'c'].map((k) => cacheKey([k]));
      keys.forEach((k, i) => {
        expect(cachePut('wasm', k, new Uint8Array(1024).fill(i))).toBeUndefined();
        const t = new Date(Date.now() - (10 - i) * 1000); // a, then b, then c: c is newest
        utimesSync(join(dir, 'wasm', `${k}.bin`), t, t);
      });
      expect(listCache().map((e) => e.key)).toEqual([keys[2], keys[1]]);
      expect(cacheGet('wasm', keys[0]).status).toBe('miss');
      expect(clearCache()).toBe(2);
      expect(listCache()).toEqual([]);
    } finally {
      restoreEnv('TESSERA_CACHE_MAX_MB', savedMax);
    }
  });
});

describe.runIf(hasShared('models', 'stories260K'))('lowering cache', () => {
  const IDS = [1, 403, 407, 261, 31];
  const programEntries = () => readdirSync(join(dir, 'wasm-programs')).filter((f) => f.endsWith('.bin'));

  async function logits(opts: { maxChunk?: number; passes?: string } = {}): Promise<Float32Array> {
    const m = await Model.open(sharedPath('models', 'stories260K', 'stories260K.bin'), { backend: 'wasm', threads: 1, ...opts });
    try {
      return await m.logits(IDS);
    } finally {
      await m.dispose();
    }
  }

  /** Forgets every compiled module, on disk and in memory: a compile after this writes a new 'wasm' entry. */
  function forgetModules(): void {
    rmSync(join(dir, 'wasm'), { recursive: true, force: true });
    clearCompileCache();
  }

  it('serves a second open without lowering or compiling, with the same logits', async () => {
    const fresh = await logits();
    expect(programEntries()).toHaveLength(1);
    forgetModules();
    const cached = await logits();
    expect(Array.from(cached)).toEqual(Array.from(fresh));
    expect(readdirSync(dir)).not.toContain('wasm'); // asc never ran
    // The check can fail: without the programs entry the same open compiles again.
    rmSync(join(dir, 'wasm-programs'), { recursive: true, force: true });
    forgetModules();
    await logits();
    expect(wasmEntries()).toHaveLength(1);
  }, 120_000);

  it('misses for other bounds or another pass pipeline', async () => {
    await logits();
    await logits({ maxChunk: 16 });
    await logits({ passes: 'default' });
    expect(programEntries()).toHaveLength(3);
  }, 120_000);

  it('rebuilds a damaged entry, with a warning', async () => {
    const fresh = await logits();
    const [name] = programEntries();
    const path = join(dir, 'wasm-programs', name);
    const bytes = readFileSync(path);
    writeFileSync(path, bytes.subarray(0, bytes.length - 100));
    clearCompileCache();
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const rebuilt = await logits();
    expect(warn.mock.calls.map((c) => String(c[0])).join('\n')).toMatch(/compile cache entry rebuilt: .*checksum mismatch/);
    expect(Array.from(rebuilt)).toEqual(Array.from(fresh));
    expect(readFileSync(path).equals(bytes)).toBe(true);
  }, 120_000);
});
