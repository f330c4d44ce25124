// Running an encoder's batch graph on a backend: the buffer bounds (rows per pass, padded length),
// and the wasm / webgpu batch executors, built from an artifact's stored kernels or by lowering.
// The code generators are imported on demand: a run from an artifact or the lowering cache loads none.
import type { CompiledModule } from '../codegen/wasm/module.js';
import { cachedWasmPrograms } from '../codegen/wasm/program-cache.js';
import type { WasmProgram } from '../codegen/wasm/program.js';
import type { WgslProgram } from '../codegen/wgsl/program.js';
import type { Graph } from '../ir/graph.js';
import type { DimBounds } from '../ir/memory.js';
import type { ModelConfig } from '../models/config/model-config.js';
import type { BatchExecutor } from '../runtime/batch/executor.js';
import { WasmBatchExecutor } from '../runtime/batch/wasm.js';
import { WebGpuBatchExecutor } from '../runtime/batch/webgpu.js';
import type { ParamResolver } from '../runtime/reference/interpreter.js';
import { adapterName } from '../runtime/webgpu/errors.js';
import { BackendError, compileDone, gpuContext, type ResolvedBackend } from './backends.js';
import type { ProgressCallback } from './progress.js';

/**
 * Rows per pass a compiled encoder program holds by default. Buffers are sized for B rows of the
 * full context; 8 keeps a BERT-base FFN activation (8 × 512 × 3072 f32) under WebGPU's 128 MiB binding.
 */
export const DEFAULT_MAX_BATCH = 8;

/** The dims an encoder program's buffers are sized for: `maxBatch` rows of up to the whole context. */
export function encoderBounds(config: ModelConfig, maxBatch = DEFAULT_MAX_BATCH): DimBounds {
  if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new RangeError(`the batch bound must be a positive integer, got ${maxBatch}`);
  return { B: maxBatch, S: config.maxPositions };
}

export interface BatchExecutorRequest {
  readonly graph: Graph;
  readonly params: ParamResolver;
  readonly bounds: DimBounds;
  /** CPU threads for the wasm backend (default: every core). */
  readonly threads?: number;
  /** wasm backend: µs an idle thread spins before it sleeps (ThreadPoolOptions.spinMicros). */
  readonly spinMicros?: number;
  /** Told when compiling starts and ends (src/progress.ts). */
  readonly progress?: ProgressCallback;
  /** Kernels from a compiled artifact: used instead of running the code generators. */
  readonly precompiled?: {
    readonly webgpu?: (maxWorkgroups: number) => WgslProgram | undefined;
    readonly wasm?: () => Promise<{ readonly module: CompiledModule; readonly program: WasmProgram } | undefined>;
  };
}

/** A wasm or webgpu executor for the batch graph, and a sentence saying which and why. */
export async function createBatchExecutor(backend: ResolvedBackend, req: BatchExecutorRequest): Promise<{ executor: BatchExecutor; reason: string }> {
  if (backend.name === 'wasm') {
    const executor = await onCpu(req);
    return { executor, reason: `wasm: ${backend.why}; ${executor.threads} threads` };
  }
  if (backend.name !== 'webgpu') throw new Error(`no batch executor for the ${backend.name} backend`);
  const ctx = await gpuContext();
  let program = req.precompiled?.webgpu?.(ctx.limits.maxComputeWorkgroupsPerDimension ?? 65535);
  if (!program) {
    const [{ lowerGraphToWgsl }, { wgslTargetFor }] = await Promise.all([import('../codegen/wgsl/program.js'), import('../codegen/wgsl/target.js')]);
    try {
      program = lowerGraphToWgsl(req.graph, wgslTargetFor(ctx.features, ctx.limits, ctx.adapterInfo.isSoftware), req.bounds);
    } catch (e) {
      throw new BackendError(`the webgpu backend cannot run this graph: ${(e as Error).message}`);
    }
  }
  const executor = await WebGpuBatchExecutor.create(ctx, program, req.params);
  return { executor, reason: `webgpu: ${backend.why === 'requested' ? adapterName(ctx.adapterInfo) : backend.why}` };
}

async function onCpu(req: BatchExecutorRequest): Promise<WasmBatchExecutor> {
  const compiled = (await req.precompiled?.wasm?.()) ?? (await compileBatchProgram(req));
  return WasmBatchExecutor.create(compiled.module, compiled.program, req.params, { threads: req.threads, spinMicros: req.spinMicros });
}

/** The batch graph's CPU program and module: from the lowering cache, else lowered and compiled. */
async function compileBatchProgram(req: BatchExecutorRequest): Promise<{ module: CompiledModule; program: WasmProgram }> {
  const { module, programs } = await cachedWasmPrograms({ batch: req.graph }, req.bounds, async () => {
    const [{ lowerGraphToWasm, programKernels }, { compileModule }] = await Promise.all([import('../codegen/wasm/program.js'), import('../codegen/wasm/module.js')]);
    let program: WasmProgram;
    try {
      program = lowerGraphToWasm(req.graph, req.bounds);
    } catch (e) {
      throw new BackendError(`the wasm backend cannot run this graph: ${(e as Error).message}. Use --passes default (it keeps to the ops each backend covers) or another --backend`);
    }
    const kernels = programKernels([program]);
    req.progress?.({ phase: 'compile', done: 0, total: kernels.length, unit: 'kernels' });
    const module = await compileModule(kernels);
    req.progress?.({ phase: 'compile', done: kernels.length, total: kernels.length, unit: 'kernels' });
    return { module, programs: { batch: program } };
  }, (n) => compileDone(req.progress, n));
  return { module, program: programs.batch };
}
