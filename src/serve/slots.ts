// A fixed set of slots (one loaded model each: a model runs one stream at a time, and there is no
// batched decoding yet) and a bounded first-come queue in front of them. A request waits for a
// free slot; when the queue is full it is refused at once (429) instead of waiting without
// bound, and once the server drains, waiting requests are refused (503).
import { HttpError } from './http-error.js';

interface Waiter<T> {
  readonly grant: (slot: T) => void;
  readonly refuse: (e: HttpError) => void;
}

export class SlotPool<T> {
  private readonly free: T[];
  private readonly waiting: Waiter<T>[] = [];
  private closed = false;

  constructor(readonly slots: readonly T[], readonly maxQueue: number) {
    this.free = [...slots];
  }

  get busy(): number {
    return this.slots.length - this.free.length;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /**
   * A free slot, at once or after the requests queued before this one. Refused with 429 when
   * `maxQueue` requests already wait, 503 once draining; `signal` (the client going away) takes
   * the request out of the queue.
   */
  acquire(signal?: AbortSignal): Promise<T> {
    if (this.closed) return Promise.reject(draining());
    const slot = this.free.pop();
    if (slot !== undefined) return Promise.resolve(slot);
    if (this.waiting.length >= this.maxQueue) {
      return Promise.reject(new HttpError(429, `the server is busy: ${this.slots.length} requests running and ${this.waiting.length} waiting (the queue holds ${this.maxQueue}); retry later`, 'rate_limit_error', 'queue_full'));
    }
    return new Promise<T>((grant, refuse) => {
      const waiter: Waiter<T> = {
        grant: (s) => { signal?.removeEventListener('abort', leave); grant(s); },
        refuse: (e) => { signal?.removeEventListener('abort', leave); refuse(e); },
      };
      const leave = () => {
        const at = this.waiting.indexOf(waiter);
        if (at >= 0) this.waiting.splice(at, 1);
        refuse(new HttpError(499, 'the client closed the request', 'invalid_request_error', 'client_closed'));
      };
      signal?.addEventListener('abort', leave, { once: true });
      this.waiting.push(waiter);
    });
  }

  /** Gives a slot back: to the longest-waiting request, else to the free list. */
  release(slot: T): void {
    const next = this.waiting.shift();
    if (next) next.grant(slot);
    else this.free.push(slot);
  }

  /** Refuses every waiting request and all later ones with 503; running ones keep their slots. */
  close(): void {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w.refuse(draining());
  }
}

const draining = () => new HttpError(503, 'the server is shutting down; retry on another replica', 'server_error', 'shutting_down');
