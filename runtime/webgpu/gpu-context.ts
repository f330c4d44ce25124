// A WebGPU device as the runtime sees it (GpuContext), the same in Node and in a browser: which
// features and limits to ask of an adapter, the device's error and loss plumbing, and the spec's
// usage flags. Where the adapter comes from differs and lives beside this file: device.ts (Node,
// the `webgpu` package's Dawn) and browser-device.ts (navigator.gpu).
import { ResourceError } from '../../ir/errors.js';

/** Spec values of GPUBufferUsage / GPUMapMode. Node has no such globals unless someone installs
 *  `globals` from the package; we keep ours local rather than mutate `globalThis`. */
export const BufferUsage = {
  MAP_READ: 0x0001,
  MAP_WRITE: 0x0002,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  INDEX: 0x0010,
  VERTEX: 0x0020,
  UNIFORM: 0x0040,
  STORAGE: 0x0080,
  INDIRECT: 0x0100,
  QUERY_RESOLVE: 0x0200,
} as const;
export const MapMode = { READ: 0x0001, WRITE: 0x0002 } as const;

/** Optional features we turn on whenever the adapter has them. */
const WANTED_FEATURES = ['shader-f16', 'subgroups', 'timestamp-query'] as const;

/** Limits we raise to the adapter's maximum: the WebGPU defaults (e.g. 8 storage buffers per
 *  stage, 16 KiB workgroup storage, 256 invocations) are below what fused LLM kernels want. */
const MAXED_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

export interface GpuAdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A CPU implementation (lavapipe/llvmpipe, SwiftShader, WARP): correct but slow. */
  isSoftware: boolean;
}

/** Something went wrong on the device after it was created. */
export type GpuErrorEvent =
  | { kind: 'uncaptured'; type: 'validation' | 'out-of-memory' | 'internal' | 'unknown'; message: string }
  | { kind: 'lost'; reason: string; message: string };

declare global {
  // The published declarations name GPUDevice here. This empty declaration merges with the full
  // one from @webgpu/types where it is installed (our build, the optional 'webgpu' package) and
  // stands alone where it is not, so users' type checks need no @webgpu/types (README: Install).
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface GPUDevice {}
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface GPUAdapter {}
}

export interface GpuContext {
  device: GPUDevice;
  adapterInfo: GpuAdapterSummary;
  /** Features enabled on the device, sorted. */
  features: string[];
  /** Every limit of the device as granted. */
  limits: Record<string, number>;
  /** Resolves when the device is lost, including through `destroyGpu` (reason 'destroyed'). */
  lost: Promise<{ reason: string; message: string }>;
  /** The loss once `lost` has resolved, else undefined: a synchronous check before using the device. */
  lostInfo(): { reason: string; message: string } | undefined;
  /** Subscribes to uncaptured errors and unexpected device loss; returns an unsubscribe function.
   *  With no subscriber, such events are printed with console.error so they are never silent. */
  onError(cb: (e: GpuErrorEvent) => void): () => void;
}

export interface DeviceOptions {
  /** Extra or different limits; these override the maxima we ask for by default. */
  requiredLimits?: Partial<Record<string, number>>;
  powerPreference?: 'high-performance' | 'low-power';
}

/** Thrown when no usable device exists (no adapter, requestDevice refused); the message says why. */
export class GpuUnavailableError extends ResourceError {
  override name = 'GpuUnavailableError';
}

function messageOf(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).trim();
}

/** Asks `adapter` for a device with the wanted features and every limit raised to its maximum. */
export async function requestDevice(adapter: GPUAdapter, opts: DeviceOptions = {}): Promise<GPUDevice> {
  const requiredFeatures = WANTED_FEATURES.filter((f) => adapter.features.has(f));
  const requiredLimits: Record<string, number> = {};
  const adapterLimits = adapter.limits as unknown as Record<string, number>;
  for (const k of MAXED_LIMITS) {
    if (typeof adapterLimits[k] === 'number') requiredLimits[k] = adapterLimits[k];
  }
  for (const [k, v] of Object.entries(opts.requiredLimits ?? {})) {
    if (v !== undefined) requiredLimits[k] = v;
  }
  try {
    return await adapter.requestDevice({ requiredFeatures, requiredLimits });
  } catch (e) {
    throw new GpuUnavailableError(`requestDevice failed on '${adapter.info.description || adapter.info.architecture}': ${messageOf(e)}`);
  }
}

/**
 * The GpuContext of a device: its features and limits as granted, and error plumbing that reports
 * uncaptured errors and unexpected loss (`expectedLoss` says when a loss was asked for).
 */
export function gpuContextOf(adapter: GPUAdapter, device: GPUDevice, expectedLoss: (d: GPUDevice) => boolean): GpuContext {
  // Error plumbing: one listener on the device fans out to subscribers. preventDefault stops
  // the implementation (Dawn, the browser) from also printing the error itself.
  const subscribers = new Set<(e: GpuErrorEvent) => void>();
  const report = (ev: GpuErrorEvent): void => {
    if (subscribers.size === 0) {
      console.error(`[tessera webgpu] ${ev.kind === 'lost' ? `device lost (${ev.reason})` : `${ev.type} error`}: ${ev.message}`);
    }
    for (const cb of subscribers) cb(ev);
  };
  device.addEventListener('uncapturederror', (ev) => {
    const e = (ev as GPUUncapturedErrorEvent).error;
    ev.preventDefault();
    const name = e?.constructor?.name;
    const type = name === 'GPUValidationError' ? 'validation'
      : name === 'GPUOutOfMemoryError' ? 'out-of-memory'
      : name === 'GPUInternalError' ? 'internal' : 'unknown';
    report({ kind: 'uncaptured', type, message: (e?.message ?? String(e)).trim() });
  });
  let lostInfo: { reason: string; message: string } | undefined;
  const lost = device.lost.then((info) => {
    const out = { reason: String(info.reason), message: info.message.trim() };
    lostInfo = out;
    if (!expectedLoss(device)) report({ kind: 'lost', ...out });
    return out;
  });

  const limits: Record<string, number> = {};
  const deviceLimits = device.limits as unknown as Record<string, number>;
  // The limits are getters on the prototype, so for..in (not Object.keys) sees them.
  for (const k in deviceLimits) {
    if (typeof deviceLimits[k] === 'number') limits[k] = deviceLimits[k];
  }

  const info = adapter.info;
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`;
  return {
    device,
    adapterInfo: {
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      description: info.description,
      isSoftware: Boolean(info.isFallbackAdapter) || /lavapipe|llvmpipe|swiftshader|softpipe|warp|basic render/i.test(text),
    },
    features: [...device.features].map(String).sort(),
    limits,
    lost,
    lostInfo: () => lostInfo,
    onError(cb) {
      subscribers.add(cb);
      return () => subscribers.delete(cb);
    },
  };
}
