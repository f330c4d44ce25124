// A pool of worker threads (Node worker_threads or Web Workers, runtime/platform/) sharing one
// WebAssembly.Memory, each running the same module. The calling thread is thread 0: run(plan)
// publishes the plan in the control block, bumps the GO word to wake the workers, and runs its own
// share through step(); step() ends in a barrier, so when it returns the whole plan is done. Node
// lets its main thread block in Atomics.wait; a browser's main thread may not, so there thread 0
// spins at barriers instead of sleeping (its wait import returns "timed out" at once).
import { CONTROL_END, CTRL, HEAP_START, KERNEL_ERRORS, NOW_IMPORT, WAIT_IMPORT } from '../../codegen/wasm/abi.js';
import { platform, type WasmThread } from '../platform/platform.js';
import type { WasmMemory } from './memory.js';
import type { WorkerInit } from './worker.js';

export interface ThreadPoolOptions {
  /** Threads including the calling thread; default every core (the platform's availableParallelism). */
  readonly threads?: number;
  /**
   * How long (µs) a waiting thread spins before it sleeps, at barriers and between runs (default
   * 20000). Waking a sleeper costs tens of µs; 0 sleeps at once (kind to oversubscribed machines).
   */
  readonly spinMicros?: number;
  /**
   * Return once the calling thread's instance is ready, without waiting for the workers' start
   * (a Node worker boots an environment of its own: 30–50 ms on an idle machine, far more on a
   * busy one): runs use the calling thread alone until every worker is up, then all of them.
   * Results do not depend on the thread count (each element's arithmetic is the same), so only
   * the first runs' speed differs. A worker that fails to start fails the next run. Default false.
   */
  readonly background?: boolean;
}

interface ModuleExports {
  step(plan: number, nthreads: number, tid: number): void;
  __tessera_data_end(): number;
}

/** An error a kernel reported (e.g. a token id out of range). */
export class KernelError extends Error {
  constructor(readonly code: number, readonly detail: number) {
    super(`${KERNEL_ERRORS[code] ?? `kernel error ${code}`} (${detail})`);
    this.name = 'KernelError';
  }
}

const I = (byteOffset: number) => byteOffset >> 2;

/** Tells every worker to leave its loop (they exit; dispose() then waits for them). */
function signalShutdown(ctrl: Int32Array): void {
  Atomics.store(ctrl, I(CTRL.shutdown), 1);
  Atomics.add(ctrl, I(CTRL.go), 1);
  Atomics.notify(ctrl, I(CTRL.go));
}

/**
 * A pool dropped without dispose() would leave its workers idling (and holding the shared memory)
 * for the life of the process: once the pool is collected, its workers are told to exit.
 */
const abandoned = new FinalizationRegistry<Int32Array>(signalShutdown);

/**
 * Measured on the 2-core machine type (stories15M, 2 threads): sleeping after ~80 µs of spinning
 * made decode ~20 % slower than spinning for 1 ms, because a woken vCPU takes tens of µs to run;
 * 20 ms instead of 1 ms made it another 1.4–2.6 % faster (bench/ab.mjs, two runs of 30 pairs:
 * 19 and 23 of them faster): on a VM whose vCPUs the host takes away for a millisecond or
 * more, a 1 ms spin expired while the other thread was merely descheduled, and each such sleep
 * cost a wake-up (~50 sleeps per 650 steps at 1 ms, none at 20 ms). The price is at most 20 ms of
 * one busy core per thread after the last run.
 */
const DEFAULT_SPIN_MICROS = 20_000;

/**
 * Takes the instantiation lock for a run (1), waiting while a worker instantiates (2): a few ms at
 * most. Atomics.wait where this thread may block (Node, workers); a spin on a browser page thread.
 */
function lockInstantiation(ctrl: Int32Array): void {
  for (;;) {
    const held = Atomics.compareExchange(ctrl, I(CTRL.instantiating), 0, 1);
    if (held === 0) return;
    try {
      Atomics.wait(ctrl, I(CTRL.instantiating), held, 5);
    } catch {
      // A page's main thread may not wait: spin.
    }
  }
}

export class ThreadPool {
  private broken: string | undefined;
  private disposed = false;
  /** Every worker has announced itself in the control block (CTRL.ready), so all may run. */
  private joined = false;

  private constructor(
    readonly memory: WasmMemory,
    readonly threads: number,
    private readonly exports: ModuleExports,
    private readonly workers: WasmThread[],
    /** Where a worker started in the background reports a failed start (not the pool itself, which it must not keep alive). */
    private readonly start: { failed?: string; readonly started: Promise<unknown> },
  ) {}

  /** Instantiates `module` on the main thread and on threads−1 workers. */
  static async create(module: WebAssembly.Module, memory: WasmMemory, opts: ThreadPoolOptions = {}): Promise<ThreadPool> {
    const threads = opts.threads ?? platform().availableParallelism();
    if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be a positive integer, got ${threads}`);
    const ctrl = controlWords(memory);
    for (const w of [CTRL.go, CTRL.shutdown, CTRL.barrierCount, CTRL.barrierGen, CTRL.barrierSleepers, CTRL.abort, CTRL.error, CTRL.errorDetail, CTRL.ready, CTRL.profile]) {
      Atomics.store(ctrl, I(w), 0);
    }
    const spinMicros = opts.spinMicros ?? DEFAULT_SPIN_MICROS;
    if (!Number.isInteger(spinMicros) || spinMicros < 0) throw new RangeError(`spinMicros must be a non-negative integer, got ${spinMicros}`);
    Atomics.store(ctrl, I(CTRL.spinMicros), spinMicros);
    // Workers first: they boot (in threads of their own) while this thread instantiates.
    const workers = Array.from({ length: threads - 1 }, (_, i) => platform().startThread({ module, memory: memory.memory, tid: i + 1 } satisfies WorkerInit));
    const started = Promise.all(workers.map((w) => w.ready));
    started.catch(() => undefined); // handled below, whichever way create ends
    const stop = async () => {
      for (const w of workers) w.terminate();
      await Promise.all(workers.map((w) => w.exited));
    };
    let exports: ModuleExports;
    try {
      const instance = await WebAssembly.instantiate(module, imports(memory.memory));
      exports = instance.exports as unknown as ModuleExports;
      const dataEnd = exports.__tessera_data_end();
      if (dataEnd > HEAP_START) throw new Error(`the module's static data ends at ${dataEnd}, past the heap start ${HEAP_START}`);
      if (!opts.background) await started;
    } catch (e) {
      await stop();
      throw e;
    }
    // Idle workers must not keep the process alive if a caller forgets dispose().
    for (const w of workers) w.unref();
    const start: { failed?: string; readonly started: Promise<unknown> } = { started };
    // In the background a failed start is reported by the next run (the workers already up stop).
    if (opts.background) started.catch((e: Error) => { start.failed = e.message; void stop(); });
    const pool = new ThreadPool(memory, threads, exports, workers, start);
    abandoned.register(pool, controlWords(memory), pool);
    return pool;
  }

  /**
   * Turns per-launch timestamps on (the address of an f64 array of launches + 1 entries, see
   * CTRL.profile) or off (0).
   */
  setProfileBuffer(address: number): void {
    Atomics.store(controlWords(this.memory), I(CTRL.profile), address);
  }

  /** Runs the plan at `plan` on `nthreads` threads (default all) and returns when it is done. */
  run(plan: number, nthreads = this.threads): void {
    if (this.disposed) throw new Error('the thread pool was disposed');
    this.broken ??= this.start.failed;
    if (this.broken) throw new Error(`the thread pool stopped after a failure and must be recreated: ${this.broken}`);
    if (!Number.isInteger(nthreads) || nthreads < 1 || nthreads > this.threads) throw new RangeError(`nthreads must be in 1..${this.threads}, got ${nthreads}`);
    const ctrl = controlWords(this.memory);
    // While workers are still starting, this thread runs alone, and holds the instantiation lock
    // so that none of them rewrites the module's static data under it (abi.ts CTRL.instantiating).
    const starting = this.runnable < this.threads;
    if (starting) {
      nthreads = 1;
      lockInstantiation(ctrl);
    }
    try {
      this.runLocked(ctrl, plan, nthreads);
    } finally {
      if (starting) {
        Atomics.store(ctrl, I(CTRL.instantiating), 0);
        Atomics.notify(ctrl, I(CTRL.instantiating));
      }
    }
  }

  private runLocked(ctrl: Int32Array, plan: number, nthreads: number): void {
    Atomics.store(ctrl, I(CTRL.error), 0);
    Atomics.store(ctrl, I(CTRL.plan), plan);
    Atomics.store(ctrl, I(CTRL.nthreads), nthreads);
    if (nthreads > 1) {
      Atomics.add(ctrl, I(CTRL.go), 1);
      Atomics.notify(ctrl, I(CTRL.go));
    }
    try {
      this.exports.step(plan, nthreads, 0);
    } catch (e) {
      // Wake workers sleeping in a barrier; they see ABORT and return.
      Atomics.store(ctrl, I(CTRL.abort), 1);
      Atomics.notify(ctrl, I(CTRL.barrierGen));
      this.broken = `main thread: ${(e as Error).message}`;
      throw e;
    }
    if (Atomics.load(ctrl, I(CTRL.abort)) !== 0) {
      const raw = this.memory.read(CTRL.message, CTRL.messageBytes);
      const end = raw.indexOf(0);
      this.broken = new TextDecoder().decode(raw.subarray(0, end < 0 ? raw.length : end));
      throw new Error(`wasm thread failed: ${this.broken}`);
    }
    const code = Atomics.load(ctrl, I(CTRL.error));
    if (code !== 0) throw new KernelError(code, Atomics.load(ctrl, I(CTRL.errorDetail)));
  }

  /**
   * How many threads a run may use now: all of them, or 1 while a pool started in the background
   * waits for its workers. A worker counts itself in CTRL.ready after reading the GO word, so once
   * all have, a GO bump reaches every one; before that only this thread runs (a worker still
   * starting would miss the bump and leave the others waiting at the first barrier).
   */
  get runnable(): number {
    this.joined ||= Atomics.load(controlWords(this.memory), I(CTRL.ready)) === this.threads - 1;
    return this.joined ? this.threads : 1;
  }

  /** Resolves once every worker is up (at once unless started in the background); rejects if one failed to start. */
  async allThreads(): Promise<void> {
    await this.start.started;
  }

  /** Stops the workers (they leave their loop and exit) and waits for them. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    abandoned.unregister(this);
    const joined = this.runnable === this.threads;
    signalShutdown(controlWords(this.memory));
    await Promise.all(this.workers.map((w) => new Promise<void>((resolve) => {
      // A worker stuck in a kernel would never see SHUTDOWN: give it a moment, then terminate.
      // One still starting (a background pool) runs nothing yet: stop it at once.
      const timer = setTimeout(() => w.terminate(), joined ? 2000 : 0);
      void w.exited.then(() => { clearTimeout(timer); resolve(); });
    })));
  }

  /** Workers still running (0 after dispose). */
  get liveWorkers(): number {
    return this.workers.filter((w) => w.alive).length;
  }
}

function controlWords(memory: WasmMemory): Int32Array {
  return new Int32Array(memory.memory.buffer, 0, CTRL.message >> 2);
}

function imports(memory: WebAssembly.Memory): WebAssembly.Imports {
  const low = new Int32Array(memory.buffer, 0, CONTROL_END >> 2);
  // A thread that may not block reports "timed out" at once: the module's barrier then spins.
  const wait = !platform().canBlock ? () => 2 : (ptr: number, expected: number, timeoutMs: number): number => {
    const view = ptr < CONTROL_END ? low : new Int32Array(memory.buffer);
    const r = Atomics.wait(view, ptr >>> 2, expected, timeoutMs);
    return r === 'ok' ? 0 : r === 'not-equal' ? 1 : 2;
  };
  return { env: { memory, [WAIT_IMPORT]: wait, [NOW_IMPORT]: () => performance.now(), abort: () => { throw new Error('abort called in wasm'); }, seed: () => 0, trace: () => undefined } };
}
