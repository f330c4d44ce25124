// How messages and backend reasons name an adapter: Dawn's description, unless that is only a
// driver version (NVIDIA's Vulkan driver), when the device name leads.
import { describe, expect, it } from 'vitest';
import type { GpuAdapterSummary } from '../../runtime/webgpu/device.js';
import { adapterName } from '../../runtime/webgpu/errors.js';

const summary = (s: Partial<GpuAdapterSummary>): GpuAdapterSummary => ({ vendor: '', architecture: '', device: '', description: '', isSoftware: false, ...s });

describe('adapterName', () => {
  it('uses a descriptive description as it is', () => {
    expect(adapterName(summary({ vendor: 'mesa', device: 'llvmpipe-llvm-15', description: 'llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)' }))).toBe('llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)');
  });

  it('puts the device first when the description is only a driver version', () => {
    expect(adapterName(summary({ vendor: 'nvidia', device: 'nvidia-h100-80gb-hbm3', description: 'NVIDIA: 580.159.04 580.159.4.0' })))
      .toBe('nvidia-h100-80gb-hbm3 (NVIDIA: 580.159.04 580.159.4.0)');
  });

  it('falls back to vendor, architecture and device, then to a placeholder', () => {
    expect(adapterName(summary({ vendor: 'amd', architecture: 'rdna-3', device: 'gfx1100' }))).toBe('amd rdna-3 gfx1100');
    expect(adapterName(summary({}))).toBe('unknown adapter');
  });
});
