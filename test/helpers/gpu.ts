// The WebGPU adapter check every WebGPU test file makes: under CI a missing adapter fails the run;
// elsewhere the tests say loudly that they skip. Call at module level; the returned function gives
// the reason to skip (undefined when an adapter is there).
import { beforeAll } from 'vitest';
import { destroyGpu, type GpuAdapterSummary, probeGpu } from '../../runtime/webgpu/device.js';

let probedAdapter: GpuAdapterSummary | undefined;

/** The adapter the last probe found: tests that check messages naming it (hardware or lavapipe). */
export function gpuAdapter(): GpuAdapterSummary {
  if (!probedAdapter) throw new Error('gpuAdapter() before gpuSkipReason probed an adapter');
  return probedAdapter;
}

export function gpuSkipReason(what: string): () => string | undefined {
  let reason: string | undefined = 'not probed';
  beforeAll(async () => {
    const gpu = await probeGpu();
    reason = gpu.ok ? undefined : gpu.reason;
    if (gpu.ok) probedAdapter = gpu.ctx.adapterInfo;
    if (gpu.ok) await destroyGpu(gpu.ctx);
    else if (process.env.CI) throw new Error(`CI needs a WebGPU adapter: ${gpu.reason}`);
    else console.warn(`[tessera tests] SKIPPING ${what}: ${gpu.reason}`);
  });
  return () => reason;
}
