// The lowering cache: CPU programs (kernel bindings, dims, memory plans) and their compiled module,
// stored in the compile cache under a hash of the final graphs' text, the bounds, the wasm features
// and the code generator's own files. A hit rebuilds the programs from data, as an artifact's are
// (serialize.ts), so a second run of a model neither lowers its graphs nor imports the emitters or
// AssemblyScript — which also lets an install without AssemblyScript run a model cached before.
//
// The module's bytes are kept in the entry itself rather than by reference to the compiler's own
// entry (asc.ts), whose key needs asc's version: an entry stays usable where asc is absent, and
// one read serves the whole start. Entry payload: u32 LE header length ‖ JSON header ‖ wasm bytes.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Graph } from '../../ir/graph.js';
import type { DimBounds } from '../../ir/memory.js';
import { printGraph } from '../../ir/printer.js';
import { cacheGet, cacheKey, cachePut, compileCacheEnabled } from '../compile-cache.js';
import { defaultWasmFeatures } from './features.js';
import type { CompiledModule } from './module.js';
import type { WasmProgram } from './program.js';
import { moduleFromBinary, wasmProgramFromData, type WasmProgramData, wasmProgramToData } from './serialize.js';

const NAMESPACE = 'wasm-programs';

interface StoredPrograms {
  /** Kernel names in the module's dispatch order. */
  readonly kernels: readonly string[];
  readonly features: readonly string[];
  readonly programs: Readonly<Record<string, WasmProgramData>>;
}

export interface CompiledPrograms<K extends string> {
  readonly module: CompiledModule;
  readonly programs: Readonly<Record<K, WasmProgram>>;
}

let fingerprint: string | null | undefined;

/**
 * What identifies this build of the code generator, so an entry never outlives the code that
 * wrote it. Compiled (dist/, or the CLI's bundle in dist/cli/): the file this code sits in, its
 * size and mtime — tsc and the bundler rewrite every output on each build, so any rebuild changes
 * it — and the package version, which an install or upgrade changes (npm normalizes mtimes); one
 * stat, where scanning codegen/ and ir/ took 30–200 ms of start-up. From sources (.ts, under
 * vitest): every module of codegen/ and ir/, as an edit rebuilds nothing. null where neither
 * holds (no package.json above the file): then nothing is cached.
 */
function generatorFingerprint(): string | null {
  if (fingerprint !== undefined) return fingerprint;
  const here = fileURLToPath(import.meta.url);
  const ext = extname(here);
  const stamp = (path: string) => {
    const st = statSync(path);
    return `${path}:${st.size}:${st.mtimeMs}`;
  };
  try {
    if (ext === '.js') {
      const pkg = packageAbove(dirname(here));
      fingerprint = pkg ? cacheKey([`${pkg.name}@${pkg.version}`, stamp(here)]) : null;
    } else {
      const root = join(dirname(here), '..', '..');
      const parts = ['codegen', 'ir'].flatMap((folder) =>
        readdirSync(join(root, folder), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith(ext)).sort().map((f) => stamp(join(root, folder, f))));
      fingerprint = parts.length > 0 ? cacheKey(parts) : null;
    }
  } catch {
    fingerprint = null;
  }
  return fingerprint;
}

/** The nearest package.json at or above `dir` (dist/codegen/wasm/ and dist/cli/ sit at different depths). */
function packageAbove(dir: string): { name?: string; version?: string } | undefined {
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

function entryKey(graphs: Readonly<Record<string, Graph>>, bounds: DimBounds, features: readonly string[]): string | undefined {
  const generator = generatorFingerprint();
  if (generator === null || !compileCacheEnabled()) return undefined;
  const names = Object.keys(graphs).sort();
  return cacheKey([NAMESPACE, generator, features.join(','), JSON.stringify(bounds), ...names.flatMap((n) => [n, printGraph(graphs[n])])]);
}

function encode(compiled: CompiledPrograms<string>): Uint8Array {
  const header: StoredPrograms = {
    kernels: compiled.module.kernels.map((k) => k.name),
    features: compiled.module.features,
    programs: Object.fromEntries(Object.entries(compiled.programs).map(([n, p]) => [n, wasmProgramToData(p)])),
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const out = new Uint8Array(4 + json.length + compiled.module.binary.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 4);
  out.set(compiled.module.binary, 4 + json.length);
  return out;
}

async function decode<K extends string>(payload: Uint8Array, graphs: Readonly<Record<K, Graph>>): Promise<{ compiled: CompiledPrograms<K>; kernels: number }> {
  const length = new DataView(payload.buffer, payload.byteOffset).getUint32(0, true);
  const header = JSON.parse(Buffer.from(payload.subarray(4, 4 + length)).toString('utf8')) as StoredPrograms;
  const binary = payload.slice(4 + length);
  const programs = {} as Record<K, WasmProgram>;
  for (const name of Object.keys(graphs) as K[]) {
    const data = header.programs[name];
    if (!data) throw new Error(`no program for graph ${name}`);
    programs[name] = wasmProgramFromData(data, graphs[name]);
  }
  return { compiled: { module: await moduleFromBinary(binary, header.kernels, header.features), programs }, kernels: header.kernels.length };
}

/**
 * `build`, with the compiler's process starting while it generates the kernels, so that Node's
 * start and asc's import (asc.ts is small; asc loads in that process) overlap the code generation.
 * Where asc's own cache then holds the module (a rebuild of Tessera, same kernels), the process
 * goes unused and exits after its wait.
 */
async function warmBuild<T>(build: () => Promise<T>): Promise<T> {
  (await import('./asc.js')).warmAssemblyScript();
  return build();
}

/**
 * The CPU programs and module for `graphs` at `bounds`: from the compile cache when this build
 * lowered the same graphs before, else from `build` (lowering and compiling), then stored.
 */
export async function cachedWasmPrograms<K extends string>(
  graphs: Readonly<Record<K, Graph>>,
  bounds: DimBounds,
  build: () => Promise<CompiledPrograms<K>>,
  /** Told the kernel count when served from the cache (`build` reports its own progress). */
  onHit?: (kernels: number) => void,
): Promise<CompiledPrograms<K>> {
  const key = entryKey(graphs, bounds, defaultWasmFeatures());
  if (key === undefined) return warmBuild(build);
  const stored = cacheGet(NAMESPACE, key);
  if (stored.status === 'hit') {
    try {
      const { compiled, kernels } = await decode(stored.payload, graphs);
      onHit?.(kernels);
      return compiled;
    } catch (e) {
      // The checksum held, so the bytes are what was written; a failure here is an entry this
      // build cannot read. Rebuild it rather than fail the open.
      console.warn(`tessera: compile cache entry rebuilt: ${NAMESPACE}/${key}: ${(e as Error).message}`);
    }
  } else if (stored.status === 'corrupt') {
    console.warn(`tessera: compile cache entry rebuilt: ${stored.reason}`);
  }
  const compiled = await warmBuild(build);
  const failure = cachePut(NAMESPACE, key, encode(compiled));
  if (failure) console.warn(`tessera: ${failure} (running without it)`);
  return compiled;
}
