// Weights that passed the NaN/Inf scan are not scanned again while their file is unchanged
// (src/verified-weights.ts): a later open reads them unscanned to the same bytes and logits; any
// write to the file, even of the same bytes, scans again (so a NaN written since is still refused);
// a damaged record is rebuilt with a warning; without the cache every open scans.
import { copyFileSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { setCompileCacheEnabled } from '../../codegen/compile-cache.js';
import { openModel, type ModelSource } from '../../models/open.js';
import { storageBytes } from '../../ir/dtype.js';
import { FormatError } from '../../models/formats/store.js';
import { Model } from '../../src/model.js';
import { withVerifiedWeights } from '../../src/verified-weights.js';
import { hasShared, sharedPath } from '../helpers/shared.js';

const HAVE = hasShared('models', 'stories260K', 'stories260K.bin');

let dir: string;
let cache: string;
let model: string;
let savedCache: string | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-verified-'));
  cache = join(dir, 'cache');
  model = join(dir, 'stories260K.bin');
  if (HAVE) {
    for (const f of readdirSync(sharedPath('models', 'stories260K'))) copyFileSync(sharedPath('models', 'stories260K', f), join(dir, f));
  }
  savedCache = process.env.TESSERA_CACHE_DIR;
  process.env.TESSERA_CACHE_DIR = cache;
});

afterEach(() => {
  if (savedCache === undefined) delete process.env.TESSERA_CACHE_DIR;
  else process.env.TESSERA_CACHE_DIR = savedCache;
  setCompileCacheEnabled(undefined);
  vi.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

/** The checkpoint's source with its scanning reads counted (the store's own reads are not scans). */
function countedSource(): { source: ModelSource; scans: () => number } {
  const base = openModel(model);
  let scans = 0;
  const source: ModelSource = {
    ...base,
    readLeaf(name) { scans++; return base.readLeaf(name); },
    readLeafInto(name, dest) { scans++; base.readLeafInto(name, dest); },
  };
  return { source, scans: () => scans };
}

/** Every weight of the model, read through `source` as an executor loads them. */
function readAll(source: ModelSource): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  for (const name of source.store.names()) {
    const { dtype, shape } = source.leafType(name);
    const bytes = new Uint8Array(storageBytes(dtype, shape as number[]));
    source.readLeafInto(name, bytes);
    out.set(name, bytes);
  }
  return out;
}

describe.skipIf(!HAVE)('verified weights', () => {
  it('reads weights that passed the scan unscanned, to the same bytes, until the file is written', () => {
    const first = countedSource();
    const v1 = withVerifiedWeights(first.source);
    const scanned = readAll(v1.source);
    const tensors = scanned.size;
    expect(first.scans()).toBe(tensors);
    v1.record();

    const second = countedSource();
    const unscanned = readAll(withVerifiedWeights(second.source).source);
    expect(second.scans()).toBe(0);
    expect(unscanned).toEqual(scanned);

    // The same bytes written back: a new version of the file (its ctime moved), scanned again.
    writeFileSync(model, readFileSync(model));
    const third = countedSource();
    readAll(withVerifiedWeights(third.source).source);
    expect(third.scans()).toBe(tensors);
  });

  it('still refuses a NaN written into a file whose weights passed before', () => {
    const v = withVerifiedWeights(openModel(model));
    readAll(v.source);
    v.record();
    // A NaN in the middle of the weights (past the 28-byte header and the embedding's first row).
    const fd = openSync(model, 'r+');
    writeSync(fd, new Uint8Array(new Float32Array([Number.NaN]).buffer), 0, 4, 4096);
    closeSync(fd);
    expect(() => readAll(withVerifiedWeights(openModel(model)).source)).toThrow(FormatError);
  });

  it('rebuilds a damaged record with a warning, scanning again', () => {
    const v = withVerifiedWeights(openModel(model));
    readAll(v.source);
    v.record();
    const folder = join(cache, 'verified-weights');
    const [entry] = readdirSync(folder);
    const bytes = readFileSync(join(folder, entry));
    bytes[bytes.length - 1] ^= 0xff;
    writeFileSync(join(folder, entry), bytes);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const again = countedSource();
    readAll(withVerifiedWeights(again.source).source);
    expect(warn.mock.calls.join('\n')).toMatch(/compile cache entry rebuilt: .*checksum mismatch/);
    expect(again.scans()).toBeGreaterThan(0);
  });

  it('scans on every open when the cache is off', () => {
    setCompileCacheEnabled(false);
    for (let i = 0; i < 2; i++) {
      const c = countedSource();
      const v = withVerifiedWeights(c.source);
      readAll(v.source);
      v.record();
      expect(c.scans()).toBeGreaterThan(0);
    }
  });

  it('gives the same logits on the CPU backend when the scan is skipped (Model.open records what it loaded)', { timeout: 300_000 }, async () => {
    const ids = [1, 400, 27, 99];
    const run = async () => {
      const m = await Model.open(model, { backend: 'wasm', threads: 1 });
      try {
        return await m.logits(ids);
      } finally {
        await m.dispose();
      }
    };
    const scanned = await run();
    // The open recorded every weight it loaded (the unit tests above show a record skips the scan).
    const folder = join(cache, 'verified-weights');
    expect(readdirSync(folder)).toHaveLength(1);
    const unscanned = await run();
    expect(readdirSync(folder)).toHaveLength(1);
    expect(unscanned).toEqual(scanned);
  });
});
