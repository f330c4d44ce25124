// The wasm side of the op table: every case's kernels go into ONE module (asc takes seconds per
// module), one 2-thread pool runs them all. Results start poisoned (runGraph fills them with 0xff
// bytes first: NaN for f32, −1 for i32), so an element a kernel forgets to write shows.
import { allKernels, emitGraphKernels, type GraphKernels } from '../../codegen/wasm/emit.js';
import { compileModule, type CompiledModule } from '../../codegen/wasm/module.js';
import type { Graph, HostTensor } from '../../ir/index.js';
import { runGraph } from '../../runtime/wasm/graph-runner.js';
import { WasmMemory } from '../../runtime/wasm/memory.js';
import { ThreadPool } from '../../runtime/wasm/threads.js';
import type { OpCase } from './case.js';
import { caseInputs } from './reference.js';

/** Thread counts every case runs at. */
export const WASM_THREADS = [1, 2] as const;

export interface WasmSuite {
  readonly module: CompiledModule;
  readonly pool: ThreadPool;
  /** The lowered graph of each case, by case. */
  readonly lowered: ReadonlyMap<OpCase, GraphKernels>;
  dispose(): Promise<void>;
}

/**
 * Lowers every case that has a wasm kernel and compiles one module for all of them. A case whose
 * lowering throws is left out of `lowered`; `errors` says why, so the harness reports it as that
 * case's failure instead of losing the whole table.
 */
export async function prepareWasm(cases: readonly { c: OpCase; graph: Graph }[]): Promise<{ suite: WasmSuite; errors: Map<OpCase, string> }> {
  const lowered = new Map<OpCase, GraphKernels>();
  const errors = new Map<OpCase, string>();
  for (const { c, graph } of cases) {
    try {
      lowered.set(c, emitGraphKernels(graph));
    } catch (e) {
      errors.set(c, (e as Error).message);
    }
  }
  const module = await compileModule(allKernels([...lowered.values()]));
  const pool = await ThreadPool.create(module.module, new WasmMemory(64 << 20), { threads: Math.max(...WASM_THREADS) });
  return { suite: { module, pool, lowered, dispose: () => pool.dispose() }, errors };
}

/** Runs one prepared case at `nthreads`; results in output order. */
export function runWasm(suite: WasmSuite, c: OpCase, nthreads: number): HostTensor[] {
  const prepared = suite.lowered.get(c);
  if (!prepared) throw new Error(`${c.label}: not lowered for wasm`);
  const { outputs } = runGraph(suite.pool, suite.module, prepared, { inputs: caseInputs(c), dims: c.dims, nthreads, poison: true });
  return prepared.graph.outputs.map((o) => outputs[o.name]);
}
