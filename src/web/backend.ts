// Choosing and opening the backend for an artifact in a browser: WebGPU through navigator.gpu when
// the artifact has WGSL kernels and an adapter can run them, else WebAssembly on Web Workers over
// a shared memory when the page is cross-origin isolated (one thread, with a warning, when not).
// Always with a sentence saying which and why, as in Node (src/backends.ts).
import type { LoadedArtifact } from '../../codegen/artifact/load.js';
import { storageBytes } from '../../ir/dtype.js';
import { ResourceError } from '../../ir/errors.js';
import type { WgslProgram } from '../../codegen/wgsl/program.js';
import type { WasmProgram } from '../../codegen/wasm/program.js';
import type { CompiledModule } from '../../codegen/wasm/module.js';
import { platform } from '../../runtime/platform/platform.js';
import { acquireBrowserGpu, destroyBrowserGpu } from '../../runtime/webgpu/browser-device.js';
import { adapterName, GpuResourceError } from '../../runtime/webgpu/errors.js';
import type { GpuContext } from '../../runtime/webgpu/gpu-context.js';

export const WEB_BACKENDS = ['auto', 'wasm', 'webgpu'] as const;
export type WebBackendName = (typeof WEB_BACKENDS)[number];

export interface WebBackendOptions {
  /** Where to run (default auto: WebGPU on a hardware adapter, else WebAssembly). */
  readonly backend?: WebBackendName;
  /** wasm threads (default every core when the page is cross-origin isolated, else 1). */
  readonly threads?: number;
  /** wasm: µs an idle thread spins before it sleeps (ThreadPoolOptions.spinMicros). */
  readonly spinMicros?: number;
  /** auto may choose a software adapter (SwiftShader in headless Chromium); default false. */
  readonly allowSoftwareGpu?: boolean;
}

/** The headers that make a page cross-origin isolated, as the warning names them. */
export const ISOLATION_HEADERS = 'Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp';

/** Threads the wasm backend may use here, and a warning when isolation is what limits them. */
export function wasmThreads(requested: number | undefined): { threads: number; warning?: string } {
  const cores = platform().availableParallelism();
  if (globalThis.crossOriginIsolated) return { threads: requested ?? cores };
  return {
    threads: 1,
    warning: `tessera: this page is not cross-origin isolated (crossOriginIsolated is false), so WebAssembly runs on 1 thread instead of ${requested ?? cores}: ` +
      `serve it with the headers ${ISOLATION_HEADERS} (tessera serve-static does) to share memory with worker threads`,
  };
}

/** The limits a stored WebGPU program needs that `limits` does not give (empty: it fits). */
export function gpuShortfall(programs: Readonly<Record<string, WgslProgram>>, limits: Readonly<Record<string, number>>): string[] {
  let buffers = 0;
  let binding = 0;
  for (const p of Object.values(programs)) {
    for (const n of p.nodes) for (const k of n.lowering.kernels) buffers = Math.max(buffers, k.bindings.length);
    for (const param of p.graph.params) binding = Math.max(binding, storageBytes(param.type.dtype, param.type.shape as number[]));
  }
  const out: string[] = [];
  if (buffers > (limits.maxStorageBuffersPerShaderStage ?? 8)) out.push(`maxStorageBuffersPerShaderStage ${limits.maxStorageBuffersPerShaderStage} < ${buffers}`);
  if (binding > (limits.maxBufferSize ?? 0)) out.push(`maxBufferSize ${limits.maxBufferSize} < ${binding}`);
  return out;
}

export interface OpenedBackend<E> {
  readonly executor: E;
  readonly name: 'wasm' | 'webgpu';
  /** "webgpu: NVIDIA …", "wasm: no WebGPU adapter (…); 2 threads", as Node's backendReason. */
  readonly reason: string;
}

/** How a decoder (step executor) or an encoder (batch executor) is made on each backend. */
export interface ExecutorMakers<E> {
  /** On the CPU, from the artifact's module and programs. */
  wasm(compiled: { readonly module: CompiledModule; readonly programs: Readonly<Record<string, WasmProgram>> }, threads: number, spinMicros: number | undefined): Promise<E & { readonly threads: number }>;
  /** On the GPU, from the artifact's programs (a GpuResourceError lets auto fall back to the CPU). */
  webgpu(ctx: GpuContext, programs: Readonly<Record<string, WgslProgram>>): Promise<E>;
}

/** Opens the artifact's executor on the backend `opts.backend` asks for, with auto's fallbacks. */
export async function openWebBackend<E>(artifact: LoadedArtifact, opts: WebBackendOptions, make: ExecutorMakers<E>): Promise<OpenedBackend<E>> {
  const requested = opts.backend ?? 'auto';
  const has = Object.keys(artifact.manifest.targets);
  if (requested !== 'auto' && !has.includes(requested)) {
    throw new ResourceError(`${artifact.dir} was compiled for ${has.join(', ') || 'no kernel target'}, not ${requested}: compile again with --target ${requested}`);
  }
  const onCpu = async (why: string) => {
    const { threads, warning } = wasmThreads(opts.threads);
    if (warning) console.warn(warning);
    const compiled = await artifact.wasmTarget();
    if (!compiled) throw new ResourceError(`${artifact.dir} has no wasm kernels: compile it with --target wasm`);
    const executor = await make.wasm(compiled, threads, opts.spinMicros);
    return { executor, name: 'wasm' as const, reason: `wasm: ${why}; ${executor.threads} threads${warning ? ' (the page is not cross-origin isolated)' : ''}` };
  };
  if (requested === 'wasm') return onCpu('requested');
  if (!has.includes('webgpu')) return onCpu('the artifact has no webgpu kernels');
  let ctx: GpuContext;
  try {
    ctx = await acquireBrowserGpu();
  } catch (e) {
    if (requested === 'webgpu' || !has.includes('wasm')) throw e;
    return onCpu(`no WebGPU adapter (${(e as Error).message})`);
  }
  const name = adapterName(ctx.adapterInfo);
  const programs = artifact.webgpuPrograms(ctx.limits.maxComputeWorkgroupsPerDimension ?? 65535) ?? {};
  const short = gpuShortfall(programs, ctx.limits);
  let why = requested === 'webgpu' ? name : '';
  if (requested === 'auto') {
    if (short.length) why = `${name} lacks the limits the model needs (${short.join(', ')})`;
    else if (ctx.adapterInfo.isSoftware && !opts.allowSoftwareGpu) why = `the only WebGPU adapter is a software one (${name}); allowSoftwareGpu: true runs on it`;
    if (why && has.includes('wasm')) {
      await destroyBrowserGpu(ctx);
      return onCpu(why);
    }
    why = ctx.adapterInfo.isSoftware ? `${name} (a software adapter, allowed by allowSoftwareGpu)` : name;
  }
  try {
    const executor = await make.webgpu(ctx, programs);
    return { executor, name: 'webgpu', reason: `webgpu: ${why}` };
  } catch (e) {
    await destroyBrowserGpu(ctx);
    if (requested !== 'auto' || !(e instanceof GpuResourceError) || !has.includes('wasm')) throw e;
    return onCpu(`WebGPU could not run the model, so the CPU does: ${e.message}`);
  }
}
