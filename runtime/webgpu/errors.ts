// What can go wrong with the device itself, as opposed to a bug in a kernel: it cannot hold the
// model (out of memory) or it went away (device lost: driver reset, GPU removed, destroyed). Both
// are GpuResourceError, the class `--backend auto` falls back to the CPU on; the messages say what
// happened, how big, and on which adapter.
import { ResourceError } from '../../ir/errors.js';
import type { GpuAdapterSummary } from './device.js';

/** The device could not hold or keep running the model. */
export class GpuResourceError extends ResourceError {
  constructor(message: string, readonly adapter: string) {
    super(message);
    this.name = 'GpuResourceError';
  }
}

export class GpuOutOfMemoryError extends GpuResourceError {
  constructor(message: string, adapter: string, readonly requestedBytes: number) {
    super(message, adapter);
    this.name = 'GpuOutOfMemoryError';
  }
}

export class GpuDeviceLostError extends GpuResourceError {
  constructor(message: string, adapter: string, readonly reason: string) {
    super(message, adapter);
    this.name = 'GpuDeviceLostError';
  }
}

/** "1234567 bytes (1.2 MiB)", "512 bytes". */
export function formatBytes(bytes: number): string {
  const units = [['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]] as const;
  const unit = units.find(([, size]) => bytes >= size);
  return unit ? `${bytes} bytes (${(bytes / unit[1]).toFixed(1)} ${unit[0]})` : `${bytes} bytes`;
}

/** The adapter as messages name it: Dawn's description, or the device when that description is
 *  only a driver version (NVIDIA's Vulkan driver gives 'NVIDIA: 580.159.04 580.159.4.0'). */
export function adapterName(info: GpuAdapterSummary): string {
  const parts = [info.vendor, info.architecture, info.device].filter(Boolean).join(' ');
  if (info.description && info.device && /^[^:]*:\s*[\d.\s]+$/.test(info.description)) return `${info.device} (${info.description})`;
  return info.description || parts || 'unknown adapter';
}
