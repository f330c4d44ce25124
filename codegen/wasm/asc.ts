// AssemblyScript → WebAssembly in process, through asc's programmatic API with an in-memory file
// system (no external toolchain). Compiled bytes are cached by a hash of source and flags, so a
// test file or a session that compiles the same module twice pays once.
//
// Flags: SIMD128 and threads (atomics, shared memory); the memory is imported from the runtime,
// which owns it and shares it with its workers; -O3 with asserts off; the stub runtime, because
// kernels never allocate (they only touch raw pointers).
import { assertCompilerAllowed } from '../../ir/compiler-guard.js';
import { createHash } from 'node:crypto';
import { HEAP_START, MAX_PAGES, MODULE_DATA_BASE, PAGE_BYTES } from './abi.js';
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

const cache = new Map<string, Uint8Array<ArrayBuffer>>();
// asc keeps global state while it runs; one compile at a time.
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
  const key = createHash('sha256').update(argv.join(' ')).update('\0').update(source).digest('hex');
  const hit = cache.get(key);
  if (hit) return Promise.resolve({ binary: hit, ms: 0, cached: true });
  const job = queue.then(() => runAsc(argv, source)).then((compiled) => {
    cache.set(key, compiled.binary);
    return compiled;
  });
  queue = job.catch(() => undefined);
  return job;
}

async function runAsc(argv: string[], source: string): Promise<CompiledWasm> {
  let binary: Uint8Array<ArrayBuffer> | undefined;
  let diagnostics = '';
  const t0 = performance.now();
  // Imported on first use: loading asc takes ~0.5 s, which commands that only run kernels
  // (artifacts, cached modules) should not pay at start-up.
  const asc = (await import('assemblyscript/asc')).default;
  const { error } = await asc.main(argv, {
    readFile: (name) => (name === SOURCE_FILE ? source : null),
    writeFile: (name, contents) => {
      // Copied into a fresh ArrayBuffer: WebAssembly.compile wants a plain BufferSource.
      if (name === OUT_FILE && typeof contents !== 'string') binary = new Uint8Array(contents);
    },
    listFiles: () => [],
    stdout: { write: () => undefined },
    stderr: { write: (chunk) => { diagnostics += typeof chunk === 'string' ? chunk : new TextDecoder().decode(chunk); } },
  });
  const ms = performance.now() - t0;
  if (error || !binary) {
    throw new Error(`AssemblyScript compile failed: ${error?.message ?? 'no binary written'}\n${diagnostics.trim()}`);
  }
  return { binary, ms, cached: false };
}

/** Forgets every cached binary (for compile-time measurements). */
export function clearCompileCache(): void {
  cache.clear();
}
