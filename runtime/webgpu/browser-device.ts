// Acquiring a WebGPU device in a browser (navigator.gpu): the counterpart of device.ts, which
// does it in Node through Dawn. Everything after the adapter is gpu-context.ts, shared.
import { type DeviceOptions, type GpuContext, gpuContextOf, GpuUnavailableError, requestDevice } from './gpu-context.js';

const destroying = new WeakSet<GPUDevice>();

/** A device from navigator.gpu, or GpuUnavailableError saying why there is none. */
export async function acquireBrowserGpu(opts: DeviceOptions = {}): Promise<GpuContext> {
  const gpu = (globalThis.navigator as { gpu?: GPU } | undefined)?.gpu;
  if (!gpu) throw new GpuUnavailableError('this browser has no navigator.gpu (WebGPU is off, or the page is not a secure context: https or localhost)');
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter(opts.powerPreference ? { powerPreference: opts.powerPreference } : undefined);
  } catch (e) {
    throw new GpuUnavailableError(`requestAdapter failed: ${(e as Error).message}`);
  }
  if (!adapter) throw new GpuUnavailableError('navigator.gpu.requestAdapter() gave no adapter (no GPU the browser will use; headless Chromium needs --enable-unsafe-webgpu)');
  const device = await requestDevice(adapter, opts);
  return gpuContextOf(adapter, device, (d) => destroying.has(d));
}

/** Destroys the device once its queued work is done. Idempotent. */
export async function destroyBrowserGpu(ctx: GpuContext): Promise<void> {
  if (destroying.has(ctx.device)) return;
  destroying.add(ctx.device);
  await ctx.device.queue.onSubmittedWorkDone().catch(() => undefined);
  ctx.device.destroy();
}
