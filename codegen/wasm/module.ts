// Assembles kernels into ONE AssemblyScript module (one .wasm per compiled model) with a generated
// entry point
//     export function step(plan: usize, nthreads: i32, tid: i32): void
// that walks a launch list in memory (kernel index and argument block per entry, layout in abi.ts)
// and calls each kernel, then a barrier, so a whole forward pass runs on every thread without
// returning to JavaScript between kernels. Kernels are reached through a generated switch
// (a br_table), which needs no function table and lets Binaryen see every call site.
import { ResourceError } from '../../ir/errors.js';
import { CTRL, NOW_IMPORT, PLAN_ENTRY_BYTES, PLAN_HEADER_BYTES, PLAN_NO_BARRIER, WAIT_IMPORT } from './abi.js';
import { type CompileOptions, compileAssemblyScript } from './asc.js';
import { defaultWasmFeatures, type WasmFeature } from './features.js';
import type { WasmKernel } from './kernel.js';
import { PRELUDE } from './prelude.js';
import { quantDotHelpers } from './quant-dot.js';

/**
 * A barrier waiter reads the clock (an import call) only once per this many spins, so a barrier
 * that resolves within a few µs never pays for it; how long it may spin in all is CTRL.spinMicros.
 */
const SPINS_PER_CLOCK_READ = 1 << 10;
/** A sleeping waiter wakes this often (ms) to notice an abort. */
const BARRIER_WAIT_MS = 2;

export interface WasmModuleSource {
  /** AssemblyScript text of the whole module. */
  readonly source: string;
  /** Distinct kernels; a kernel's position here is its index in launch entries. */
  readonly kernels: readonly WasmKernel[];
  /** Index of a kernel by name; throws for one the module lacks. */
  indexOf(name: string): number;
  /** Optional WebAssembly features the module uses; an engine must have them to load it. */
  readonly features: readonly WasmFeature[];
}

const BARRIER = String.raw`
// Sleeping goes through JavaScript's Atomics.wait: V8 11.3 (Node 20) corrupts live wasm locals
// across memory.atomic.wait32 (measured: every call, timeout or not-equal), which let a thread
// leave this barrier early. notify is unaffected. Returns 0 woken, 1 not-equal, 2 timed out.
@external("env", "${WAIT_IMPORT}")
declare function _t_wait(ptr: usize, expected: i32, timeoutMs: f64): i32;

@external("env", "${NOW_IMPORT}")
declare function _t_now(): f64;

// Generation barrier: the last thread to arrive resets the count and bumps the generation; the
// others spin on the generation, then sleep on it. Returns false when a thread failed (abort).
// Every barrier bumps the generation, a lone thread's too: work counters (_t_claim) take it as the
// launch's epoch.
function _t_barrier(nthreads: i32): bool {
  if (nthreads == 1) {
    atomic.add<i32>(${CTRL.barrierGen}, 1);
    return atomic.load<i32>(${CTRL.abort}) == 0;
  }
  const gen = atomic.load<i32>(${CTRL.barrierGen});
  if (atomic.add<i32>(${CTRL.barrierCount}, 1) == nthreads - 1) {
    atomic.store<i32>(${CTRL.barrierCount}, 0);
    atomic.add<i32>(${CTRL.barrierGen}, 1);
    // A waiter counts itself a sleeper before its wait re-checks the generation, so with
    // sequentially consistent atomics it either sees the new generation or is seen here.
    if (atomic.load<i32>(${CTRL.barrierSleepers}) > 0) atomic.notify(${CTRL.barrierGen}, i32.MAX_VALUE);
    return atomic.load<i32>(${CTRL.abort}) == 0;
  }
  // Spin for up to CTRL.spinMicros (waking a sleeper costs far more than a short kernel), then sleep.
  let spins = 0;
  let since: f64 = -1;
  let sleeping = false;
  while (atomic.load<i32>(${CTRL.barrierGen}) == gen) {
    if (atomic.load<i32>(${CTRL.abort}) != 0) return false;
    if (sleeping) {
      atomic.add<i32>(${CTRL.barrierSleepers}, 1);
      _t_wait(${CTRL.barrierGen}, gen, ${BARRIER_WAIT_MS});
      atomic.sub<i32>(${CTRL.barrierSleepers}, 1);
    } else if ((++spins & ${SPINS_PER_CLOCK_READ - 1}) == 0) {
      const t = _t_now();
      if (since < 0) since = t;
      else sleeping = (t - since) * 1000 > <f64>atomic.load<i32>(${CTRL.spinMicros});
    }
  }
  return atomic.load<i32>(${CTRL.abort}) == 0;
}

/** Where the module's static data ends; the runtime checks it lies below its heap. */
export function __tessera_data_end(): usize { return __heap_base; }
`;

function stepFunction(kernels: readonly WasmKernel[]): string {
  const cases = kernels.map((k, i) => `    case ${i}: ${k.name}(args, tid, nthreads); break;`).join('\n');
  return `
export function step(plan: usize, nthreads: i32, tid: i32): void {
  const count = load<i32>(plan);
  // Profiling (off unless the runtime sets CTRL.profile): thread 0 stamps the start and the end of
  // every launch; with the barrier after it, a launch's time is its slowest thread's.
  const profile: usize = tid == 0 ? <usize>atomic.load<u32>(${CTRL.profile}) : 0;
  if (profile != 0) store<f64>(profile, _t_now());
  for (let i = 0; i < count; i++) {
    const entry = plan + ${PLAN_HEADER_BYTES} + (<usize>i) * ${PLAN_ENTRY_BYTES};
    const k = load<u32>(entry);
    const args: usize = load<u32>(entry, 4);
    switch (k & ${PLAN_NO_BARRIER - 1}) {
${cases}
      default: unreachable();
    }
    // The last launch always ends in a barrier: when step returns on the main thread, every
    // thread's writes are done and visible.
    if ((k & ${PLAN_NO_BARRIER}) == 0 || i == count - 1) {
      if (!_t_barrier(nthreads)) return;
    }
    if (profile != 0) store<f64>(profile + 8 + (<usize>i) * 8, _t_now());
  }
}
`;
}

/**
 * _t_madd(a, b, c) = a·b + c: one fused multiply-add with relaxed SIMD, else a multiply and an add
 * (kernels call it and stay the same source either way).
 */
function maddHelper(features: readonly WasmFeature[]): string {
  const body = features.includes('relaxed-simd') ? 'f32x4.relaxed_madd(a, b, c)' : 'f32x4.add(f32x4.mul(a, b), c)';
  return `@inline function _t_madd(a: v128, b: v128, c: v128): v128 { return ${body}; }`;
}

/** One module holding each distinct kernel once (kernels are deduplicated by name). */
export function assembleModule(kernels: readonly WasmKernel[], features: readonly WasmFeature[] = []): WasmModuleSource {
  const unique: WasmKernel[] = [];
  const index = new Map<string, number>();
  for (const k of kernels) {
    const seen = index.get(k.name);
    if (seen !== undefined) {
      if (unique[seen].source !== k.source) throw new Error(`two different kernels are named ${k.name}`);
      continue;
    }
    index.set(k.name, unique.length);
    unique.push(k);
  }
  const source = [
    `// Generated by Tessera: ${unique.length} kernels.`,
    PRELUDE,
    maddHelper(features),
    quantDotHelpers(features),
    BARRIER,
    ...unique.map((k) => k.source),
    stepFunction(unique),
  ].join('\n');
  return {
    source,
    kernels: unique,
    features: [...features],
    indexOf(name: string): number {
      const i = index.get(name);
      if (i === undefined) throw new Error(`kernel ${name} is not in this module`);
      return i;
    },
  };
}

export interface CompiledModule extends WasmModuleSource {
  readonly binary: Uint8Array<ArrayBuffer>;
  readonly module: WebAssembly.Module;
  /** asc wall time in ms (0 when the binary came from the cache). */
  readonly compileMs: number;
}

/** Assembles and compiles kernels into a WebAssembly.Module ready to instantiate on every thread. */
export async function compileModule(kernels: readonly WasmKernel[], opts: CompileOptions = {}): Promise<CompiledModule> {
  const features = opts.features ?? defaultWasmFeatures();
  const assembled = assembleModule(kernels, features);
  let compiled;
  try {
    compiled = await compileAssemblyScript(assembled.source, { ...opts, features });
  } catch (e) {
    if (e instanceof ResourceError) throw e; // no compiler here: not a problem in the source
    throw new Error(`${(e as Error).message}\n(in a module of ${assembled.kernels.length} kernels; line numbers refer to its source)`);
  }
  const module = await WebAssembly.compile(compiled.binary);
  return { ...assembled, binary: compiled.binary, module, compileMs: compiled.ms };
}
