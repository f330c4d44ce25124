// The contract between the generated CPU module and the runtime that drives it: where the control
// words live in linear memory, how a launch list and an argument block are laid out. Both sides
// import these numbers, so they cannot drift apart.
//
// Linear memory:
//   [0, CONTROL_END)            control block (thread-pool words, barrier, abort/error words)
//   [MODULE_DATA_BASE, HEAP_START)  the module's static data (rope tables, …), placed by asc;
//                                every instantiation rewrites it with its initial bytes, so the
//                                only state kernels keep there is caches whose zeroed form means empty
//   [HEAP_START, …)              weights, activations, KV cache, plans, argument blocks
//
// Every control word sits on its own 64-byte line so that threads polling one do not slow the
// threads writing another (false sharing).

/** Byte offsets of the control words (all i32). */
export const CTRL = {
  /** Bumped by the main thread to start a run; workers wait on it. */
  go: 64,
  /** The plan the current run executes. */
  plan: 68,
  /** Threads taking part in the current run (tid 0 is the main thread). */
  nthreads: 72,
  /** Set to 1 to make idle workers leave their loop. */
  shutdown: 76,
  /** Barrier: threads arrived at the current barrier. */
  barrierCount: 128,
  /** Barrier: generation, bumped by the last thread to arrive; waiters sleep on it. */
  barrierGen: 192,
  /** Barrier: threads sleeping in memory.atomic.wait32 (the last arriver notifies only if > 0). */
  barrierSleepers: 256,
  /** Set when a thread failed: every barrier returns at once and step() stops. */
  abort: 320,
  /** First kernel-reported error code (0 = none), and a detail word (e.g. the bad token id). */
  error: 384,
  errorDetail: 388,
  /** Workers that finished instantiating (start-up handshake). */
  ready: 448,
  /**
   * Profiling: 0 = off, else the address of an f64 array that thread 0 fills with a timestamp
   * (ms, the import NOW_IMPORT) before the first launch and after each launch's barrier.
   */
  profile: 512,
  /**
   * How long (µs) a thread waiting at a barrier or for the next run spins before it sleeps. Waking
   * a sleeping thread costs tens of µs (more under a hypervisor), which a decode step of ~50
   * launches cannot afford after each one; spinning costs a core only while it waits.
   */
  spinMicros: 576,
  /**
   * Instantiation lock: 0 free, 1 a run in progress, 2 a worker instantiating. Instantiating
   * re-applies the module's data segments, which reset the kernels' caches in static data (rope's
   * position slots), so a worker starting in the background must never instantiate during a run.
   */
  instantiating: 640,
  /** UTF-8 text of a worker's failure, so the main thread can throw it synchronously. */
  message: 1024,
  messageBytes: 1024,
} as const;

export const CONTROL_END = 2048;
/** Where asc puts the module's static data (`--memoryBase`). */
export const MODULE_DATA_BASE = 4096;
/** The first byte the allocator hands out; the module's static data must end below it. */
export const HEAP_START = 1 << 20;

/** Error codes kernels store into CTRL.error. */
export const KERNEL_ERRORS: Readonly<Record<number, string>> = {
  1: 'embedding: token id out of range',
};
export const ERR_EMBEDDING_ID = 1;

/**
 * Plan (launch list) layout: an i32 count, then `count` entries of 8 bytes: the kernel index
 * (bit 31 set: no barrier after this launch) and the address of its argument block.
 */
export const PLAN_HEADER_BYTES = 16;
export const PLAN_ENTRY_BYTES = 8;
export const PLAN_NO_BARRIER = 0x80000000;

/**
 * Argument block layout: one u32 address per kernel binding (in `bindings` order), then one i32
 * per run-time dim (in `dims` order).
 */
export const ARG_SLOT_BYTES = 4;

/**
 * The import (module "env") through which barrier waiters sleep:
 * (ptr: u32, expected: i32, timeoutMs: f64) → 0 woken, 1 not-equal, 2 timed out (Atomics.wait).
 */
export const WAIT_IMPORT = 'tessera_wait';

/** The import (module "env") giving a monotonic clock in ms (performance.now), for profiling. */
export const NOW_IMPORT = 'tessera_now';

/** Pages of 64 KiB; memory32 tops out at 65536 of them (4 GiB). */
export const PAGE_BYTES = 65536;
export const MAX_PAGES = 65536;
