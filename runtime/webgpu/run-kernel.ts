// Run one WGSL compute shader over a handful of buffers and read results back. Meant for kernel
// tests and experiments, not for the scheduler: every call creates, fills and destroys its
// buffers. Pipelines are cached per device by (WGSL text, entry point, constants), so running the
// same kernel over many drawn shapes compiles it once.
//
// Buffers are bound in order to @group(0) @binding(0..n-1). Sizes are rounded up to a multiple
// of 4 bytes (WebGPU needs that for copies), so a runtime-sized array<f16> of odd length sees
// arrayLength() one larger than the data: pass the true length in a uniform.
import { BufferUsage, MapMode, type GpuContext } from './gpu-context.js';

export type TypedArray =
  | Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array
  | Int32Array | Uint32Array | BigInt64Array | BigUint64Array;

type TypedArrayCtor<T extends TypedArray> = { new (buffer: ArrayBuffer): T; BYTES_PER_ELEMENT: number };

/** One binding of the kernel:
 *  - a typed array: read-only storage input (`var<storage, read>`);
 *  - `{ data, read: true }`: read_write storage, filled from `data`, read back as the same type;
 *  - `{ output: Float32Array, length }`: read_write storage, zero-filled, read back as that type;
 *  - `{ uniform: data }`: a uniform buffer (`var<uniform>`). */
export type KernelBuffer =
  | TypedArray
  | { data: TypedArray; read: true }
  | { output: TypedArrayCtor<TypedArray>; length: number }
  | { uniform: TypedArray };

/** What runKernel returns for each binding: the read-back array, or undefined. */
export type KernelResult<B> =
  B extends { output: TypedArrayCtor<infer T> } ? T
  : B extends { data: infer T; read: true } ? T
  : undefined;

export interface KernelRun<B extends readonly KernelBuffer[]> {
  wgsl: string;
  /** Default 'main'. */
  entryPoint?: string;
  buffers: B;
  /** Workgroup counts: x, or [x, y, z]. */
  workgroups: number | readonly [number, number?, number?];
  /** Values for WGSL `override` declarations. */
  constants?: Record<string, number>;
  label?: string;
}

/** A WGSL compilation, pipeline or dispatch error; compile errors quote the source lines. */
export class KernelError extends Error {
  override name = 'KernelError';
}

const pipelines = new WeakMap<GPUDevice, Map<string, Promise<GPUComputePipeline>>>();

/** Compiles (or fetches from the cache) the compute pipeline for a WGSL source. */
export function getPipeline(
  ctx: GpuContext, wgsl: string, entryPoint = 'main', constants?: Record<string, number>, label?: string,
): Promise<GPUComputePipeline> {
  let cache = pipelines.get(ctx.device);
  if (!cache) pipelines.set(ctx.device, (cache = new Map()));
  const key = `${entryPoint}\0${JSON.stringify(constants ?? {})}\0${wgsl}`;
  let p = cache.get(key);
  if (!p) {
    p = compile(ctx.device, wgsl, entryPoint, constants, label);
    cache.set(key, p);
    // A failure is not cached: the caller may fix the environment (e.g. limits) and retry.
    p.catch(() => cache.delete(key));
  }
  return p;
}

async function compile(
  device: GPUDevice, wgsl: string, entryPoint: string, constants: Record<string, number> | undefined, label?: string,
): Promise<GPUComputePipeline> {
  // A bad shader also raises a validation error on the device; this scope swallows it (the
  // messages below say the same, with positions) so it does not reach ctx.onError as well.
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ code: wgsl, label });
  const swallowed = device.popErrorScope().catch(() => null);
  // getCompilationInfo gives line/column per message; we check it before building the
  // pipeline so the error names the shader problem rather than "invalid ShaderModule".
  const info = await module.getCompilationInfo();
  await swallowed;
  const errors = info.messages.filter((m) => m.type === 'error');
  if (errors.length > 0) {
    throw new KernelError(`WGSL compilation failed${label ? ` (${label})` : ''}:\n` +
      errors.map((m) => formatMessage(wgsl, m)).join('\n'));
  }
  try {
    return await device.createComputePipelineAsync({
      label,
      layout: 'auto',
      compute: { module, entryPoint, ...(constants ? { constants } : {}) },
    });
  } catch (e) {
    throw new KernelError(`creating the compute pipeline failed${label ? ` (${label})` : ''}: ${(e as Error).message.trim()}`);
  }
}

function formatMessage(src: string, m: GPUCompilationMessage): string {
  const line = src.split('\n')[m.lineNum - 1];
  const where = m.lineNum > 0 ? `${m.lineNum}:${m.linePos}: ` : '';
  const excerpt = line !== undefined && m.lineNum > 0
    ? `\n  ${line}\n  ${' '.repeat(Math.max(0, m.linePos - 1))}${'^'.repeat(Math.max(1, Math.min(m.length, line.length - m.linePos + 1)))}`
    : '';
  return `${where}${m.type}: ${m.message}${excerpt}`;
}

const align4 = (n: number): number => Math.max(4, Math.ceil(n / 4) * 4);

/** Runs the kernel once and returns, for each binding, its read-back contents (or undefined). */
export async function runKernel<const B extends readonly KernelBuffer[]>(
  ctx: GpuContext, run: KernelRun<B>,
): Promise<{ -readonly [K in keyof B]: KernelResult<B[K]> }> {
  const { device } = ctx;
  const pipeline = await getPipeline(ctx, run.wgsl, run.entryPoint, run.constants, run.label);

  // Errors from here on (bad sizes, too many bindings, layout mismatch) are caught by error
  // scopes and rethrown here, instead of surfacing later as an uncaptured error with no caller to
  // blame. Push, set-up, submit and the three pops happen in one synchronous stretch, so
  // concurrent runKernel calls on one device cannot interleave their scopes.
  device.pushErrorScope('internal');
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');

  const gpuBuffers: GPUBuffer[] = [];
  // Read-back plan: binding index, offset in the staging buffer, size, and how to view it.
  const reads: { index: number; offset: number; size: number; ctor: TypedArrayCtor<TypedArray> }[] = [];
  let staging: GPUBuffer | undefined;
  let thrown: unknown;
  try {
    let stagingSize = 0;
    run.buffers.forEach((spec, index) => {
      let usage = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;
      let data: TypedArray | undefined;
      let byteLength: number;
      let ctor: TypedArrayCtor<TypedArray> | undefined;
      if (ArrayBuffer.isView(spec)) {
        data = spec;
        byteLength = spec.byteLength;
      } else if ('uniform' in spec) {
        data = spec.uniform;
        byteLength = data.byteLength;
        usage = BufferUsage.UNIFORM | BufferUsage.COPY_DST;
      } else if ('output' in spec) {
        ctor = spec.output;
        byteLength = spec.length * ctor.BYTES_PER_ELEMENT;
      } else {
        data = spec.data;
        byteLength = data.byteLength;
        ctor = data.constructor as TypedArrayCtor<TypedArray>;
      }
      const size = align4(byteLength);
      const buf = device.createBuffer({ size, usage, mappedAtCreation: data !== undefined });
      gpuBuffers.push(buf);
      if (data) {
        // Copy byte-wise: the padded tail stays zero, and any typed-array type fits.
        new Uint8Array(buf.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
        buf.unmap();
      }
      if (ctor) {
        reads.push({ index, offset: stagingSize, size: byteLength, ctor });
        stagingSize += size;
      }
    });

    const bindGroup = device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: gpuBuffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    if (stagingSize > 0) {
      staging = device.createBuffer({ size: stagingSize, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
      gpuBuffers.push(staging);
    }

    const [x, y = 1, z = 1] = typeof run.workgroups === 'number' ? [run.workgroups] : run.workgroups;
    const encoder = device.createCommandEncoder({ label: run.label });
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    pass.end();
    for (const r of reads) encoder.copyBufferToBuffer(gpuBuffers[r.index], 0, staging!, r.offset, align4(r.size));
    device.queue.submit([encoder.finish()]);
  } catch (e) {
    thrown = e; // a JS-side exception (e.g. a TypeError for a bad descriptor); scopes still pop
  }
  const scopeErrors = Promise.all([device.popErrorScope(), device.popErrorScope(), device.popErrorScope()]);

  try {
    const scoped = (await scopeErrors).find((e) => e !== null);
    if (thrown) throw thrown;
    if (scoped) throw new KernelError(`running the kernel failed${run.label ? ` (${run.label})` : ''}: ${scoped.message.trim()}`);

    const results: unknown[] = run.buffers.map(() => undefined);
    if (staging) {
      await staging.mapAsync(MapMode.READ);
      const mapped = staging.getMappedRange();
      for (const r of reads) {
        // slice() copies out of the mapping, which unmap() detaches.
        results[r.index] = new r.ctor(mapped.slice(r.offset, r.offset + r.size));
      }
      staging.unmap();
    }
    return results as { -readonly [K in keyof B]: KernelResult<B[K]> };
  } finally {
    for (const b of gpuBuffers) b.destroy();
  }
}
