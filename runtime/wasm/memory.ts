// The CPU backend's linear memory: one shared WebAssembly.Memory that every worker imports, and a
// bump allocator over it for weights, activations, the KV cache, plans and argument blocks. (The
// memory planner will later decide offsets itself; this allocator is what it will sit on.)
// WebAssembly memory32 holds at most 4 GiB; asking for more fails with the sizes named.
import { HEAP_START, MAX_PAGES, PAGE_BYTES } from '../../codegen/wasm/abi.js';
import type { KernelBinding, WasmKernel } from '../../codegen/wasm/kernel.js';
import { type DimBindings, evalDim } from '../../ir/dim.js';
import { ResourceError } from '../../ir/errors.js';
import type { Value } from '../../ir/graph.js';
import { formatWeight } from '../../ir/printer.js';
import type { ParamResolver } from '../reference/interpreter.js';
import { platform } from '../platform/platform.js';

const MAX_BYTES = MAX_PAGES * PAGE_BYTES;

export function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  return `${n} bytes`;
}

export type Float32View = Float32Array;

/** A model that does not fit in wasm32's 4 GiB. */
export function tooBigForWasm(bytes: number, what: string): ResourceError {
  return new ResourceError(`the model needs ${formatBytes(bytes)} of WebAssembly memory (${what}), but wasm32 memory holds at most 4 GiB: ` +
    'use a quantized model (q8_0, q4_0), a shorter context (--ctx N, the contextLength load option), or --backend webgpu');
}

/** Why the engine refused to reserve `bytes`, and what to do (the platform knows its limits). */
function reserveFailed(bytes: number, cause: unknown): ResourceError {
  const { addressSpaceLimit: limit, advice } = platform().reserveAdvice();
  return new ResourceError(
    `could not reserve ${formatBytes(bytes)} of WebAssembly memory` +
    (limit !== undefined ? ` under this process's address-space limit of ${formatBytes(limit)} (ulimit -v)` : '') + `. ${advice}`,
    { cause });
}

export class WasmMemory {
  readonly memory: WebAssembly.Memory;
  private top = HEAP_START;
  /** The most this memory may grow to (bytes): V8 reserves it up front. */
  readonly maxBytes: number;

  /**
   * `initialBytes` is committed up front; the memory grows as allocations need, up to
   * `maximumBytes` (default and at most 4 GiB), which the engine reserves as address space at once.
   */
  constructor(initialBytes = 16 << 20, maximumBytes = MAX_BYTES) {
    if (initialBytes > MAX_BYTES) throw tooBigForWasm(initialBytes, 'at start');
    const low = Math.ceil(HEAP_START / PAGE_BYTES) + 1;
    const maximum = Math.min(MAX_PAGES, Math.max(low, Math.ceil(maximumBytes / PAGE_BYTES)));
    const pages = Math.min(maximum, Math.max(Math.ceil(initialBytes / PAGE_BYTES), low));
    this.maxBytes = maximum * PAGE_BYTES;
    try {
      this.memory = new WebAssembly.Memory({ initial: pages, maximum, shared: true });
    } catch (e) {
      throw reserveFailed(this.maxBytes, e);
    }
  }

  /** Bytes allocated so far, counting the reserved low region. */
  get used(): number {
    return this.top;
  }

  /** Reserves `bytes` aligned to `align` (a power of two) and returns the address. */
  alloc(bytes: number, align = 64, what = 'a buffer'): number {
    if (!Number.isInteger(bytes) || bytes < 0) throw new RangeError(`alloc: ${bytes} is not a byte count`);
    if (align <= 0 || (align & (align - 1)) !== 0) throw new RangeError(`alloc: alignment ${align} is not a power of two`);
    const at = Math.ceil(this.top / align) * align;
    const end = at + bytes;
    if (end > MAX_BYTES) throw tooBigForWasm(end, `${what}: ${formatBytes(bytes)} more after ${formatBytes(this.top)}`);
    if (end > this.maxBytes) {
      // The reservation comes from the plan (budget.ts), so running past it is our bug.
      throw new Error(`${what} (${formatBytes(bytes)}) does not fit in the ${formatBytes(this.maxBytes)} of WebAssembly memory reserved (${formatBytes(this.top)} used)`);
    }
    this.ensure(end);
    this.top = end;
    return at;
  }

  /** The allocation high-water mark, to return to with `release` (for per-run temporaries). */
  mark(): number {
    return this.top;
  }

  release(mark: number): void {
    if (mark < HEAP_START || mark > this.top) throw new RangeError(`release: ${mark} is not a mark of this allocator`);
    this.top = mark;
  }

  private ensure(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    // Grow geometrically so that many small allocations do not each grow the memory.
    const want = Math.min(this.maxBytes, Math.max(end, have * 1.5));
    try {
      this.memory.grow(Math.ceil((want - have) / PAGE_BYTES));
    } catch (e) {
      throw reserveFailed(want, e);
    }
  }

  // Views are made fresh each time: a grown SharedArrayBuffer is a new object.
  get bytes(): Uint8Array {
    return new Uint8Array(this.memory.buffer);
  }

  f32(ptr: number, length: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, length);
  }

  i32(ptr: number, length: number): Int32Array {
    return new Int32Array(this.memory.buffer, ptr, length);
  }

  u32(ptr: number, length: number): Uint32Array {
    return new Uint32Array(this.memory.buffer, ptr, length);
  }

  /** Copies raw bytes of a typed array to `ptr`. */
  write(ptr: number, data: ArrayBufferView): void {
    this.bytes.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), ptr);
  }

  /** Copies `byteLength` bytes from `ptr` out of shared memory. */
  read(ptr: number, byteLength: number): Uint8Array {
    return this.bytes.slice(ptr, ptr + byteLength);
  }

  fill(ptr: number, byteLength: number, value: number): void {
    this.bytes.fill(value, ptr, ptr + byteLength);
  }
}

// Vector loads of a tail may touch (never use) a few bytes past a tensor's end.
const WEIGHT_SLACK = 64;

/**
 * Allocates a weight in `memory` and fills it: streamed straight from its file when it is stored
 * as it is (no JS copy waits for the garbage collector while a large model loads), else copied
 * from the resolved tensor.
 */
export function placeWeight(memory: WasmMemory, v: Value, params: ParamResolver): number {
  const stream = params.streamer?.(v);
  if (stream) {
    const at = memory.alloc(stream.bytes + WEIGHT_SLACK, 64, `weight %${v.name}`);
    stream.write(memory.bytes.subarray(at, at + stream.bytes));
    return at;
  }
  const t = params(v);
  const at = memory.alloc(t.data.byteLength + WEIGHT_SLACK, 64, `weight %${v.name}`);
  memory.write(at, t.data);
  params.placed?.(v, (bytes) => memory.write(at, bytes.subarray(0, t.data.byteLength)));
  return at;
}

/**
 * Places each distinct weight source once (placeWeight): parameters that read the same source,
 * e.g. in the prefill and the decode graph, share one copy.
 */
export function weightPlacer(memory: WasmMemory, params: ParamResolver): (v: Value) => number {
  const placed = new Map<string, number>();
  return (v) => {
    if (v.def.kind !== 'param') throw new Error(`%${v.name} is not a parameter`);
    const key = formatWeight(v.def.source);
    let at = placed.get(key);
    if (at === undefined) {
      at = placeWeight(memory, v, params);
      placed.set(key, at);
    }
    return at;
  };
}

/** A node's scratch slots laid out one after another: slot → byte offset, and the bytes in all. */
export interface ScratchLayout {
  readonly offsets: ReadonlyMap<number, number>;
  readonly bytes: number;
}

/**
 * Lays out a node's scratch: kernels of one node naming the same slot share it, sized for the
 * largest request (per-thread slots hold one share per thread), each slot 64-byte aligned with room
 * for vector loads that touch (never use) a few bytes past its end.
 */
export function scratchLayout(kernels: readonly WasmKernel[], dims: DimBindings, threads: number): ScratchLayout {
  const sizes = new Map<number, number>();
  for (const b of kernels.flatMap((k) => k.bindings)) {
    if (b.kind === 'scratch') sizes.set(b.slot, Math.max(sizes.get(b.slot) ?? 0, evalDim(b.bytes, dims) * (b.perThread ? threads : 1)));
  }
  const offsets = new Map<number, number>();
  let bytes = 0;
  for (const [slot, n] of sizes) {
    offsets.set(slot, bytes);
    bytes += Math.ceil((n + WEIGHT_SLACK) / 64) * 64;
  }
  return { offsets, bytes };
}

/**
 * Where the launches of a program find their scratch and work counter. A node uses its scratch
 * only during its own launches, and launches run one after another (a barrier between each), so
 * every node lays its slots out over one region, sized for the largest: a model's scratch costs
 * its largest node's, not the sum over its layers. One work counter serves every launch (its epoch
 * is the barrier generation).
 */
export class SharedScratch {
  private constructor(private readonly base: number, readonly counter: number) {}

  /** `poison` fills the region with 0xff bytes (tests: no kernel may expect zeroed scratch). */
  static alloc(memory: WasmMemory, layouts: Iterable<ScratchLayout>, poison = false): SharedScratch {
    let bytes = 0;
    for (const l of layouts) bytes = Math.max(bytes, l.bytes);
    const counter = memory.alloc(8, 64, 'work counter');
    memory.fill(counter, 8, 0);
    const base = memory.alloc(bytes, 64, 'scratch (shared by every node)');
    if (poison) memory.fill(base, bytes, 0xff);
    return new SharedScratch(base, counter);
  }

  /** The address a node's kernel binds for `b`, or undefined for operands and results. */
  address(b: KernelBinding, layout: ScratchLayout): number | undefined {
    if (b.kind === 'counter') return this.counter;
    if (b.kind === 'scratch') return this.base + layout.offsets.get(b.slot)!;
    return undefined;
  }
}
