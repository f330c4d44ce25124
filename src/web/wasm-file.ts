// The CPU module (cpu.wasm) fetched through the browser's HTTP cache and compiled as it streams
// (WebAssembly.compileStreaming): compiling starts as the file arrives, beside the weights'
// download, and Chromium may keep the module's optimized code for the next visit.
//
// Why the HTTP cache: V8 runs a new module in baseline (Liftoff) code and moves a function to
// optimized (TurboFan) code only after it has run about 13 MB of its own code (Chromium 156's
// --wasm-tiering-budget; Node 20's V8 tiers up after 1.8 MB), so a short generation on a small
// model runs mostly in baseline code. Chromium stores a streamed module's optimized code in its
// code cache beside the HTTP response it came from, and a later compile of that response starts
// from it; a module streamed from a Cache API response (which carries no code-cache handler) or
// compiled from bytes starts from nothing on every visit. Measured in headless Chromium 156 with a
// persistent profile, by the trace events v8.wasm.cachedModule and, on the next visit,
// v8.wasm.moduleCacheHit: with --js-flags=--wasm-caching-timeout-ms=0 every visit after the first
// hit the cache; with the default flags V8 stores a module this small only after its optimized
// code has stopped changing for 2 s, and no store came within 15 s of a generation there.
// Incognito profiles keep no code cache.
import { ArtifactError } from '../../codegen/artifact/manifest.js';
import { readBody } from './body.js';
import { Sha256 } from './sha256.js';

type Bytes = Uint8Array<ArrayBuffer>;

const WASM_TYPE = 'application/wasm';

export interface StreamedWasm {
  readonly bytes: Bytes;
  /** The module compiled from the same response as `bytes`; undefined where it could not stream (then compile the bytes). */
  readonly module: Promise<WebAssembly.Module | undefined>;
}

/**
 * cpu.wasm at `url`, taken from the HTTP cache whatever its age when the cached copy has the
 * manifest's checksum (the checksum, not the server, says whether it is current), else fetched
 * afresh; `keep` false (the load option cache: false) always downloads and keeps nothing.
 * Undefined when the server has no such file. A bad checksum after the fresh fetch is left for the
 * artifact reader to report.
 */
export async function fetchWasm(url: URL, sha256: string, keep: boolean, onBytes: (n: number) => void): Promise<StreamedWasm | undefined> {
  if (!keep) return fetchOnce(url, 'no-store', onBytes);
  const cached = await fetchOnce(url, 'force-cache', onBytes);
  if (!cached || new Sha256().update(cached.bytes).hex() === sha256) return cached;
  // An older artifact's cpu.wasm from the HTTP cache: its module is dropped, the file fetched again.
  return fetchOnce(url, 'reload', onBytes);
}

async function fetchOnce(url: URL, mode: RequestCache, onBytes: (n: number) => void): Promise<StreamedWasm | undefined> {
  let res: Response;
  try {
    res = await fetch(url, { cache: mode });
  } catch (e) {
    throw new ArtifactError(url.href, `could not be fetched: ${(e as Error).message}`);
  }
  if (res.status === 404) return undefined;
  if (!res.ok) throw new ArtifactError(url.href, `the server answered ${res.status} ${res.statusText}`);
  // Both read one body: the bytes hashed are the bytes compiled.
  const copy = res.clone();
  const module = compileStreamed(res);
  return { bytes: await readBody(copy, onBytes), module };
}

/** The module compiled while the response streams, or undefined where it cannot stream (the caller compiles the bytes, which reports any error). */
function compileStreamed(res: Response): Promise<WebAssembly.Module | undefined> {
  const streams = typeof WebAssembly.compileStreaming === 'function' && res.headers.get('content-type') === WASM_TYPE;
  return streams ? WebAssembly.compileStreaming(res).catch(() => undefined) : Promise.resolve(undefined);
}
