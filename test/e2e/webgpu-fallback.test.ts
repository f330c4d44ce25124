// When the WebGPU device cannot hold the model or goes away: a clear error (what, how big, which
// adapter), and under --backend auto a fall back to the CPU with the reason given. Out of memory
// is injected with TESSERA_WEBGPU_MEMORY_BUDGET; TESSERA_WEBGPU_ALLOW_SOFTWARE lets auto choose
// lavapipe, so the auto path runs here as it would on a hardware adapter; device loss is a
// destroyed device.
import { afterEach, describe, expect, it } from 'vitest';
import { gpuContext } from '../../src/backends.js';
import { Model } from '../../src/model.js';
import type { GpuContext } from '../../runtime/webgpu/device.js';
import { adapterName, GpuDeviceLostError, GpuOutOfMemoryError } from '../../runtime/webgpu/errors.js';
import { allocateGuarded, ResidentBuffers } from '../../runtime/webgpu/resident.js';
import { maxAbsDiff, readRef } from '../helpers/refs.js';
import { gpuAdapter, gpuSkipReason } from '../helpers/gpu.js';
import { hasShared, sharedPath } from '../helpers/shared.js';

const BUDGET = 'TESSERA_WEBGPU_MEMORY_BUDGET';
const SOFTWARE = 'TESSERA_WEBGPU_ALLOW_SOFTWARE';

const gpuReason = gpuSkipReason('WebGPU fallback tests');
/** The adapter's name as the messages give it, as a regular expression (lavapipe in CI, or a GPU). */
const adapter = () => adapterName(gpuAdapter()).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
afterEach(() => {
  delete process.env[BUDGET];
  delete process.env[SOFTWARE];
});

describe.runIf(hasShared('refs', 'llama'))('WebGPU out of memory and device loss', () => {
  const path = sharedPath('refs', 'llama');
  const ref = readRef('llama');
  const ids = ref.inputIds[0];

  it('auto: chooses WebGPU, runs out of memory, and runs on wasm saying why', async (t) => {
    if (gpuReason()) return t.skip();
    process.env[SOFTWARE] = '1';
    process.env[BUDGET] = '4096';
    const model = await Model.open(path, { backend: 'auto', passes: 'default' });
    try {
      expect(model.executor.backend).toBe('wasm');
      expect(model.backendReason).toMatch(new RegExp(`^wasm: WebGPU could not run the model, so the CPU does: WebGPU ran out of memory on '${adapter()}'`));
      expect(model.backendReason).toMatch(/over the memory budget of 4096 bytes/);
      // The CPU runs graphs from its own pass pipeline, and gets the right answer.
      expect(maxAbsDiff(await model.logits(ids), ref.tensor('logits').data)).toBeLessThan(1e-4);
    } finally {
      await model.dispose();
    }
  });

  it('auto with enough memory stays on WebGPU', async (t) => {
    if (gpuReason()) return t.skip();
    process.env[SOFTWARE] = '1';
    process.env[BUDGET] = String(64 << 20);
    const model = await Model.open(path, { backend: 'auto' });
    expect(model.executor.backend).toBe('webgpu');
    const software = gpuAdapter().isSoftware ? String.raw` \(a software adapter, allowed by TESSERA_WEBGPU_ALLOW_SOFTWARE\)` : '';
    expect(model.backendReason).toMatch(new RegExp(String.raw`^webgpu: ${adapter()}${software}, [\d.]+ MiB of weights`));
    await model.dispose();
  });

  it('webgpu asked for by name: a clear out-of-memory error naming the sizes and the adapter', async (t) => {
    if (gpuReason()) return t.skip();
    process.env[BUDGET] = '4096';
    const open = Model.open(path, { backend: 'webgpu' });
    await expect(open).rejects.toThrow(GpuOutOfMemoryError);
    await expect(open).rejects.toThrow(new RegExp(String.raw`^WebGPU ran out of memory on '${adapter()}' allocating the model's weights, KV cache and activations: .* \(\d+ bytes \([\d.]+ KiB\)\) would bring the model's buffers to \d+ bytes .*, over the memory budget of 4096 bytes`));
    // Nothing stays behind: the same model opens once memory allows.
    delete process.env[BUDGET];
    const model = await Model.open(path, { backend: 'webgpu' });
    expect(maxAbsDiff(await model.logits(ids), ref.tensor('logits').data)).toBeLessThan(1e-4);
    await model.dispose();
  });

  it('a lost device: forward passes fail saying so, and the next open gets a fresh device', async (t) => {
    if (gpuReason()) return t.skip();
    const model = await Model.open(path, { backend: 'webgpu' });
    const ctx = await gpuContext();
    const quiet = ctx.onError(() => {}); // the loss is expected here; do not print it
    ctx.device.destroy();
    await ctx.lost;
    quiet();
    await expect(model.logits(ids)).rejects.toThrow(GpuDeviceLostError);
    await expect(model.logits(ids)).rejects.toThrow(new RegExp(String.raw`^the WebGPU device on '${adapter()}' was lost \(destroyed.*\) while running a forward pass`));
    await model.dispose();
    const again = await Model.open(path, { backend: 'webgpu' });
    expect(await gpuContext()).not.toBe(ctx);
    expect(maxAbsDiff(await again.logits(ids), ref.tensor('logits').data)).toBeLessThan(1e-4);
    await again.dispose();
  });
});

// Lavapipe allocates lazily and never reports out of memory, so the error-scope path is driven by
// a stand-in device whose out-of-memory scope reports what a GPU driver would.
describe('out of memory reported by the device', () => {
  function fakeContext(oom: string | null): { ctx: GpuContext; destroyed: string[] } {
    const destroyed: string[] = [];
    const scopes: string[] = [];
    const device = {
      pushErrorScope: (filter: string) => { scopes.push(filter); },
      popErrorScope: async () => (scopes.pop() === 'out-of-memory' && oom ? { message: oom } : null),
      createBuffer: ({ label }: { label: string }) => ({ label, destroy: () => { destroyed.push(label); } }),
      queue: { writeBuffer: () => {} },
    };
    const adapterInfo = { vendor: 'acme', architecture: 'gpu', device: 'x1', description: 'Acme X1', isSoftware: false };
    const ctx = { device, adapterInfo, lostInfo: () => undefined } as unknown as GpuContext;
    return { ctx, destroyed };
  }

  it('names the adapter, the bytes requested and the largest buffer, and frees what was made', async () => {
    const { ctx, destroyed } = fakeContext('Out of memory allocating buffer');
    const resident = new ResidentBuffers(ctx.device);
    const run = allocateGuarded(ctx, resident, 'the test buffers', () => {
      resident.create(3 << 20, 0x80, 'weights');
      resident.create(1 << 20, 0x80, 'cache');
    });
    await expect(run).rejects.toThrow(GpuOutOfMemoryError);
    await expect(run).rejects.toThrow("WebGPU ran out of memory on 'Acme X1' allocating the test buffers: 4194304 bytes (4.0 MiB) in 2 buffers " +
      '(largest: weights, 3145728 bytes (3.0 MiB)): Out of memory allocating buffer');
    expect(destroyed).toEqual(['weights', 'cache']);
  });

  it('passes the result through when the scopes are clean', async () => {
    const { ctx, destroyed } = fakeContext(null);
    const resident = new ResidentBuffers(ctx.device);
    expect(await allocateGuarded(ctx, resident, 'x', () => resident.create(8, 0x80, 'a').label)).toBe('a');
    expect(destroyed).toEqual([]);
  });
});
