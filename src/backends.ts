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
import { acquireGpu, destroyGpu, probeGpu } from '../runtime/webgpu/device.js';
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

export async function createExecutor(backend: BackendName, req: ExecutorRequest): Promise<BackendChoice> {
  const { config } = req;
  const reference = () => new ReferenceExecutor(req.graphs, req.params, config.maxPositions, config.vocabSize);
  if (backend === 'reference') return { executor: reference(), reason: 'reference: requested' };
  if (backend === 'webgpu') {
    const ctx = await acquireGpu();
    return { executor: await webgpu(ctx, req), reason: `webgpu: ${ctx.adapterInfo.description || ctx.adapterInfo.device || ctx.adapterInfo.vendor}` };
  }
  const probe = await probeGpu();
  if (!probe.ok) return { executor: reference(), reason: `reference: no WebGPU adapter (${probe.reason})` };
  const need = weightBytes(req.graphs.last);
  const max = probe.ctx.limits.maxBufferSize ?? 0;
  if (probe.ctx.adapterInfo.isSoftware) {
    await destroyGpu(probe.ctx);
    return { executor: reference(), reason: `reference: the only WebGPU adapter is a software one (${probe.ctx.adapterInfo.description})` };
  }
  const biggest = Math.max(...req.graphs.last.params.map((p) => storageBytes(p.type.dtype, p.type.shape as number[])));
  if (biggest > max) {
    await destroyGpu(probe.ctx);
    return { executor: reference(), reason: `reference: the largest weight (${biggest} bytes) exceeds the adapter's buffer limit (${max}); ${need} bytes of weights in all` };
  }
  return { executor: await webgpu(probe.ctx, req), reason: `webgpu: ${probe.ctx.adapterInfo.description || probe.ctx.adapterInfo.vendor}, ${(need / 2 ** 20).toFixed(1)} MiB of weights` };
}

async function webgpu(ctx: Awaited<ReturnType<typeof acquireGpu>>, req: ExecutorRequest) {
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
