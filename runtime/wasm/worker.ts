// The program each worker thread runs, as source text: Node starts it with `new Worker(src,
// { eval: true })` (a .ts file cannot be a worker entry under Node 20 without a loader, and text
// works the same from the TypeScript sources and from dist/), a browser from a Blob URL (no file
// to serve). One loop for both; only the few lines that receive the init and talk to the parent
// differ (PRELUDES).
//
// A worker instantiates the shared module over the shared memory, then loops: sleep on the GO
// word, run its share of the plan through the module's step(), repeat, until SHUTDOWN. No message
// passes per run; a failure is written into the control block (text + ABORT) so the main thread,
// itself blocked in the module's barrier, wakes and throws it synchronously.
import { CTRL, NOW_IMPORT, WAIT_IMPORT } from '../../codegen/wasm/abi.js';

/** What the pool passes to a thread (Node: workerData; browser: the first message). */
export interface WorkerInit {
  readonly module: WebAssembly.Module;
  readonly memory: WebAssembly.Memory;
  readonly tid: number;
}

const I = (byteOffset: number) => byteOffset >> 2;

/** How a thread gets its init, answers its parent and ends, per platform. */
const PRELUDES = {
  node: String.raw`
const { parentPort, workerData } = require('node:worker_threads');
const post = (m) => parentPort.postMessage(m);
const done = () => undefined;
start(workerData);
`,
  browser: String.raw`
const post = (m) => self.postMessage(m);
const done = () => { post({ type: 'exit' }); self.close(); };
self.onmessage = (e) => { self.onmessage = null; start(e.data); };
`,
} as const;

/** The worker program for `kind`. */
export function workerSource(kind: keyof typeof PRELUDES): string {
  return `'use strict';
${LOOP}
${PRELUDES[kind]}`;
}

const LOOP = String.raw`
function start({ module, memory, tid }) {
const ctrl = new Int32Array(memory.buffer, 0, ${CTRL.message >> 2});
const GO = ${I(CTRL.go)}, PLAN = ${I(CTRL.plan)}, NTHREADS = ${I(CTRL.nthreads)}, SHUTDOWN = ${I(CTRL.shutdown)};
const ABORT = ${I(CTRL.abort)}, BARRIER_GEN = ${I(CTRL.barrierGen)}, READY = ${I(CTRL.ready)}, SPIN_MICROS = ${I(CTRL.spinMicros)};
const INIT_LOCK = ${I(CTRL.instantiating)};

function fail(error) {
  const text = 'worker ' + tid + ': ' + (error && error.stack ? error.stack : String(error));
  const bytes = new TextEncoder().encode(text).subarray(0, ${CTRL.messageBytes - 1});
  const area = new Uint8Array(memory.buffer, ${CTRL.message}, ${CTRL.messageBytes});
  if (Atomics.compareExchange(ctrl, ABORT, 0, 1) === 0) {
    area.fill(0);
    area.set(bytes);
  }
  Atomics.notify(ctrl, BARRIER_GEN);
}

function main() {
  let step;
  try {
    // The module sleeps through this import (see codegen/wasm/module.ts for why not wait32).
    const wait = (ptr, expected, ms) => {
      const view = ptr < ctrl.byteLength ? ctrl : new Int32Array(memory.buffer);
      const r = Atomics.wait(view, ptr >>> 2, expected, ms);
      return r === 'ok' ? 0 : r === 'not-equal' ? 1 : 2;
    };
    const imports = { env: { memory, ${WAIT_IMPORT}: wait, ${NOW_IMPORT}: () => performance.now(), abort() { throw new Error('abort called in wasm'); }, seed: () => 0, trace() {} } };
    // Instantiating rewrites the module's static data (its data segments): never during a run.
    for (;;) {
      const held = Atomics.compareExchange(ctrl, INIT_LOCK, 0, 2);
      if (held === 0) break;
      Atomics.wait(ctrl, INIT_LOCK, held, 5);
    }
    try {
      step = new WebAssembly.Instance(module, imports).exports.step;
    } finally {
      Atomics.store(ctrl, INIT_LOCK, 0);
      Atomics.notify(ctrl, INIT_LOCK);
    }
  } catch (e) {
    post({ type: 'error', message: String(e && e.stack ? e.stack : e) });
    return;
  }
  // Read GO before announcing readiness: the first run may start the moment the pool hears us.
  let seen = Atomics.load(ctrl, GO);
  // A pool that started us in the background may have been disposed before we came up.
  if (Atomics.load(ctrl, SHUTDOWN) !== 0) return done();
  Atomics.add(ctrl, READY, 1);
  post({ type: 'ready' });
  for (;;) {
    // The next run (a decode step) usually follows within µs: spin for CTRL.spinMicros, then sleep.
    let n = 0;
    let since = -1;
    while (Atomics.load(ctrl, GO) === seen) {
      if ((++n & 1023) !== 0) continue;
      const t = performance.now();
      if (since < 0) since = t;
      else if ((t - since) * 1000 > Atomics.load(ctrl, SPIN_MICROS)) Atomics.wait(ctrl, GO, seen);
    }
    seen = Atomics.load(ctrl, GO);
    if (Atomics.load(ctrl, SHUTDOWN) !== 0) return done();
    const nthreads = Atomics.load(ctrl, NTHREADS);
    if (tid >= nthreads) continue;
    try {
      step(Atomics.load(ctrl, PLAN) >>> 0, nthreads, tid);
    } catch (e) {
      fail(e);
    }
  }
}
main();
}
`;
