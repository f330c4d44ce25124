// The WebGPU adapter check every WebGPU test file makes: under CI a missing adapter fails the run;
// elsewhere the tests say loudly that they skip. Call at module level; the returned function gives
// the reason to skip (undefined when an adapter is there).
import { beforeAll } from 'vitest';
import { destroyGpu, type GpuAdapterSummary, probeGpu } from '../../runtime/webgpu/device.js';
import { isCI } from './shared.js';

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
    else if (isCI()) throw new Error(`CI needs a WebGPU adapter: ${gpu.reason}`);
    else console.warn(`[tessera tests] SKIPPING ${what}: ${gpu.reason}`);
  });
  return () => reason;
}

/**
 * `['webgpu']` when an adapter is there, for tests that run a list of backends. Without one:
 * under CI it throws; elsewhere it warns that `what` leaves webgpu out, and gives `[]`.
 */
export async function webgpuIfAdapter(what: string): Promise<['webgpu'] | []> {
  const gpu = await probeGpu();
  if (gpu.ok) {
    await destroyGpu(gpu.ctx);
    return ['webgpu'];
  }
  if (isCI()) throw new Error(`CI needs a WebGPU adapter for ${what}: ${gpu.reason}`);
  console.warn(`[tessera tests] ${what} runs WITHOUT webgpu (only the CPU backends are checked): ${gpu.reason}`);
  return [];
}
