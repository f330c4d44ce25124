// Where a browser gets an artifact's files: a URL (fetched, with progress, and kept so a reload
// does not download again: small files in the Cache API, cpu.wasm through the HTTP cache and
// compiled as it streams (wasm-file.ts), weights.bin as weights.ts says — streamed into OPFS in a
// worker, never held whole in memory), a Map of names to bytes or Blobs (e.g. files
// dropped on the page), or a FileSystemDirectoryHandle (showDirectoryPicker). Every file the
// manifest names is gathered and hashed (SubtleCrypto, or while streaming); the shared reader
// (codegen/artifact/load.ts) then checks the digests as Node does.
import { type ArtifactFiles, MemoryArtifactFiles } from '../../codegen/artifact/files.js';
import { ArtifactError, type ArtifactManifest, MANIFEST_FILE } from '../../codegen/artifact/manifest.js';
import { MANIFEST_CHECKSUM_FILE } from '../../codegen/artifact/validate.js';
import { readBody } from './body.js';
import { fetchWasm } from './wasm-file.js';
import { canStreamToFiles, memoryWeights, opfsWeights, type WeightsStore } from './weights.js';

/** What Model.open takes in a browser. */
export type ArtifactSource = string | URL | ReadonlyMap<string, Uint8Array | Blob> | FileSystemDirectoryHandle;

/** Download progress: `done` of `total` bytes of the artifact, counting files already cached. */
export interface DownloadEvent {
  readonly phase: 'download';
  readonly done: number;
  readonly total: number;
  readonly unit: 'bytes';
  /** The file being read. */
  readonly file: string;
  /** Bytes of the total that came from the cache rather than the network. */
  readonly cached: number;
}

export interface GatherOptions {
  readonly progress?: (e: DownloadEvent) => void;
  /** Cache API store (and OPFS folder) for fetched files (default 'tessera-artifacts'); false: always download. */
  readonly cache?: string | false;
  /** weights.bin is fetched in byte ranges of at most this many bytes (default 1 GiB). */
  readonly rangeBytes?: number;
}

/**
 * An artifact's files in memory, but for weights.bin where a WeightsStore serves it, and with the
 * CPU module already compiled where it was streamed (wasm-file.ts).
 */
export class WebArtifactFiles extends MemoryArtifactFiles {
  constructor(
    location: string,
    files: ReadonlyMap<string, Bytes>,
    digests: ReadonlyMap<string, string>,
    private readonly weights?: { readonly file: string; readonly store: WeightsStore },
    private readonly modules: ReadonlyMap<string, Promise<WebAssembly.Module | undefined>> = new Map(),
  ) {
    super(location, files, digests);
  }

  override size(file: string): number | undefined {
    return file === this.weights?.file ? this.weights.store.size : super.size(file);
  }

  override bytes(file: string): Bytes {
    return file === this.weights?.file ? this.weights.store.bytes() : super.bytes(file);
  }

  override readInto(file: string, offset: number, dest: Uint8Array): void {
    if (file === this.weights?.file) this.weights.store.readInto(offset, dest);
    else super.readInto(file, offset, dest);
  }

  override sha256(file: string): string {
    return file === this.weights?.file ? this.weights.store.sha256 : super.sha256(file);
  }

  compiledWasm(file: string): Promise<WebAssembly.Module | undefined> {
    return this.modules.get(file) ?? Promise.resolve(undefined);
  }

  /** The backend holds the weights: the file (or buffer) is let go. */
  release(): void {
    this.weights?.store.close();
  }
}

/** Lets go of what the files hold once a backend has the weights (a no-op for other sources). */
export function releaseWeights(files: ArtifactFiles): void {
  if (files instanceof WebArtifactFiles) files.release();
}

type Bytes = Uint8Array<ArrayBuffer>;

/** Every file the manifest names, with its sha256 where the manifest gives one. */
function listedFiles(m: ArtifactManifest): { file: string; sha256?: string }[] {
  const out = [{ file: m.weights.file, sha256: m.weights.sha256 }];
  for (const [file, sha256] of Object.entries(m.targets.webgpu?.files ?? {})) out.push({ file, sha256 });
  const wasm = m.targets.wasm;
  if (wasm) out.push({ file: wasm.file, sha256: wasm.sha256 });
  if (wasm?.source) out.push({ file: wasm.source.file, sha256: wasm.source.sha256 });
  for (const [file, sha256] of Object.entries(m.tokenizer?.files ?? {})) out.push({ file, sha256 });
  return out;
}

async function sha256Hex(bytes: Bytes): Promise<string> {
  if (!globalThis.crypto?.subtle) throw new ArtifactError('artifact', 'checking checksums needs SubtleCrypto, which browsers give only to secure contexts: serve the page over https or from localhost');
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The manifest as JSON (unchecked: the reader validates it), for the list of files to gather. */
function parseManifest(location: string, bytes: Bytes): ArtifactManifest {
  try {
    const m = JSON.parse(new TextDecoder().decode(bytes)) as ArtifactManifest;
    listedFiles(m);
    return m;
  } catch (e) {
    throw new ArtifactError(location, `${MANIFEST_FILE} is not a Tessera artifact manifest (${(e as Error).message})`);
  }
}

/** One file read: its bytes, whether they came from a cache, and the module compiled from them (cpu.wasm, wasm-file.ts). */
interface ReadResult {
  readonly bytes: Bytes;
  readonly cached: boolean;
  readonly module?: Promise<WebAssembly.Module | undefined>;
}

/** Reads one file by name; undefined when it does not exist. */
type ReadFile = (file: string, onBytes: (n: number) => void) => Promise<ReadResult | undefined>;

/** weights.bin fetched into a store, reporting bytes as they arrive. */
type FetchWeights = (m: ArtifactManifest, onBytes: (n: number) => void) => Promise<WeightsStore>;

/** Gathers the manifest, its checksum and every file it names, then hashes them all (weights.bin as it streams, where `weights` fetches it). */
async function gather(location: string, read: ReadFile, opts: GatherOptions, weights?: FetchWeights): Promise<ArtifactFiles> {
  const files = new Map<string, Bytes>();
  const modules = new Map<string, Promise<WebAssembly.Module | undefined>>();
  const need = async (file: string, onBytes: (n: number) => void = () => undefined) => {
    const got = await read(file, onBytes);
    if (got) files.set(file, got.bytes);
    if (got?.module) modules.set(file, got.module);
    return got;
  };
  const manifestBytes = (await need(MANIFEST_FILE))?.bytes;
  if (!manifestBytes) throw new ArtifactError(location, `there is no ${MANIFEST_FILE} (is this a compiled artifact? make one with \`tessera compile -m MODEL -o DIR\`)`);
  await need(MANIFEST_CHECKSUM_FILE);
  const manifest = parseManifest(location, manifestBytes);
  const listed = listedFiles(manifest);
  const sizes = new Map<string, number>();
  let done = 0;
  let cached = 0;
  const total = () => [...sizes.values()].reduce((a, b) => a + b, 0);
  // Sizes are known only as files arrive; weights.bin's comes from the manifest, and it dominates.
  sizes.set(manifest.weights.file, manifest.weights.bytes);
  let store: WeightsStore | undefined;
  for (const { file } of listed) {
    if (files.has(file)) continue;
    if (weights && file === manifest.weights.file) {
      const report = () => opts.progress?.({ phase: 'download', done, total: Math.max(total(), done), unit: 'bytes', file, cached });
      store = await weights(manifest, (n) => {
        done += n;
        report();
      });
      if (store.cached) {
        done += store.size;
        cached += store.size;
      }
      report();
      continue;
    }
    let seen = 0;
    const got = await need(file, (n) => {
      seen += n;
      done += n;
      opts.progress?.({ phase: 'download', done, total: Math.max(total(), done), unit: 'bytes', file, cached });
    });
    if (got) {
      // A cached or non-streamed file reports its bytes at once.
      done += got.bytes.length - seen;
      if (got.cached) cached += got.bytes.length;
      sizes.set(file, got.bytes.length);
      opts.progress?.({ phase: 'download', done, total: Math.max(total(), done), unit: 'bytes', file, cached });
    }
  }
  const digests = new Map<string, string>();
  await Promise.all([...files].map(async ([file, bytes]) => digests.set(file, await sha256Hex(bytes))));
  return new WebArtifactFiles(location, files, digests, store && { file: manifest.weights.file, store }, modules);
}

/** The files of an artifact at `url` (a folder URL; a trailing slash is added). */
export async function fetchArtifactFiles(url: string | URL, opts: GatherOptions = {}): Promise<ArtifactFiles> {
  const base = new URL(String(url).endsWith('/') ? String(url) : `${String(url)}/`, globalThis.location?.href);
  const cacheName = opts.cache === false ? undefined : (opts.cache ?? 'tessera-artifacts');
  const cache = cacheName === undefined || !globalThis.caches ? undefined : await caches.open(cacheName);
  // The manifest is fetched every time (it is small, and says whether the rest changed); other
  // files are cached under their checksum, so a recompiled artifact is downloaded afresh.
  let manifest: ArtifactManifest | undefined;
  const shaOf = (file: string) => (manifest ? listedFiles(manifest).find((f) => f.file === file)?.sha256 : undefined);
  const read: ReadFile = async (file, onBytes) => {
    const fileUrl = new URL(file, base);
    const sha = shaOf(file);
    const key = sha ? `${fileUrl.href}?sha256=${sha}` : undefined;
    const hit = key && cache ? await cache.match(key) : undefined;
    if (sha && file === manifest?.targets.wasm?.file) {
      // Through the HTTP cache, not the Cache API (wasm-file.ts says why); the Cache API keeps a copy for offline visits.
      const streamed = await fetchWasm(fileUrl, sha, cacheName !== undefined, onBytes).catch((e: unknown) => {
        if (!hit) throw e;
      });
      if (streamed) {
        if (!hit && key && cache) await cache.put(key, new Response(streamed.bytes)).catch(() => undefined);
        return { ...streamed, cached: hit !== undefined };
      }
    }
    if (hit) return { bytes: new Uint8Array(await hit.arrayBuffer()), cached: true };
    let res: Response;
    try {
      res = await fetch(fileUrl, { cache: sha ? 'default' : 'no-cache' });
    } catch (e) {
      throw new ArtifactError(base.href, `${file} could not be fetched: ${(e as Error).message}`);
    }
    if (res.status === 404) return undefined;
    if (!res.ok) throw new ArtifactError(base.href, `${file}: the server answered ${res.status} ${res.statusText}`);
    const bytes = await readBody(res, onBytes);
    if (file === MANIFEST_FILE) manifest = parseManifest(base.href, bytes);
    if (key && cache) await cache.put(key, new Response(bytes)).catch(() => undefined);
    return { bytes, cached: false };
  };
  const weights: FetchWeights = (m, onBytes) => {
    const req = { url: new URL(m.weights.file, base), file: m.weights.file, bytes: m.weights.bytes, sha256: m.weights.sha256, rangeBytes: opts.rangeBytes, onBytes };
    if (cacheName !== undefined && canStreamToFiles()) return opfsWeights({ ...req, cacheName });
    return memoryWeights(req, cache);
  };
  return gather(base.href, read, opts, weights);
}

/** The files of an artifact given as name → bytes (or Blob), names relative to the artifact folder. */
export function mapArtifactFiles(map: ReadonlyMap<string, Uint8Array | Blob>, opts: GatherOptions = {}, location = 'artifact'): Promise<ArtifactFiles> {
  return gather(location, async (file) => {
    const v = map.get(file);
    if (v === undefined) return undefined;
    const bytes = v instanceof Uint8Array ? new Uint8Array(v) : new Uint8Array(await v.arrayBuffer());
    return { bytes, cached: false };
  }, opts);
}

/** The files of an artifact folder the user picked (showDirectoryPicker). */
export function directoryArtifactFiles(dir: FileSystemDirectoryHandle, opts: GatherOptions = {}): Promise<ArtifactFiles> {
  return gather(dir.name, async (file) => {
    const parts = file.split('/');
    let d = dir;
    try {
      for (const p of parts.slice(0, -1)) d = await d.getDirectoryHandle(p);
      const f = await (await d.getFileHandle(parts[parts.length - 1])).getFile();
      return { bytes: new Uint8Array(await f.arrayBuffer()), cached: false };
    } catch (e) {
      if ((e as DOMException).name === 'NotFoundError') return undefined;
      throw e;
    }
  }, opts);
}

/** Any of the sources Model.open takes. */
export function artifactFiles(source: ArtifactSource, opts: GatherOptions = {}): Promise<ArtifactFiles> {
  if (typeof source === 'string' || source instanceof URL) return fetchArtifactFiles(source, opts);
  if (source instanceof Map) return mapArtifactFiles(source, opts);
  if (typeof (source as FileSystemDirectoryHandle).getDirectoryHandle === 'function') return directoryArtifactFiles(source as FileSystemDirectoryHandle, opts);
  throw new TypeError('Model.open: the artifact must be a URL, a Map of file names to bytes or Blobs, or a FileSystemDirectoryHandle');
}
