// Choosing and building an executor: reference (the TypeScript interpreter), wasm (AssemblyScript
// kernels on every core), webgpu (WGSL through Dawn or a browser), or auto (WebGPU when a hardware
// adapter can hold the model, otherwise WebAssembly), always with a sentence saying which and why.
// When auto chose WebGPU and the device then cannot hold the model (out of memory, device lost, a
// graph it cannot lower), openExecutor falls back to WebAssembly and the reason says why; a
// backend asked for by name fails with that error instead.
//
// Environment (for tests, and to see how a model behaves on a smaller device):
//   TESSERA_WEBGPU_MAX_BINDING=<bytes>   caps maxStorageBufferBindingSize for code generation, so
//                                        weights over it are split into row ranges
//   TESSERA_WEBGPU_MEMORY_BUDGET=<bytes> the model's device buffers may take at most this much;
//                                        beyond it allocation fails as out of memory would
//   TESSERA_WEBGPU_ALLOW_SOFTWARE=1      auto may choose a software adapter (lavapipe, …)
import { readdirSync } from 'node:fs';
// The code generators, the GPU executor and Dawn are imported on demand (a run from an artifact or
// the lowering cache, or one on the CPU, loads none of what it does not use).
import type { CompiledModule } from '../codegen/wasm/module.js';
import { cachedWasmPrograms } from '../codegen/wasm/program-cache.js';
import type { WasmProgram } from '../codegen/wasm/program.js';
import type { WgslProgram } from '../codegen/wgsl/program.js';
import type { WgslTarget } from '../codegen/wgsl/target.js';
import { storageBytes } from '../ir/dtype.js';
import { ResourceError } from '../ir/errors.js';
import type { Graph } from '../ir/graph.js';
import type { DimBounds } from '../ir/memory.js';
import type { ModelConfig } from '../models/config/model-config.js';
import type { Executor, LogitsWanted } from '../runtime/executor.js';
import { ReferenceExecutor } from '../runtime/reference/executor.js';
import type { ParamResolver } from '../runtime/reference/interpreter.js';
import { acquireGpu, destroyGpu, type GpuContext } from '../runtime/webgpu/device.js';
import { adapterName, GpuResourceError } from '../runtime/webgpu/errors.js';
import { assertFitsWasm32 } from '../runtime/wasm/budget.js';
import { WasmExecutor } from '../runtime/wasm/executor.js';
import type { ProgressCallback } from './progress.js';

export const BACKENDS = ['auto', 'reference', 'wasm', 'webgpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

export interface BackendChoice {
  readonly executor: Executor;
  /** Why this backend, for people: "webgpu: NVIDIA H100 (…)", "reference: no WebGPU adapter (…)". */
  readonly reason: string;
}

export interface ExecutorRequest {
  readonly graphs: Readonly<Record<LogitsWanted, Graph>>;
  readonly params: ParamResolver;
  readonly config: ModelConfig;
  /** Longest prompt chunk one GPU step handles (longer prompts run in pieces). */
  readonly maxChunk?: number;
  /** Tokens the KV cache holds (default: the model's context); buffers are sized to it. */
  readonly contextLength?: number;
  /** CPU threads for the wasm backend (default: every core). */
  readonly threads?: number;
  /** wasm backend: µs an idle thread spins before it sleeps (ThreadPoolOptions.spinMicros). */
  readonly spinMicros?: number;
  /** Told when compiling starts and ends (src/progress.ts). */
  readonly progress?: ProgressCallback;
  /** Kernels from a compiled artifact: used instead of running the code generators. */
  readonly precompiled?: {
    readonly webgpu?: (maxWorkgroups: number) => Readonly<Record<LogitsWanted, WgslProgram>> | undefined;
    readonly wasm?: () => Promise<{ readonly module: CompiledModule; readonly programs: Readonly<Record<LogitsWanted, WasmProgram>> } | undefined>;
  };
}

/** The context a request's executor is sized for. */
export function requestContext(req: Pick<ExecutorRequest, 'contextLength' | 'config'>): number {
  return req.contextLength ?? req.config.maxPositions;
}

function weightBytes(g: Graph): number {
  return g.params.reduce((n, p) => n + storageBytes(p.type.dtype, p.type.shape as number[]), 0);
}

// One device per process: models opened one after another reuse it, and with it the compiled
// pipelines. A lost device is replaced by a fresh one on the next open.
let sharedGpu: Promise<GpuContext> | undefined;
export async function gpuContext(): Promise<GpuContext> {
  if (sharedGpu && (await sharedGpu.catch(() => undefined))?.lostInfo()) sharedGpu = undefined;
  sharedGpu ??= acquireGpu().catch((e: unknown) => {
    sharedGpu = undefined;
    throw e;
  });
  return sharedGpu;
}

/** A positive whole number of bytes from the environment, or undefined when unset. */
function envBytes(name: string): number | undefined {
  const text = process.env[name];
  if (text === undefined || text === '') return undefined;
  const v = Number(text);
  if (!Number.isSafeInteger(v) || v <= 0) throw new RangeError(`${name} must be a positive whole number of bytes, got '${text}'`);
  return v;
}

const allowSoftwareGpu = (): boolean => ['1', 'true', 'yes'].includes(process.env.TESSERA_WEBGPU_ALLOW_SOFTWARE ?? '');

/** The graph cannot run on the chosen backend (an op it has no kernel for, an artifact without its kernels). */
export class BackendError extends ResourceError {
  constructor(message: string) {
    super(message);
    this.name = 'BackendError';
  }
}

/** A concrete backend and why it was picked. */
export interface ResolvedBackend {
  readonly name: Exclude<BackendName, 'auto'>;
  readonly why: string;
}

/**
 * Why no hardware GPU can be here, when that is known without asking Dawn: on Linux a GPU is a
 * device node (/dev/dri/renderD*, /dev/nvidia*, WSL's /dev/dxg), and without one the only adapter
 * WebGPU could find is a software one, which auto does not use. Asking costs ~0.2 s of start-up
 * (loading Dawn, enumerating Vulkan); elsewhere, or when software adapters are allowed, we ask.
 */
export function noHardwareGpu(): string | undefined {
  if (process.platform !== 'linux' || allowSoftwareGpu()) return undefined;
  const listing = (dir: string) => {
    try {
      return readdirSync(dir);
    } catch {
      return [];
    }
  };
  const gpuNode = listing('/dev/dri').some((n) => n.startsWith('renderD')) || listing('/dev').some((n) => n.startsWith('nvidia') || n === 'dxg');
  return gpuNode ? undefined : 'no GPU device (/dev/dri/renderD*, /dev/nvidia*, /dev/dxg), so WebGPU could offer only a software adapter';
}

/** Decides what `auto` means here: WebGPU on a hardware adapter, else WebAssembly. */
export async function resolveBackend(backend: BackendName): Promise<ResolvedBackend> {
  if (backend !== 'auto') return { name: backend, why: 'requested' };
  const noGpu = noHardwareGpu();
  if (noGpu) return { name: 'wasm', why: noGpu };
  let ctx: GpuContext;
  try {
    ctx = await gpuContext();
  } catch (e) {
    return { name: 'wasm', why: `no WebGPU adapter (${(e as Error).message})` };
  }
  if (ctx.adapterInfo.isSoftware) {
    if (allowSoftwareGpu()) return { name: 'webgpu', why: `${adapterName(ctx.adapterInfo)} (a software adapter, allowed by TESSERA_WEBGPU_ALLOW_SOFTWARE)` };
    // Nothing will run on it: give the device (and Dawn's threads) back.
    sharedGpu = undefined;
    await destroyGpu(ctx);
    return { name: 'wasm', why: `the only WebGPU adapter is a software one (${adapterName(ctx.adapterInfo)})` };
  }
  return { name: 'webgpu', why: adapterName(ctx.adapterInfo) };
}

/** `auto` made this choice (a backend asked for by name carries why 'requested'). */
function chosenByAuto(backend: ResolvedBackend): boolean {
  return backend.why !== 'requested';
}

/**
 * The CPU backend to use instead, when auto chose WebGPU and `error` says the device cannot run
 * the model (out of memory, device lost, a graph its kernels cannot cover); else undefined.
 */
export function cpuFallback(backend: ResolvedBackend, error: unknown): ResolvedBackend | undefined {
  if (backend.name !== 'webgpu' || !chosenByAuto(backend)) return undefined;
  if (!(error instanceof GpuResourceError || error instanceof BackendError)) return undefined;
  return { name: 'wasm', why: `WebGPU could not run the model, so the CPU does: ${error.message}` };
}

/**
 * createExecutor, falling back to the CPU under auto as `cpuFallback` says. `request` builds the
 * request for the backend that will run: the graphs' pass pipeline depends on it.
 */
export async function openExecutor(backend: ResolvedBackend, request: (backend: ResolvedBackend) => ExecutorRequest): Promise<BackendChoice> {
  try {
    return await createExecutor(backend, request(backend));
  } catch (e) {
    const fallback = cpuFallback(backend, e);
    if (!fallback) throw e;
    return createExecutor(fallback, request(fallback));
  }
}

export async function createExecutor(backend: ResolvedBackend, req: ExecutorRequest): Promise<BackendChoice> {
  const { config } = req;
  if (backend.name === 'reference') return { executor: new ReferenceExecutor(req.graphs, req.params, requestContext(req), config.vocabSize), reason: `reference: ${backend.why}` };
  const onCpu = async (why: string): Promise<BackendChoice> => {
    const executor = await wasm(req);
    return { executor, reason: `wasm: ${why}; ${executor.threads} threads` };
  };
  if (backend.name === 'wasm') return onCpu(backend.why);
  const ctx = await gpuContext();
  const need = weightBytes(req.graphs.last);
  // Weights over one storage binding are bound in row ranges (codegen/wgsl/split.ts), so size
  // alone no longer sends auto to the CPU; a device that cannot hold them fails allocation instead.
  return { executor: await webgpu(ctx, req), reason: `webgpu: ${chosenByAuto(backend) ? backend.why : adapterName(ctx.adapterInfo)}, ${(need / 2 ** 20).toFixed(1)} MiB of weights` };
}

/** The device's WGSL target, its storage binding size capped by TESSERA_WEBGPU_MAX_BINDING when set. */
export async function deviceTarget(ctx: GpuContext): Promise<WgslTarget> {
  const { wgslTargetFor } = await import('../codegen/wgsl/target.js');
  const target = wgslTargetFor(ctx.features, ctx.limits, ctx.adapterInfo.isSoftware);
  const cap = envBytes('TESSERA_WEBGPU_MAX_BINDING');
  return cap === undefined ? target : { ...target, maxStorageBindingSize: Math.min(cap, target.maxStorageBindingSize) };
}

/** The dims a step program's buffers are sized for: prompt chunks of `maxChunk` tokens, the whole context. */
export function stepBounds(contextLength: number, maxChunk = 128): DimBounds {
  return { S: Math.min(maxChunk, contextLength), P: contextLength - 1 };
}

async function webgpu(ctx: GpuContext, req: ExecutorRequest) {
  const ctxLen = requestContext(req);
  let programs = req.precompiled?.webgpu?.(ctx.limits.maxComputeWorkgroupsPerDimension ?? 65535);
  if (!programs) {
    const { lowerStepGraphs } = await import('./step-lowering.js');
    const target = await deviceTarget(ctx);
    try {
      programs = lowerStepGraphs(req.graphs, target, ctxLen, req.maxChunk);
    } catch (e) {
      throw new BackendError(`the webgpu backend cannot run this graph: ${(e as Error).message}`);
    }
  }
  const memoryBudget = envBytes('TESSERA_WEBGPU_MEMORY_BUDGET');
  const { WebGpuExecutor } = await import('../runtime/webgpu/executor.js');
  return WebGpuExecutor.create(ctx, programs, req.params, { contextLength: ctxLen, vocabSize: req.config.vocabSize, ...(memoryBudget ? { memoryBudget } : {}) });
}

async function wasm(req: ExecutorRequest): Promise<WasmExecutor> {
  const ctxLen = requestContext(req);
  // Weights and cache over wasm32's 4 GiB: refused now, not after lowering and compiling.
  assertFitsWasm32([req.graphs.last, req.graphs.all], stepBounds(ctxLen, req.maxChunk));
  const compiled = (await req.precompiled?.wasm?.()) ?? (await cachedWasmPrograms(req.graphs, stepBounds(ctxLen, req.maxChunk), () => compileStepPrograms(req), (n) => compileDone(req.progress, n)));
  return WasmExecutor.create(compiled.module, compiled.programs, req.params, { contextLength: ctxLen, vocabSize: req.config.vocabSize, threads: req.threads, spinMicros: req.spinMicros });
}

/** The compile step's events for kernels served from the cache (it is as done as it will be). */
export function compileDone(progress: ProgressCallback | undefined, kernels: number): void {
  progress?.({ phase: 'compile', done: 0, total: kernels, unit: 'kernels' });
  progress?.({ phase: 'compile', done: kernels, total: kernels, unit: 'kernels' });
}

/** Lowers both step graphs for the CPU and compiles their kernels into one module. */
async function compileStepPrograms(req: ExecutorRequest): Promise<{ module: CompiledModule; programs: Record<LogitsWanted, WasmProgram> }> {
  const [{ lowerStepGraphsToWasm }, { programKernels }, { compileModule }] = await Promise.all([
    import('./step-lowering.js'),
    import('../codegen/wasm/program.js'),
    import('../codegen/wasm/module.js'),
  ]);
  let programs: Record<LogitsWanted, WasmProgram>;
  try {
    programs = lowerStepGraphsToWasm(req.graphs, requestContext(req), req.maxChunk);
  } catch (e) {
    throw new BackendError(`the wasm backend cannot run this graph: ${(e as Error).message}. Use --passes default (it keeps to the ops each backend covers) or another --backend`);
  }
  const kernels = programKernels([programs.last, programs.all]);
  req.progress?.({ phase: 'compile', done: 0, total: kernels.length, unit: 'kernels' });
  const module = await compileModule(kernels);
  req.progress?.({ phase: 'compile', done: kernels.length, total: kernels.length, unit: 'kernels' });
  return { module, programs };
}
