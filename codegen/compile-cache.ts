// The persistent compile cache: compiled artifacts (wasm modules today) stored on disk under a
// content hash of everything that determines them, so that a second run of the same model skips
// the compiler. Node only (it uses the file system); a browser build has no such cache.
//
// Layout: <dir>/<namespace>/<key>.bin, each entry `MAGIC ‖ sha256(payload) ‖ payload`, so a
// truncated or tampered entry is detected on read (and rebuilt by the caller), never trusted.
// Writes go to a temporary file in the same folder and are renamed into place (atomic on POSIX),
// so concurrent processes compiling the same key both succeed and readers never see half an entry.
// Hits refresh the entry's mtime; after a write, the oldest entries (by mtime) are evicted until
// the cache is under its size limit.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const MAGIC = Buffer.from('TSRCACHE1\n', 'latin1');
const HASH_BYTES = 32;
/** Default size limit; TESSERA_CACHE_MAX_MB overrides it. */
const DEFAULT_MAX_BYTES = 1024 * 1024 * 1024;

let enabledOverride: boolean | undefined;

/** Turns the cache off or on for this process (`--no-cache`); undefined goes back to TESSERA_NO_CACHE. */
export function setCompileCacheEnabled(enabled: boolean | undefined): void {
  enabledOverride = enabled;
}

/** TESSERA_CACHE_DIR, else $XDG_CACHE_HOME/tessera, else ~/.cache/tessera. */
export function compileCacheDir(): string {
  const env = process.env;
  if (env.TESSERA_CACHE_DIR) return env.TESSERA_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'tessera');
}

export function compileCacheEnabled(): boolean {
  if (enabledOverride !== undefined) return enabledOverride;
  const off = process.env.TESSERA_NO_CACHE;
  return !off || off === '0' || off === 'false';
}

function maxBytes(): number {
  const mb = Number(process.env.TESSERA_CACHE_MAX_MB);
  return Number.isFinite(mb) && mb > 0 ? mb * 1024 * 1024 : DEFAULT_MAX_BYTES;
}

/** The key of an entry: a SHA-256 over the parts, each length-prefixed so parts cannot run together. */
export function cacheKey(parts: readonly (string | Uint8Array)[]): string {
  const h = createHash('sha256');
  for (const p of parts) {
    const bytes = typeof p === 'string' ? Buffer.from(p, 'utf8') : p;
    h.update(`${bytes.length}:`).update(bytes);
  }
  return h.digest('hex');
}

export type CacheLookup =
  | { readonly status: 'hit'; readonly payload: Uint8Array<ArrayBuffer> }
  | { readonly status: 'miss' }
  /** The entry existed but failed its check; it has been removed. */
  | { readonly status: 'corrupt'; readonly reason: string };

function entryPath(namespace: string, key: string): string {
  if (!/^[a-z0-9-]+$/.test(namespace) || !/^[0-9a-f]{64}$/.test(key)) throw new Error(`bad compile-cache entry name ${namespace}/${key}`);
  return join(compileCacheDir(), namespace, `${key}.bin`);
}

/** Reads and checks an entry. Never throws for a missing, unreadable or damaged entry. */
export function cacheGet(namespace: string, key: string): CacheLookup {
  if (!compileCacheEnabled()) return { status: 'miss' };
  const path = entryPath(namespace, key);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    return { status: 'miss' };
  }
  const reason = checkEntry(bytes);
  if (reason) {
    try { unlinkSync(path); } catch { /* another process removed or replaced it */ }
    return { status: 'corrupt', reason: `${path}: ${reason}` };
  }
  try {
    const now = new Date();
    utimesSync(path, now, now);
  } catch { /* read-only cache: still a hit */ }
  const payload = new Uint8Array(bytes.length - MAGIC.length - HASH_BYTES);
  payload.set(bytes.subarray(MAGIC.length + HASH_BYTES));
  return { status: 'hit', payload };
}

function checkEntry(bytes: Buffer): string | undefined {
  if (bytes.length < MAGIC.length + HASH_BYTES || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) return 'not a Tessera cache entry (bad header)';
  const want = bytes.subarray(MAGIC.length, MAGIC.length + HASH_BYTES);
  const got = createHash('sha256').update(bytes.subarray(MAGIC.length + HASH_BYTES)).digest();
  return got.equals(want) ? undefined : 'checksum mismatch (truncated or modified)';
}

/**
 * Stores an entry atomically and trims the cache to its limit. Failures (read-only or full disk)
 * are returned as a message for the caller to warn about; they never fail the compile.
 */
export function cachePut(namespace: string, key: string, payload: Uint8Array): string | undefined {
  if (!compileCacheEnabled()) return undefined;
  const path = entryPath(namespace, key);
  const folder = join(compileCacheDir(), namespace);
  const tmp = join(folder, `.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
  try {
    mkdirSync(folder, { recursive: true });
    const hash = createHash('sha256').update(payload).digest();
    writeFileSync(tmp, Buffer.concat([MAGIC, hash, payload]));
    renameSync(tmp, path);
  } catch (e) {
    try { rmSync(tmp, { force: true }); } catch { /* nothing to clean */ }
    return `could not write the compile cache at ${folder}: ${(e as Error).message}`;
  }
  evict(maxBytes());
  return undefined;
}

export interface CacheEntryInfo {
  readonly namespace: string;
  readonly key: string;
  readonly bytes: number;
  readonly lastUsed: Date;
}

/** Every entry, most recently used first. */
export function listCache(): CacheEntryInfo[] {
  const root = compileCacheDir();
  const out: CacheEntryInfo[] = [];
  let namespaces: string[];
  try {
    namespaces = readdirSync(root);
  } catch {
    return out;
  }
  for (const namespace of namespaces) {
    let names: string[];
    try {
      names = readdirSync(join(root, namespace));
    } catch {
      continue;
    }
    for (const name of names) {
      if (!name.endsWith('.bin')) continue;
      try {
        const st = statSync(join(root, namespace, name));
        out.push({ namespace, key: name.slice(0, -4), bytes: st.size, lastUsed: st.mtime });
      } catch { /* removed meanwhile */ }
    }
  }
  return out.sort((a, b) => b.lastUsed.getTime() - a.lastUsed.getTime());
}

/** Removes every entry; returns how many were removed. */
export function clearCache(): number {
  const entries = listCache();
  for (const e of entries) rmSync(join(compileCacheDir(), e.namespace, `${e.key}.bin`), { force: true });
  return entries.length;
}

function evict(limit: number): void {
  const entries = listCache();
  let total = entries.reduce((n, e) => n + e.bytes, 0);
  for (let i = entries.length - 1; i > 0 && total > limit; i--) {
    const e = entries[i];
    try {
      unlinkSync(join(compileCacheDir(), e.namespace, `${e.key}.bin`));
      total -= e.bytes;
    } catch { /* another process evicted it */ }
  }
}
