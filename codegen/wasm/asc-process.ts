// asc runs in a child process that exits after each compile, so the loading process never holds
// the compiler's memory. Measured on stories15M with a cold cache (BENCHMARKS.md, issue 21):
// compiled in process, ~200 MiB stay resident after the compile (Binaryen's WebAssembly memory
// only grows, and asc's heap) and add to the weights loaded next; in a worker thread, ~145 MiB
// still stay (the freed memory sits in glibc's per-thread malloc arenas, which are not returned
// to the system); in a child process nothing stays, and the loading process's peak is its own
// weights and caches. The cost is a Node start and asc's import (~0.5 s on an idle machine, as an
// in-process first compile pays) per run of compiles, and only on a compile-cache miss.
import { type ChildProcess, spawn } from 'node:child_process';
import type { Socket } from 'node:net';

/** What the compiler gets: asc's module URL, its argv and the one source file it may read. */
export interface AscJob {
  readonly ascUrl: string;
  readonly argv: readonly string[];
  readonly sourceFile: string;
  readonly outFile: string;
  readonly source: string;
}

/** What it sends back: the binary, or asc's error and diagnostics. */
export interface AscResult {
  readonly binary?: Uint8Array<ArrayBuffer>;
  readonly error?: string;
  readonly diagnostics: string;
}

// Plain JavaScript run by `node -e`: it resolves nothing of ours, so it runs from sources under
// vitest too (asc, an ES module, is imported by the URL the parent resolved). It answers jobs
// until its parent lets go of it.
const CHILD_SOURCE = `
let asc;
process.on('disconnect', () => process.exit(0));
process.on('message', async (job) => {
  if (job.warm) {
    // Started ahead of its first job: import asc now (about half of a small compile's time).
    asc ??= (await import(job.ascUrl).catch(() => ({ default: undefined }))).default;
    return;
  }
  let reply;
  try {
    asc ??= (await import(job.ascUrl)).default;
    let binary;
    let diagnostics = '';
    const { error } = await asc.main(job.argv, {
      readFile: (name) => (name === job.sourceFile ? job.source : null),
      writeFile: (name, contents) => { if (name === job.outFile && typeof contents !== 'string') binary = new Uint8Array(contents); },
      listFiles: () => [],
      stdout: { write: () => undefined },
      stderr: { write: (chunk) => { diagnostics += typeof chunk === 'string' ? chunk : new TextDecoder().decode(chunk); } },
    });
    reply = { binary, error: error ? error.message : undefined, diagnostics };
  } catch (e) {
    reply = { error: String((e && e.stack) || e), diagnostics: '' };
  }
  process.send(reply);
});
`;

/** Bytes of the child's stderr kept for an error message. */
const STDERR_KEPT = 4096;
/**
 * How long an idle compiler process waits for the next job before it exits: compiles that follow
 * each other (a test file's kernels) share one process and one import of asc, while the compile
 * before a model's weights load ends with its process soon after.
 */
const IDLE_EXIT_MS = 1000;

interface Compiler {
  readonly child: ChildProcess;
  stderr: string;
  idle?: NodeJS.Timeout;
}

let current: Compiler | undefined;

/** How long a compiler started ahead (warmCompiler) waits for its first job before it exits. */
const WARM_EXIT_MS = 10_000;

function startCompiler(): Compiler {
  // Structured clone ('advanced') carries the binary as bytes, not as a JSON array of numbers.
  const child = spawn(process.execPath, ['-e', CHILD_SOURCE], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'advanced' });
  const c: Compiler = { child, stderr: '' };
  child.stderr?.on('data', (chunk: Buffer) => { if (c.stderr.length < STDERR_KEPT) c.stderr += chunk.toString(); });
  child.once('exit', () => { if (current === c) current = undefined; });
  // An idle compiler never keeps this process alive.
  child.unref();
  (child.stderr as Socket | null)?.unref();
  return c;
}

/**
 * Starts a compiler process and its import of asc now, for a compile that will follow (a cache
 * miss, while the kernels are still being generated): Node's start and asc's import then overlap
 * that work instead of following it. Does nothing when a compiler is already waiting.
 */
export function warmCompiler(ascUrl: string): void {
  if (current?.child.connected) return;
  const c = startCompiler();
  current = c;
  c.child.send({ warm: true, ascUrl });
  (c.child.channel as { unref(): void } | undefined)?.unref();
  c.idle = setTimeout(() => {
    if (current === c) current = undefined;
    if (c.child.connected) c.child.disconnect();
  }, WARM_EXIT_MS);
  c.idle.unref();
}

/** Runs one asc compile in the compiler process (started when none is waiting). */
export async function runAscInProcess(job: AscJob): Promise<AscResult> {
  const c = current?.child.connected ? current : startCompiler();
  current = c;
  clearTimeout(c.idle);
  const channel = c.child.channel as { ref(): void; unref(): void } | undefined;
  channel?.ref();
  try {
    const reply = await new Promise<{ binary?: Uint8Array; error?: string; diagnostics: string }>((resolve, reject) => {
      const onExit = (code: number | null, signal: string | null) => reject(new Error(`the AssemblyScript compiler's process ended (${signal ?? `exit code ${code}`}) without an answer${c.stderr ? `: ${c.stderr.trim()}` : ''}`));
      c.child.once('exit', onExit);
      c.child.once('error', reject);
      c.child.once('message', (m) => {
        c.child.off('exit', onExit);
        c.child.off('error', reject);
        resolve(m as { binary?: Uint8Array; error?: string; diagnostics: string });
      });
      c.child.send(job);
    });
    // A fresh ArrayBuffer: WebAssembly.compile wants a plain BufferSource.
    return { ...reply, ...(reply.binary ? { binary: new Uint8Array(reply.binary) } : {}) } as AscResult;
  } catch (e) {
    c.child.kill();
    throw e;
  } finally {
    channel?.unref();
    c.idle = setTimeout(() => {
      // Let go first: a job that comes now starts a new compiler instead of writing to this one.
      if (current === c) current = undefined;
      if (c.child.connected) c.child.disconnect();
    }, IDLE_EXIT_MS);
    c.idle.unref();
  }
}
