// weights.bin over fetch, hashed as it streams (sha256.ts), fetched in byte ranges of at most
// `rangeBytes` (a file over 2 GiB fits no single buffer a browser hands out), and kept where the
// backends can read each tensor synchronously (ArtifactFiles.readInto):
// - in a worker, in the origin-private file system (OPFS), written and read through sync access
//   handles: no JS copy of the file exists; tensors go from the file straight into wasm memory or
//   a GPU upload, and a reload finds the file there (named by its sha256) and downloads nothing;
// - on a page's main thread (no sync access there), in one buffer, kept in the Cache API.
import { ArtifactError } from '../../codegen/artifact/manifest.js';
import { Sha256 } from './sha256.js';

/** A weights file the reader takes tensors from. */
export interface WeightsStore {
  readonly size: number;
  /** The sha256 of what was stored (computed while downloading; the reader compares it). */
  readonly sha256: string;
  /** True when it came from an earlier download rather than the network. */
  readonly cached: boolean;
  readInto(offset: number, dest: Uint8Array): void;
  /** The whole file (a copy; nothing in loading needs it). */
  bytes(): Uint8Array<ArrayBuffer>;
  /** Lets go of the file once the backend holds the weights. */
  close(): void;
}

export interface WeightsRequest {
  readonly url: URL;
  /** The manifest's entry: name, size and checksum. */
  readonly file: string;
  readonly bytes: number;
  readonly sha256: string;
  /** Bytes per ranged request (default 1 GiB). */
  readonly rangeBytes?: number;
  /** The store's name (Cache API and OPFS folder); undefined: keep nothing. */
  readonly cacheName?: string;
  readonly onBytes: (n: number) => void;
}

/** Default bytes per request: a file up to this size comes in one response. */
export const DEFAULT_RANGE_BYTES = 2 ** 30;

/** The file fetched in ranges; `write` gets each piece and its offset, in order. */
export async function fetchRanges(url: URL, total: number, rangeBytes: number, write: (piece: Uint8Array, offset: number) => void): Promise<void> {
  if (!Number.isSafeInteger(rangeBytes) || rangeBytes < 1) throw new RangeError(`rangeBytes must be a positive integer, got ${rangeBytes}`);
  for (let start = 0; start < total || (total === 0 && start === 0); start += rangeBytes) {
    const end = Math.min(total, start + rangeBytes) - 1;
    const whole = start === 0 && end === total - 1;
    let res: Response;
    try {
      res = await fetch(url, whole ? {} : { headers: { Range: `bytes=${start}-${end}` } });
    } catch (e) {
      throw new ArtifactError(url.href, `could not be fetched: ${(e as Error).message}`);
    }
    if (!res.ok) throw new ArtifactError(url.href, `the server answered ${res.status} ${res.statusText}`);
    if (!whole && res.status !== 206) {
      throw new ArtifactError(url.href, `the server ignored the byte range ${start}-${end} (answered ${res.status}, not 206); a file over ${rangeBytes} bytes is fetched in ranges: serve it with a server that supports Range requests (tessera serve-static does)`);
    }
    let at = start;
    if (res.body) {
      const reader = res.body.getReader();
      for (let r = await reader.read(); !r.done; r = await reader.read()) {
        if (at + r.value.length > end + 1) throw new ArtifactError(url.href, `the response for bytes ${start}-${end} is longer than asked`);
        write(r.value, at);
        at += r.value.length;
      }
    } else {
      const all = new Uint8Array(await res.arrayBuffer());
      write(all, at);
      at += all.length;
    }
    if (at !== end + 1) throw new ArtifactError(url.href, `the response ended after ${at - start} of the ${end + 1 - start} bytes asked for (bytes ${start}-${end}): the download was cut off, or the file is not the size the manifest says`);
    if (total === 0) break;
  }
}

interface SyncHandle {
  read(buffer: Uint8Array, opts: { at: number }): number;
  write(buffer: Uint8Array, opts: { at: number }): number;
  truncate(size: number): void;
  getSize(): number;
  flush(): void;
  close(): void;
}
type SyncFileHandle = FileSystemFileHandle & { createSyncAccessHandle(opts?: { mode: string }): Promise<SyncHandle> };

/** Whether this thread can keep weights in OPFS and read them synchronously (a worker can; a page cannot). */
export function canStreamToFiles(): boolean {
  const handle = (globalThis as { FileSystemFileHandle?: { prototype: object } }).FileSystemFileHandle;
  return Boolean(globalThis.navigator?.storage?.getDirectory) && handle !== undefined && 'createSyncAccessHandle' in handle.prototype;
}

/** weights.bin in OPFS (a worker), downloaded unless a verified copy is there already. */
export async function opfsWeights(req: WeightsRequest & { readonly cacheName: string }): Promise<WeightsStore> {
  const root = await navigator.storage.getDirectory();
  const dir = await root.getDirectoryHandle(req.cacheName, { create: true });
  // A file is named by its checksum, and marked complete only once its digest matched.
  const name = `${req.sha256}.bin`;
  const done = `${req.sha256}.verified`;
  const exists = async (n: string) => dir.getFileHandle(n).then(() => true, () => false);
  let cached = await exists(done);
  let sha256 = req.sha256;
  if (cached) {
    const size = (await (await dir.getFileHandle(name)).getFile()).size;
    if (size !== req.bytes) cached = false;
  }
  if (!cached) {
    await dir.removeEntry(done).catch(() => undefined);
    const file = (await dir.getFileHandle(name, { create: true })) as SyncFileHandle;
    const w = await file.createSyncAccessHandle();
    const hash = new Sha256();
    try {
      w.truncate(0);
      await fetchRanges(req.url, req.bytes, req.rangeBytes ?? DEFAULT_RANGE_BYTES, (piece, offset) => {
        w.write(piece, { at: offset });
        hash.update(piece);
        req.onBytes(piece.length);
      });
      w.flush();
    } finally {
      w.close();
    }
    sha256 = hash.hex();
    if (sha256 === req.sha256) await dir.getFileHandle(done, { create: true });
    else await dir.removeEntry(name).catch(() => undefined);
  }
  const handle = sha256 === req.sha256 ? await openForReading((await dir.getFileHandle(name)) as SyncFileHandle) : undefined;
  return new OpfsWeights(req, handle, sha256, cached);
}

/** Read-only handles may be open in several workers at once (another tab with the same model). */
async function openForReading(file: SyncFileHandle): Promise<SyncHandle> {
  try {
    return await file.createSyncAccessHandle({ mode: 'read-only' });
  } catch {
    return file.createSyncAccessHandle();
  }
}

class OpfsWeights implements WeightsStore {
  /** For engines that cannot read a file into shared memory: tensors pass through this, piece by piece. */
  private bounce?: Uint8Array;
  /** Whether read() took a view of a SharedArrayBuffer (wasm's threaded memory); unknown until tried. */
  private sharedReads?: boolean;

  constructor(private readonly req: WeightsRequest, private handle: SyncHandle | undefined, readonly sha256: string, readonly cached: boolean) {}

  get size(): number {
    return this.req.bytes;
  }

  readInto(offset: number, dest: Uint8Array): void {
    const h = this.open();
    if (dest.buffer instanceof ArrayBuffer || this.sharedReads !== false) {
      try {
        this.readAll(h, offset, dest);
        return;
      } catch (e) {
        if (dest.buffer instanceof ArrayBuffer || !(e instanceof TypeError)) throw e;
        this.sharedReads = false;
      }
    }
    this.readBounced(h, offset, dest);
  }

  bytes(): Uint8Array<ArrayBuffer> {
    const out = new Uint8Array(this.req.bytes);
    this.readAll(this.open(), 0, out);
    return out;
  }

  close(): void {
    this.handle?.close();
    this.handle = undefined;
  }

  private open(): SyncHandle {
    if (!this.handle) throw new ArtifactError(this.req.url.href, `${this.req.file} is closed: its weights were read when the model was opened (or it did not match its checksum)`);
    return this.handle;
  }

  private readAll(h: SyncHandle, offset: number, dest: Uint8Array): void {
    for (let done = 0; done < dest.length;) {
      const n = h.read(dest.subarray(done), { at: offset + done });
      if (n <= 0) throw new ArtifactError(this.req.url.href, `${this.req.file} ends at byte ${offset + done}, before ${offset + dest.length}`);
      done += n;
    }
  }

  private readBounced(h: SyncHandle, offset: number, dest: Uint8Array): void {
    this.bounce ??= new Uint8Array(4 << 20);
    for (let done = 0; done < dest.length;) {
      const piece = this.bounce.subarray(0, Math.min(this.bounce.length, dest.length - done));
      this.readAll(h, offset + done, piece);
      dest.set(piece, done);
      done += piece.length;
    }
  }
}

/** weights.bin in one buffer (a page's main thread), from the Cache API when it holds this checksum. */
export async function memoryWeights(req: WeightsRequest, cache: Cache | undefined): Promise<WeightsStore> {
  const key = `${req.url.href}?sha256=${req.sha256}`;
  const hit = cache ? await cache.match(key) : undefined;
  if (hit) {
    const bytes = new Uint8Array(await hit.arrayBuffer());
    if (bytes.length === req.bytes) return new MemoryWeights(req, bytes, req.sha256, true);
  }
  const bytes = new Uint8Array(req.bytes);
  const hash = new Sha256();
  await fetchRanges(req.url, req.bytes, req.rangeBytes ?? DEFAULT_RANGE_BYTES, (piece, offset) => {
    bytes.set(piece, offset);
    hash.update(piece);
    req.onBytes(piece.length);
  });
  const sha256 = hash.hex();
  if (cache && sha256 === req.sha256) await cache.put(key, new Response(bytes)).catch(() => undefined);
  return new MemoryWeights(req, bytes, sha256, false);
}

class MemoryWeights implements WeightsStore {
  constructor(private readonly req: WeightsRequest, private data: Uint8Array<ArrayBuffer> | undefined, readonly sha256: string, readonly cached: boolean) {}

  get size(): number {
    return this.req.bytes;
  }

  readInto(offset: number, dest: Uint8Array): void {
    const b = this.bytes();
    if (offset + dest.length > b.length) throw new ArtifactError(this.req.url.href, `${this.req.file} ends at byte ${b.length}, before ${offset + dest.length}`);
    dest.set(b.subarray(offset, offset + dest.length));
  }

  bytes(): Uint8Array<ArrayBuffer> {
    if (!this.data) throw new ArtifactError(this.req.url.href, `${this.req.file} was let go once the model was opened`);
    return this.data;
  }

  /** The backend holds the weights now: the buffer may be collected. */
  close(): void {
    this.data = undefined;
  }
}
