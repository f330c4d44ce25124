// The runtime's browser platform: Web Workers made from the worker loop's source (a Blob URL, so
// no extra file needs serving), navigator.hardwareConcurrency, and no blocking on the main thread.
import type { WorkerInit } from '../wasm/worker.js';
import { workerSource } from '../wasm/worker.js';
import type { Platform, WasmThread } from './platform.js';

let workerUrl: string | undefined;

function startThread(init: WorkerInit): WasmThread {
  workerUrl ??= URL.createObjectURL(new Blob([workerSource('browser')], { type: 'text/javascript' }));
  const worker = new Worker(workerUrl, { name: `tessera-wasm-${init.tid}` });
  let alive = true;
  let ended!: () => void;
  const exited = new Promise<void>((resolve) => { ended = () => { alive = false; resolve(); }; });
  const ready = new Promise<void>((resolve, reject) => {
    worker.addEventListener('message', (e: MessageEvent<{ type: string; message?: string }>) => {
      if (e.data.type === 'ready') resolve();
      else if (e.data.type === 'exit') ended();
      else reject(new Error(`wasm worker ${init.tid} failed to start: ${e.data.message}`));
    });
    worker.addEventListener('error', (e) => reject(new Error(`wasm worker ${init.tid} failed to start: ${e.message}`)));
  });
  // A shared WebAssembly.Memory crosses to a worker only in a cross-origin isolated page.
  worker.postMessage(init);
  return {
    ready,
    exited,
    get alive() { return alive; },
    terminate: () => { worker.terminate(); ended(); },
    unref: () => undefined,
  };
}

/** A dedicated worker may block; the page's main thread may not. */
const inWorker = typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== 'undefined';

export const browserPlatform: Platform = {
  name: 'browser',
  availableParallelism: () => Math.max(1, globalThis.navigator?.hardwareConcurrency ?? 1),
  startThread,
  canBlock: inWorker,
  reserveAdvice: () => ({ advice: 'Close other tabs holding models, dispose() models no longer used, or use the webgpu backend' }),
};
