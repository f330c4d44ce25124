// Choosing and building an executor: reference (the TypeScript interpreter), webgpu (WGSL through
// Dawn or a browser), or auto (WebGPU when an adapter can hold the model, otherwise the CPU),
// always with a sentence saying which and why.
import { lowerGraphToWgsl, type WgslProgram } from '../codegen/wgsl/program.js';
import { type WgslTarget, wgslTargetFor } from '../codegen/wgsl/target.js';
import { storageBytes } from '../ir/dtype.js';
import type { Graph } from '../ir/graph.js';
import type { ModelConfig } from '../models/config/model-config.js';
import type { Executor, LogitsWanted } from '../runtime/executor.js';
import { ReferenceExecutor } from '../runtime/reference/executor.js';
import type { ParamResolver } from '../runtime/reference/interpreter.js';
import { acquireGpu, type GpuContext } from '../runtime/webgpu/device.js';
import { WebGpuExecutor } from '../runtime/webgpu/executor.js';

export const BACKENDS = ['auto', 'reference', 'webgpu'] as const;
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
  /** Kernels from a compiled artifact: used instead of running the code generators. */
  readonly precompiled?: { readonly webgpu?: (maxWorkgroups: number) => Readonly<Record<LogitsWanted, WgslProgram>> | undefined };
}

function weightBytes(g: Graph): number {
  return g.params.reduce((n, p) => n + storageBytes(p.type.dtype, p.type.shape as number[]), 0);
}

// One device per process: models opened one after another reuse it, and with it the compiled pipelines.
let sharedGpu: Promise<GpuContext> | undefined;
function gpuContext(): Promise<GpuContext> {
  sharedGpu ??= acquireGpu().catch((e: unknown) => {
    sharedGpu = undefined;
    throw e;
  });
  return sharedGpu;
}

export async function createExecutor(backend: BackendName, req: ExecutorRequest): Promise<BackendChoice> {
  const { config } = req;
  const reference = () => new ReferenceExecutor(req.graphs, req.params, config.maxPositions, config.vocabSize);
  if (backend === 'reference') return { executor: reference(), reason: 'reference: requested' };
  if (backend === 'webgpu') {
    const ctx = await gpuContext();
    return { executor: await webgpu(ctx, req), reason: `webgpu: ${ctx.adapterInfo.description || ctx.adapterInfo.device || ctx.adapterInfo.vendor}` };
  }
  let ctx: GpuContext;
  try {
    ctx = await gpuContext();
  } catch (e) {
    return { executor: reference(), reason: `reference: no WebGPU adapter (${(e as Error).message})` };
  }
  const need = weightBytes(req.graphs.last);
  const max = Math.min(ctx.limits.maxBufferSize ?? 0, ctx.limits.maxStorageBufferBindingSize ?? 0);
  if (ctx.adapterInfo.isSoftware) {
    return { executor: reference(), reason: `reference: the only WebGPU adapter is a software one (${ctx.adapterInfo.description})` };
  }
  const biggest = Math.max(...req.graphs.last.params.map((p) => storageBytes(p.type.dtype, p.type.shape as number[])));
  if (biggest > max) {
    return { executor: reference(), reason: `reference: the largest weight (${biggest} bytes) exceeds what the adapter binds at once (${max}); ${need} bytes of weights in all` };
  }
  return { executor: await webgpu(ctx, req), reason: `webgpu: ${ctx.adapterInfo.description || ctx.adapterInfo.vendor}, ${(need / 2 ** 20).toFixed(1)} MiB of weights` };
}

async function webgpu(ctx: GpuContext, req: ExecutorRequest) {
  const ctxLen = req.config.maxPositions;
  const programs = req.precompiled?.webgpu?.(ctx.limits.maxComputeWorkgroupsPerDimension ?? 65535) ?? lowerStepGraphs(req.graphs, wgslTargetFor(ctx.features, ctx.limits), ctxLen, req.maxChunk);
  const executor = await WebGpuExecutor.create(ctx, programs, req.params, { contextLength: ctxLen, vocabSize: req.config.vocabSize });
  return executor;
}

/** Both step graphs lowered to WGSL, with buffers sized for prompt chunks of `maxChunk` tokens. */
export function lowerStepGraphs(graphs: Readonly<Record<LogitsWanted, Graph>>, target: WgslTarget, contextLength: number, maxChunk = 128): Record<LogitsWanted, WgslProgram> {
  const bounds = { S: Math.min(maxChunk, contextLength), P: contextLength - 1 };
  return { last: lowerGraphToWgsl(graphs.last, target, bounds), all: lowerGraphToWgsl(graphs.all, target, bounds) };
}
