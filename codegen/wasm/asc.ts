// AssemblyScript → WebAssembly through asc's programmatic API with an in-memory file system (no
// external toolchain), in a child process that exits after each compile, so that the compiler's
// memory does not stay beside the model's weights (asc-process.ts). Compiled bytes are cached by
// a hash of asc's version, flags and source: in memory, so a process that compiles the same
// module twice pays once, and on disk (codegen/compile-cache.ts), so a second run of the same
// model skips asc and Binaryen entirely.
//
// Flags: SIMD128 and threads (atomics, shared memory); the memory is imported from the runtime,
// which owns it and shares it with its workers; -O3 with asserts off; the stub runtime, because
// kernels never allocate (they only touch raw pointers).
import { assertCompilerAllowed } from '../../ir/compiler-guard.js';
import { ResourceError } from '../../ir/errors.js';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cacheGet, cacheKey, cachePut } from '../compile-cache.js';
import { HEAP_START, MAX_PAGES, MODULE_DATA_BASE, PAGE_BYTES } from './abi.js';
import { runAscInProcess, warmCompiler } from './asc-process.js';
import type { WasmFeature } from './features.js';

export interface CompileOptions {
  /** Binaryen optimisation level (default 3). 0–1 compile much faster, for debugging. */
  readonly optimizeLevel?: 0 | 1 | 2 | 3;
  /** Optional WebAssembly features the source may use (see features.ts). */
  readonly features?: readonly WasmFeature[];
}

export interface CompiledWasm {
  readonly binary: Uint8Array<ArrayBuffer>;
  /** Wall time of the compile in ms (0 when served from the cache). */
  readonly ms: number;
  readonly cached: boolean;
}

const SOURCE_FILE = 'tessera.ts';
const OUT_FILE = 'tessera.wasm';

const CACHE_NAMESPACE = 'wasm';
const cache = new Map<string, Uint8Array<ArrayBuffer>>();
let ascVersion: string | undefined;

/** 'assemblyscript' is an optional dependency (README: Install): without it, say so and what to do. */
function missingCompiler(e: unknown): never {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code !== 'MODULE_NOT_FOUND' && code !== 'ERR_MODULE_NOT_FOUND') throw e;
  throw new ResourceError("compiling CPU kernels needs the optional 'assemblyscript' package, which is not installed: run `npm install assemblyscript`, or run a compiled artifact (`tessera compile` on a machine that has it)");
}

/** asc's version, read from its package.json (importing asc itself costs ~0.5 s). */
function assemblyScriptVersion(): string {
  try {
    ascVersion ??= (createRequire(import.meta.url)('assemblyscript/package.json') as { version: string }).version;
  } catch (e) {
    missingCompiler(e);
  }
  return ascVersion;
}

/** The URL of asc's ES module, resolved here (the compiler's process resolves nothing of ours). */
function ascModuleUrl(): string {
  try {
    const pkg = createRequire(import.meta.url).resolve('assemblyscript/package.json');
    return pathToFileURL(join(dirname(pkg), 'dist', 'asc.js')).href;
  } catch (e) {
    missingCompiler(e);
  }
}
/**
 * Starts the compiler's process ahead of a compile that is about to be needed (a lowering-cache
 * miss), so that its start overlaps the code generation. Does nothing where asc is not installed
 * or compiling is forbidden: the compile itself then says why.
 */
export function warmAssemblyScript(): void {
  if (process.env.TESSERA_FORBID_COMPILER) return;
  let url: string;
  try {
    url = ascModuleUrl();
  } catch {
    return;
  }
  warmCompiler(url);
}

// One compile at a time: each holds a compiler's whole heap.
let queue: Promise<unknown> = Promise.resolve();

function flags(opts: CompileOptions): string[] {
  return [
    SOURCE_FILE, '--outFile', OUT_FILE,
    `-O${opts.optimizeLevel ?? 3}`, '--noAssert', '--runtime', 'stub',
    '--enable', 'simd', '--enable', 'threads', ...(opts.features ?? []).flatMap((f) => ['--enable', f]),
    // Initial memory up to the heap: the module's static data may fill [MODULE_DATA_BASE, HEAP_START).
    '--importMemory', '--sharedMemory', '--initialMemory', String(HEAP_START / PAGE_BYTES), '--maximumMemory', String(MAX_PAGES),
    '--memoryBase', String(MODULE_DATA_BASE), '--noColors',
  ];
}

/** Compiles one AssemblyScript source text; throws an Error quoting asc's diagnostics on failure. */
export function compileAssemblyScript(source: string, opts: CompileOptions = {}): Promise<CompiledWasm> {
  assertCompilerAllowed('the AssemblyScript compiler');
  const argv = flags(opts);
  const key = cacheKey([assemblyScriptVersion(), argv.join(' '), source]);
  const hit = cache.get(key);
  if (hit) return Promise.resolve({ binary: hit, ms: 0, cached: true });
  const stored = cacheGet(CACHE_NAMESPACE, key);
  if (stored.status === 'hit' && WebAssembly.validate(stored.payload)) {
    cache.set(key, stored.payload);
    return Promise.resolve({ binary: stored.payload, ms: 0, cached: true });
  }
  if (stored.status === 'corrupt') console.warn(`tessera: compile cache entry rebuilt: ${stored.reason}`);
  const job = queue.then(() => runAsc(argv, source)).then((compiled) => {
    cache.set(key, compiled.binary);
    const failure = cachePut(CACHE_NAMESPACE, key, compiled.binary);
    if (failure) console.warn(`tessera: ${failure} (compiling without it)`);
    return compiled;
  });
  queue = job.catch(() => undefined);
  return job;
}

async function runAsc(argv: string[], source: string): Promise<CompiledWasm> {
  const t0 = performance.now();
  const { binary, error, diagnostics } = await runAscInProcess({ ascUrl: ascModuleUrl(), argv, sourceFile: SOURCE_FILE, outFile: OUT_FILE, source });
  const ms = performance.now() - t0;
  if (error || !binary) {
    throw new Error(`AssemblyScript compile failed: ${error ?? 'no binary written'}\n${diagnostics.trim()}`);
  }
  return { binary, ms, cached: false };
}

/** Forgets every binary cached in this process (for compile-time measurements; the disk cache stays). */
export function clearCompileCache(): void {
  cache.clear();
}
