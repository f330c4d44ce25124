// The runtime's Node platform: worker_threads, os.availableParallelism, /proc/self/limits.
import type { WorkerInit } from '../wasm/worker.js';
import { workerSource } from '../wasm/worker.js';
import { nodeBuiltin } from './node-builtin.js';
import type { Platform, WasmThread } from './platform.js';

type WorkerThreads = typeof import('node:worker_threads');
type Os = typeof import('node:os');
type Fs = typeof import('node:fs');

function startThread(init: WorkerInit): WasmThread {
  const { Worker } = nodeBuiltin<WorkerThreads>('node:worker_threads', 'a wasm worker thread');
  // No flags of the parent's: the worker runs only its own CommonJS source (so no loader or
  // --input-type), and Node refuses to start a worker with process-wide flags such as
  // --expose-gc, which an application embedding Tessera may well run with.
  const worker = new Worker(workerSource('node'), { eval: true, workerData: init, execArgv: [] });
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    worker.once('message', (m: { type: string; message?: string }) => {
      if (m.type === 'ready') resolve();
      else reject(new Error(`wasm worker ${init.tid} failed to start: ${m.message}`));
    });
    worker.once('error', reject);
  });
  return {
    ready,
    exited,
    get alive() { return worker.threadId !== -1; },
    terminate: () => { void worker.terminate(); },
    unref: () => worker.unref(),
  };
}

/** The process's address-space limit (`ulimit -v`), when Linux reports one. */
function addressSpaceLimit(): number | undefined {
  try {
    const { readFileSync } = nodeBuiltin<Fs>('node:fs', 'reading /proc/self/limits');
    const m = /^Max address space\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

export const nodePlatform: Platform = {
  name: 'node',
  availableParallelism: () => nodeBuiltin<Os>('node:os', 'counting cores').availableParallelism(),
  startThread,
  canBlock: true,
  reserveAdvice() {
    const flag = '--disable-wasm-trap-handler';
    const trapHandler = !process.execArgv.includes(flag) && !(process.env.NODE_OPTIONS ?? '').includes(flag);
    return {
      addressSpaceLimit: addressSpaceLimit(),
      advice: (trapHandler ? `Node also reserves 10 GiB of address space per WebAssembly memory for its bounds checks: under a limit, run node with ${flag} (NODE_OPTIONS). ` : '') +
        'Raise the limit, dispose() models no longer used, or use --backend webgpu',
    };
  },
};
