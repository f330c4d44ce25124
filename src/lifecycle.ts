// Who may use a model's backend now. A Model has one KV cache and an Encoder one set of backend
// buffers, so one stream or call holds it at a time: a second one started while the first is
// active is refused at once (waiting would deadlock a caller that consumes two streams in turn),
// and nothing runs after dispose(). The guard is the same for every backend, so the reference
// interpreter refuses exactly what wasm and WebGPU refuse.
import { StateError } from '../ir/errors.js';
import type { Executor, LogitsWanted } from '../runtime/executor.js';

/** A second stream or call on a model while one is still active. */
export class ModelBusyError extends StateError {}

/** A model used after dispose(). */
export class ModelDisposedError extends StateError {}

/** One stream's or call's hold on a model; released once, by whichever of end, error, return() or the collector comes first. */
class Lease {
  constructor(readonly guard: UseGuard, readonly what: string) {}
  release(): void {
    this.guard.release(this);
  }
}

// A stream dropped while suspended at a yield never runs its finally; the collector ends its lease.
const abandoned = new FinalizationRegistry<Lease>((lease) => lease.release());

export class UseGuard {
  private holder?: Lease;
  private disposed = false;
  private readonly inflight = new Set<Promise<unknown>>();

  /** `name` says which model in messages (its path). */
  constructor(private readonly name: string) {}

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Throws ModelDisposedError after dispose(). */
  checkOpen(what: string): void {
    if (this.disposed) throw new ModelDisposedError(`${this.name}: ${what} after dispose(); open the model again to use it`);
  }

  /** Throws unless a new stream or call may start now. */
  checkIdle(what: string): void {
    this.checkOpen(what);
    if (this.holder) {
      throw new ModelBusyError(
        `${this.name}: ${what} while ${this.holder.what} is still active; a model runs one stream or call at a time ` +
          '(consume or return() the first stream, await the first call, or open the model a second time)',
      );
    }
  }

  private acquire(what: string): Lease {
    this.checkIdle(what);
    this.holder = new Lease(this, what);
    return this.holder;
  }

  release(lease: Lease): void {
    if (this.holder === lease) this.holder = undefined;
  }

  /** Runs one call holding the model. */
  async run<T>(what: string, call: () => Promise<T>): Promise<T> {
    const lease = this.acquire(what);
    try {
      return await call();
    } finally {
      lease.release();
    }
  }

  /**
   * A stream that holds the model from its first next() until it ends, throws, is return()ed, or
   * is collected unfinished. Refused at once when the model is busy or disposed now, and again at
   * the first next() if it has become so since.
   */
  stream<T, R>(what: string, open: () => AsyncGenerator<T, R>): AsyncGenerator<T, R> {
    this.checkIdle(what);
    const inner = open();
    const guard = this;
    async function* held(): AsyncGenerator<T, R> {
      const lease = guard.acquire(what);
      abandoned.register(outer, lease, lease);
      try {
        return yield* inner;
      } finally {
        abandoned.unregister(lease);
        lease.release();
      }
    }
    const outer = held();
    return outer;
  }

  /** Tracks a backend call in flight, so that dispose() waits for it instead of freeing memory under it. */
  track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    const done = () => this.inflight.delete(p);
    p.then(done, done);
    return p;
  }

  /**
   * Marks the model disposed (every later use throws ModelDisposedError) once the calls in flight
   * have settled. Returns false when it already was, so the backend is freed once.
   */
  async dispose(): Promise<boolean> {
    if (this.disposed) return false;
    this.disposed = true;
    await Promise.allSettled([...this.inflight]);
    return true;
  }

  /**
   * The executor as a stream or call drives it: each step first checks the model is not disposed
   * (a stream suspended at a yield may be resumed after dispose()) and is tracked while it runs.
   */
  guardExecutor(exec: Executor): Executor {
    const guard = this;
    return {
      get backend() { return exec.backend; },
      get contextLength() { return exec.contextLength; },
      get vocabSize() { return exec.vocabSize; },
      get position() { return exec.position; },
      forward(tokens: readonly number[], want: LogitsWanted) {
        guard.checkOpen('a forward step');
        return guard.track(exec.forward(tokens, want));
      },
      forwardGreedy(tokens: readonly number[]) {
        guard.checkOpen('a forward step');
        return guard.track(exec.forwardGreedy(tokens));
      },
      truncate(length: number) {
        guard.checkOpen('truncate');
        exec.truncate(length);
      },
      reset() {
        guard.checkOpen('reset');
        exec.reset();
      },
      dispose: () => exec.dispose(),
    };
  }
}
