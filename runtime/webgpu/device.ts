// Acquiring and releasing a WebGPU device in Node through Dawn (the `webgpu` npm package).
//
// Types: the `webgpu` package's types.d.ts imports `@webgpu/types`, which declares the global
// GPU* interfaces (GPUDevice, GPUAdapter, …). The type-only import below is what brings them into
// this compilation; nothing is loaded at run time until `acquireGpu` does a dynamic import, so a
// missing or broken native module becomes a readable "unavailable" reason, not a crash on import.
//
// Lifetime rules learnt the hard way with webgpu@0.6.2 (see README.md beside this file):
//  - The native instance (the object `create()` returns) must stay strongly referenced while any
//    of its devices has work in flight. If V8 collects it, Dawn's pending event pump touches freed
//    memory and the process dies with SIGSEGV/SIGABRT. We keep every live instance in `live`.
//  - A live device does not keep Node's event loop alive; pending promises (mapAsync,
//    onSubmittedWorkDone, createComputePipelineAsync) do, through a setImmediate pump. So a script
//    that awaits its GPU work and then calls `destroyGpu` exits normally.
import type * as WebGpuModule from 'webgpu';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type DeviceOptions, type GpuContext, gpuContextOf, GpuUnavailableError, requestDevice } from './gpu-context.js';

export * from './gpu-context.js';

// Native instances of live devices (see the lifetime note at the top), and the devices that
// destroyGpu is taking down, whose 'destroyed' loss is expected and not reported.
const live = new Map<GPUDevice, GPU>();
const destroying = new WeakSet<GPUDevice>();

/** Dawn instance options from the environment: TESSERA_WEBGPU_ADAPTER picks an adapter by
 *  (case-sensitive) substring of its name, TESSERA_WEBGPU_BACKEND a backend ('vulkan', …). */
function envDawnOptions(): string[] {
  const out: string[] = [];
  if (process.env.TESSERA_WEBGPU_ADAPTER) out.push(`adapter=${process.env.TESSERA_WEBGPU_ADAPTER}`);
  if (process.env.TESSERA_WEBGPU_BACKEND) out.push(`backend=${process.env.TESSERA_WEBGPU_BACKEND}`);
  return out;
}

function messageOf(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).trim();
}

export interface AcquireOptions extends DeviceOptions {
  /** Extra Dawn instance options, e.g. 'enable-dawn-features=dump_shaders'. */
  dawnOptions?: string[];
}

export async function acquireGpu(opts: AcquireOptions = {}): Promise<GpuContext> {
  let mod: typeof WebGpuModule;
  try {
    mod = await import('webgpu');
  } catch (e) {
    throw new GpuUnavailableError(`cannot load the 'webgpu' module (Dawn for Node): ${messageOf(e)}`);
  }

  // Full-resolution timestamps: `bench --profile` times single kernels of a few microseconds.
  const gpu = mod.create(['disable-dawn-features=timestamp_quantization', ...envDawnOptions(), ...(opts.dawnOptions ?? [])]);
  let found: GPUAdapter | null;
  try {
    found = await gpu.requestAdapter(opts.powerPreference ? { powerPreference: opts.powerPreference } : undefined);
  } catch (e) {
    // Dawn throws here when an `adapter=`/`backend=` option matches nothing; its message lists
    // the adapters it did find.
    throw new GpuUnavailableError(`requestAdapter failed: ${messageOf(e)}`);
  }
  const adapter = found;
  if (!adapter) throw new GpuUnavailableError(`no WebGPU adapter: ${diagnoseNoAdapter()}`);

  const device = await requestDevice(adapter, opts);
  // The instance stays in `live` even after a loss: Dawn may still settle pending promises of a
  // lost device. destroyGpu releases it.
  live.set(device, gpu);
  return gpuContextOf(adapter, device, (d) => destroying.has(d));
}

/** Like acquireGpu but never throws: tells whether WebGPU works here, and why not. */
export async function probeGpu(
  opts?: AcquireOptions,
): Promise<{ ok: true; ctx: GpuContext } | { ok: false; reason: string }> {
  try {
    return { ok: true, ctx: await acquireGpu(opts) };
  } catch (e) {
    return { ok: false, reason: e instanceof GpuUnavailableError ? e.message : `unexpected error: ${messageOf(e)}` };
  }
}

/** Resolves with `p`, or with undefined after `ms`; the timer never holds the process open. */
function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(resolve, ms, undefined);
    timer.unref();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Waits for submitted work, destroys the device and releases the native instance. Idempotent.
 *  After this the process can exit; Dawn holds no handle on the event loop. */
export async function destroyGpu(ctx: GpuContext): Promise<void> {
  const { device } = ctx;
  if (!live.has(device) || destroying.has(device)) return;
  destroying.add(device);
  // Let queued work finish first: destroying mid-kernel is legal but makes lavapipe wait anyway,
  // and pending mapAsync calls would reject with an unhelpful empty message.
  await within(device.queue.onSubmittedWorkDone().catch(() => undefined), 10_000);
  device.destroy();
  // The 'destroyed' loss is delivered through Dawn's event pump, which needs the instance alive.
  await within(ctx.lost, 5_000);
  live.delete(device);
}

// ---------------------------------------------------------------------------------------------
// Why is there no adapter? Dawn prints its own reason to stderr (which we cannot capture), so we
// look at what the Vulkan loader would see and say what is missing.

const LIB_DIRS = ['/lib', '/usr/lib', '/lib64', '/usr/lib64', '/usr/local/lib'];
const TRIPLETS: Record<string, string> = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' };

function diagnoseNoAdapter(): string {
  if (process.platform !== 'linux') {
    return 'requestAdapter returned null (no supported GPU driver found by Dawn)';
  }
  const triplet = TRIPLETS[process.arch];
  const libDirs = [
    ...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean),
    ...(triplet ? [`/lib/${triplet}`, `/usr/lib/${triplet}`] : []),
    ...LIB_DIRS,
  ];
  const install = 'run .ci/install-webgpu.sh (lavapipe, CPU-only) or install libvulkan1 and your GPU vendor\'s Vulkan driver';
  if (!libDirs.some((d) => existsSync(join(d, 'libvulkan.so.1')))) {
    return `the Vulkan loader libvulkan.so.1 was not found; ${install}`;
  }
  const icds = vulkanIcdFiles();
  if (icds.length === 0) {
    const override = process.env.VK_DRIVER_FILES ?? process.env.VK_ICD_FILENAMES;
    return override
      ? `VK_DRIVER_FILES/VK_ICD_FILENAMES (${override}) names no existing Vulkan ICD file`
      : `libvulkan.so.1 is present but no Vulkan ICD (driver manifest) was found; ${install}`;
  }
  return `Vulkan drivers are installed (${icds.join(', ')}) but Dawn accepted none of them ` +
    '(no device, driver too old — lavapipe needs Mesa >= 24, from bookworm-backports — or no permission on /dev/dri)';
}

/** ICD manifest files the Vulkan loader would read, honouring its override variables. */
function vulkanIcdFiles(): string[] {
  const override = process.env.VK_DRIVER_FILES ?? process.env.VK_ICD_FILENAMES;
  if (override) return override.split(':').filter((f) => existsSync(f));
  const dataDirs = (process.env.XDG_DATA_DIRS ?? '/usr/local/share:/usr/share').split(':');
  const dirs = ['/etc/vulkan/icd.d', ...dataDirs.map((d) => join(d, 'vulkan', 'icd.d'))];
  const found: string[] = [];
  for (const d of dirs) {
    try {
      for (const f of readdirSync(d)) if (f.endsWith('.json')) found.push(join(d, f));
    } catch {
      // missing directory: nothing there
    }
  }
  return found;
}
