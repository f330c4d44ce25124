// What differs between Node and a browser for the runtime, behind one small interface: how many
// cores, how a wasm worker thread starts, whether this thread may block in Atomics.wait, and what
// to say when the engine will not reserve memory. Shared code asks `platform()`; it never imports
// a Node built-in, so the browser entry (src/web/) bundles without them.
import type { WorkerInit } from '../wasm/worker.js';
import { browserPlatform } from './browser.js';
import { isNode } from './node-builtin.js';
import { nodePlatform } from './node.js';

/** One started wasm worker thread. */
export interface WasmThread {
  /** Resolves once the thread instantiated the module and waits for work; rejects with why not. */
  readonly ready: Promise<void>;
  /** Resolves when the thread has ended. */
  readonly exited: Promise<void>;
  /** False once the thread has ended. */
  readonly alive: boolean;
  /** Ends the thread now (a thread stuck in a kernel never reads the shutdown word). */
  terminate(): void;
  /** Lets the process exit while this idle thread still exists (Node). */
  unref(): void;
}

export interface Platform {
  readonly name: 'node' | 'browser';
  /** Cores a thread pool may use by default. */
  availableParallelism(): number;
  /** Starts a thread running the wasm worker loop (runtime/wasm/worker.ts) on `init`. */
  startThread(init: WorkerInit): WasmThread;
  /** Whether this thread may sleep in Atomics.wait (a browser's main thread may not: it spins). */
  readonly canBlock: boolean;
  /** When the engine refuses to reserve wasm memory: the address-space limit if one is known, and what to do. */
  reserveAdvice(): { readonly addressSpaceLimit?: number; readonly advice: string };
}

/** The platform this code runs on. */
export function platform(): Platform {
  return isNode ? nodePlatform : browserPlatform;
}
