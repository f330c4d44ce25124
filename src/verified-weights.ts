// Weights found finite once (models/formats/finite.ts: no NaN or ±Inf) are not scanned again while
// their file is unchanged: the scan reads every weight byte a second time, ~0.1 s of each start of
// a 60 MB model and seconds for a large one. The compile cache (codegen/compile-cache.ts) keeps,
// per version of a checkpoint file, the names of the tensors that passed; a version is the file's
// real path, device, inode, size and modification and status-change times in nanoseconds, so any
// write to the file (which moves its ctime, whatever it does to mtime) or a replaced file makes a
// new version that is scanned in full again. Node only; a browser has no such cache.
import { realpathSync, statSync } from 'node:fs';
import { cacheGet, cacheKey, cachePut } from '../codegen/compile-cache.js';
import type { ModelSource } from '../models/open.js';

const NAMESPACE = 'verified-weights';
/** Bumped when the scan checks more than it did, so that older records are not trusted for it. */
const CHECK_VERSION = 1;

/** The source whose leaves skip the scan where a record says they passed it, and how to record this run's. */
export interface VerifiedSource {
  readonly source: ModelSource;
  /** Stores the tensors scanned so far (call once they have all loaded: a failed load stores nothing). */
  record(): void;
}

/** The cache key of this version of the file, or undefined where it is not one plain file (a shard index). */
function versionKey(path: string): string | undefined {
  if (path.endsWith('.index.json')) return undefined;
  try {
    const st = statSync(path, { bigint: true });
    if (!st.isFile()) return undefined;
    return cacheKey([NAMESPACE, String(CHECK_VERSION), realpathSync(path), `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`]);
  } catch {
    return undefined;
  }
}

function readRecord(key: string): Set<string> {
  const stored = cacheGet(NAMESPACE, key);
  if (stored.status === 'corrupt') console.warn(`tessera: compile cache entry rebuilt: ${stored.reason}`);
  if (stored.status !== 'hit') return new Set();
  try {
    const names: unknown = JSON.parse(Buffer.from(stored.payload).toString('utf8'));
    if (Array.isArray(names) && names.every((n) => typeof n === 'string')) return new Set(names);
  } catch { /* fall through: an entry this build cannot read */ }
  console.warn(`tessera: compile cache entry rebuilt: ${NAMESPACE}/${key}: not a list of tensor names`);
  return new Set();
}

/**
 * `source` with its leaves read unscanned where this version of its file passed the scan before.
 * Reads of byte ranges (weights quantized as they load) are scanned as before unless the whole
 * tensor passed, and record nothing.
 */
export function withVerifiedWeights(source: ModelSource): VerifiedSource {
  const key = versionKey(source.store.path);
  if (key === undefined) return { source, record: () => undefined };
  const { store } = source;
  const passed = readRecord(key);
  const scanned = new Set<string>();
  const wrapped: ModelSource = {
    ...source,
    readLeaf(name) {
      if (passed.has(name)) return store.read(name);
      const t = source.readLeaf(name);
      scanned.add(name);
      return t;
    },
    readLeafInto(name, dest) {
      if (passed.has(name)) return store.readInto(name, dest);
      source.readLeafInto(name, dest);
      scanned.add(name);
    },
    ...(source.readLeafRange && store.readRangeInto ? {
      readLeafRange(name: string, at: number, dest: Uint8Array) {
        if (passed.has(name)) store.readRangeInto!(name, at, dest);
        else source.readLeafRange!(name, at, dest);
      },
    } : {}),
  };
  return {
    source: wrapped,
    record() {
      const fresh = [...scanned].filter((n) => !passed.has(n));
      if (fresh.length === 0) return;
      for (const n of fresh) passed.add(n);
      const failure = cachePut(NAMESPACE, key, Buffer.from(JSON.stringify([...passed].sort()), 'utf8'));
      if (failure) console.warn(`tessera: ${failure} (running without it)`);
    },
  };
}
