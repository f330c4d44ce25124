// The buffers a WebGPU executor owns (weights by source and row range, KV cache by state name,
// activations, uniforms), and allocation under error scopes so that running out of device memory
// or losing the device becomes one clear GpuResourceError instead of invalid buffers that fail
// later. An optional byte budget makes allocation fail early, as a real out-of-memory would: for
// tests, and to keep a model within a share of a device.
import { type RowRange, rowRangeBytes } from '../../codegen/wgsl/split.js';
import type { Value } from '../../ir/graph.js';
import { formatWeight } from '../../ir/printer.js';
import type { ParamResolver } from '../reference/interpreter.js';
import type { GpuContext } from './device.js';
import { adapterName, formatBytes, GpuDeviceLostError, GpuOutOfMemoryError } from './errors.js';

const pad4 = (n: number) => Math.max(4, Math.ceil(n / 4) * 4);

/** Thrown inside a guarded allocation when the budget would be exceeded (turned into GpuOutOfMemoryError). */
class OverBudget extends Error {
  constructor(readonly label: string, readonly bytes: number, readonly total: number, readonly budget: number) {
    super(`${label} (${formatBytes(bytes)}) would bring the model's buffers to ${formatBytes(total)}, over the memory budget of ${formatBytes(budget)}`);
  }
}

export class ResidentBuffers {
  readonly params = new Map<string, GPUBuffer>();
  readonly states = new Map<string, GPUBuffer>();
  readonly owned: GPUBuffer[] = [];
  /** Bytes of every buffer created so far. */
  allocated = 0;
  /** The largest buffer created so far. */
  largest = { label: '', bytes: 0 };

  constructor(private readonly device: GPUDevice, private readonly budget?: number) {}

  create(bytes: number, usage: number, label: string): GPUBuffer {
    const size = pad4(bytes);
    if (this.budget !== undefined && this.allocated + size > this.budget) throw new OverBudget(label, size, this.allocated + size, this.budget);
    const b = this.device.createBuffer({ size, usage, label });
    this.owned.push(b);
    this.allocated += size;
    if (size > this.largest.bytes) this.largest = { label, bytes: size };
    return b;
  }

  /** A weight's buffer (only `rows` of it when given), uploaded once per source and range. */
  param(v: Value, resolve: ParamResolver, usage: number, rows?: RowRange): GPUBuffer {
    if (v.def.kind !== 'param') throw new Error(`%${v.name} is not a parameter`);
    const key = `${formatWeight(v.def.source)}${rows ? `#rows ${rows.first}+${rows.count}` : ''}`;
    let b = this.params.get(key);
    if (!b) {
      const all = weightBytesOf(v, resolve, rows);
      const { start, end } = rows ? rowRangeBytes(v.type, rows) : { start: 0, end: all.byteLength };
      if (end > all.byteLength) throw new Error(`%${v.name}: rows ${rows!.first}..${rows!.first + rows!.count} end at byte ${end}, past the weight's ${all.byteLength} bytes`);
      const label = `param ${v.name}${rows ? ` rows ${rows.first}..${rows.first + rows.count}` : ''}`;
      b = this.create(end - start, usage, label);
      this.device.queue.writeBuffer(b, 0, uploadable(all.subarray(start, end)));
      this.params.set(key, b);
      const buffer = b;
      if (!rows) resolve.placed?.(v, (bytes) => this.device.queue.writeBuffer(buffer, 0, uploadable(bytes)));
    }
    return b;
  }

  state(name: string, bytes: number, usage: number): GPUBuffer {
    let b = this.states.get(name);
    if (!b) {
      b = this.create(bytes, usage, `state ${name}`);
      this.states.set(name, b);
    }
    if (b.size < bytes) throw new Error(`state ${name} needs ${bytes} bytes, its buffer has ${b.size}`);
    return b;
  }

  destroy(): void {
    for (const b of this.owned) b.destroy();
    this.owned.length = 0;
    this.params.clear();
    this.states.clear();
  }
}

/**
 * A weight's bytes for upload. A whole weight is evaluated afresh into a buffer of its own that
 * lives only until the upload (the resolver's streamer; no JS copy of every weight is kept while
 * the model loads); row ranges of a split weight come from the resolver's cached tensor, which
 * the ranges share.
 */
function weightBytesOf(v: Value, resolve: ParamResolver, rows: RowRange | undefined): Uint8Array {
  const stream = rows ? undefined : resolve.streamer?.(v);
  if (stream) {
    const bytes = new Uint8Array(stream.bytes);
    stream.write(bytes);
    return bytes;
  }
  const t = resolve(v);
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/** The bytes as writeBuffer takes them: whole words, not on a SharedArrayBuffer (copied only then). */
function uploadable(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  if (bytes.byteLength % 4 === 0 && bytes.buffer instanceof ArrayBuffer) return bytes as Uint8Array<ArrayBuffer>;
  const out = new Uint8Array(pad4(bytes.byteLength));
  out.set(bytes);
  return out;
}

/** Throws GpuDeviceLostError when the device is gone; `doing` completes "… was lost while …". */
export function checkNotLost(ctx: GpuContext, doing: string): void {
  const lost = ctx.lostInfo();
  if (!lost) return;
  throw new GpuDeviceLostError(`the WebGPU device on '${adapterName(ctx.adapterInfo)}' was lost (${lost.reason}${lost.message ? `: ${lost.message}` : ''}) while ${doing}`,
    adapterName(ctx.adapterInfo), lost.reason);
}

/**
 * Runs `build` (which creates buffers through `resident`) synchronously inside out-of-memory and
 * validation error scopes, so concurrent device users cannot interleave with the scopes. On any
 * failure every buffer made so far is destroyed; out of memory (real or over budget) and device
 * loss come back as GpuResourceErrors naming the sizes and the adapter.
 */
export async function allocateGuarded<T>(ctx: GpuContext, resident: ResidentBuffers, what: string, build: () => T): Promise<T> {
  const { device } = ctx;
  checkNotLost(ctx, `allocating ${what}`);
  device.pushErrorScope('validation');
  device.pushErrorScope('out-of-memory');
  let result: { value: T } | undefined;
  let thrown: unknown;
  try {
    result = { value: build() };
  } catch (e) {
    thrown = e;
  }
  // A lost device may reject the pops; the loss is reported below instead.
  const oom = await device.popErrorScope().catch(() => null);
  const invalid = await device.popErrorScope().catch(() => null);
  const adapter = adapterName(ctx.adapterInfo);
  try {
    checkNotLost(ctx, `allocating ${what} (${formatBytes(resident.allocated)} requested)`);
    if (thrown instanceof OverBudget) {
      throw new GpuOutOfMemoryError(`WebGPU ran out of memory on '${adapter}' allocating ${what}: ${thrown.message}`, adapter, thrown.total);
    }
    if (oom) {
      throw new GpuOutOfMemoryError(`WebGPU ran out of memory on '${adapter}' allocating ${what}: ${formatBytes(resident.allocated)} in ${resident.owned.length} buffers ` +
        `(largest: ${resident.largest.label}, ${formatBytes(resident.largest.bytes)}): ${oom.message.trim()}`, adapter, resident.allocated);
    }
    if (thrown) throw thrown;
    if (invalid) throw new Error(`allocating ${what} on '${adapter}' failed: ${invalid.message.trim()}`);
    return result!.value;
  } catch (e) {
    resident.destroy();
    throw e;
  }
}
