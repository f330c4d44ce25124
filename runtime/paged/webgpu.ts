// The paged step on WebGPU: the program's buffers made once (weights resident, the KV pool as
// state buffers written in place by paged_kv_write, activations in buffers shared by storages
// whose lifetimes do not overlap), as the batch executor places them (runtime/webgpu/graph-storage.ts);
// a step writes the rows' inputs and every launch's dims, dispatches, and reads back the logits
// and argmax of every row.
import { paddedSize } from '../../codegen/wgsl/contract.js';
import type { WgslProgram } from '../../codegen/wgsl/program.js';
import { ResourceError } from '../../ir/errors.js';
import type { ParamResolver } from '../reference/interpreter.js';
import { BufferUsage, type GpuContext, MapMode } from '../webgpu/gpu-context.js';
import { bindProgram, type BoundLaunch, uniformBytes } from '../webgpu/program-buffers.js';
import { checkBindingSizes, encodeGraphPass, programPipelines, storageBuffers } from '../webgpu/graph-storage.js';
import { LORA_ROWS_INPUT } from './lora-rows.js';
import { type PagedGeometry, pagedGeometry, type PagedRows, type PagedStepExecutor, type PagedStepResult } from './step.js';

const STORAGE = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;
const INPUTS = ['tokens', 'pos', 'lens', 'blocks'] as const;

export class WebGpuPagedExecutor implements PagedStepExecutor {
  readonly backend = 'webgpu';
  readonly geometry: PagedGeometry;
  /** The host copy of the uniform buffer, refilled each step. */
  private readonly uniforms: Uint8Array<ArrayBuffer>;

  private constructor(
    private readonly ctx: GpuContext,
    private readonly program: WgslProgram,
    private readonly launches: readonly BoundLaunch[],
    private readonly uniform: GPUBuffer,
    private readonly buffers: Readonly<Record<(typeof INPUTS)[number] | 'logits' | 'next', GPUBuffer> & { lora?: GPUBuffer }>,
    private readonly staging: GPUBuffer,
    private readonly owned: GPUBuffer[],
  ) {
    this.geometry = pagedGeometry(program.graph);
    this.uniforms = new Uint8Array(uniform.size);
  }

  get maxRows(): number {
    return this.program.bounds.S;
  }

  static async create(ctx: GpuContext, program: WgslProgram, params: ParamResolver): Promise<WebGpuPagedExecutor> {
    const { device } = ctx;
    const { plan, graph } = program;
    const owned: GPUBuffer[] = [];
    const create = (bytes: number, usage: number, label: string) => {
      const b = device.createBuffer({ size: paddedSize(bytes), usage, label });
      owned.push(b);
      return b;
    };
    try {
      checkBindingSizes(ctx, plan, 'use fewer KV blocks or rows');
      const bufferOf = storageBuffers(device, plan, params, create);
      const pipelines = await programPipelines(ctx, program);
      const uniform = create(uniformBytes(program), BufferUsage.UNIFORM | BufferUsage.COPY_DST, `dims of @${graph.name}`);
      const launches = bindProgram(device, program, (k) => pipelines.get(k)!, uniform, {
        value(v, ref, kernel) {
          if (ref.kind === 'operand' && ref.rows !== undefined) throw new ResourceError(`${kernel.label}: operand ${ref.index} is a weight larger than this device binds at once (split into row ranges), which the paged step does not support yet: use --backend wasm, or a device with a larger maxStorageBufferBindingSize`);
          return { buffer: bufferOf(plan.storageOf.get(v)!) };
        },
        create: (bytes, label) => create(bytes, STORAGE, label),
      });
      for (const s of plan.storages) bufferOf(s);
      const valueBuffer = (name: string, kind: 'input' | 'output') => {
        const v = kind === 'input' ? graph.inputs.find((x) => x.name === name) : graph.output(name);
        if (!v) throw new Error(`graph @${graph.name} has no ${kind} '${name}'`);
        return bufferOf(plan.storageOf.get(v)!);
      };
      const buffers = {
        tokens: valueBuffer('tokens', 'input'), pos: valueBuffer('pos', 'input'), lens: valueBuffer('lens', 'input'), blocks: valueBuffer('blocks', 'input'),
        logits: valueBuffer('logits', 'output'), next: valueBuffer('next', 'output'),
      };
      const geometry = pagedGeometry(graph);
      const lora = geometry.adapters ? valueBuffer(LORA_ROWS_INPUT, 'input') : undefined;
      const staging = create(paddedSize(program.bounds.S * geometry.vocabSize * 4) + paddedSize(program.bounds.S * 4) + 256, BufferUsage.MAP_READ | BufferUsage.COPY_DST, 'paged read-back');
      return new WebGpuPagedExecutor(ctx, program, launches, uniform, lora ? { ...buffers, lora } : buffers, staging, owned);
    } catch (e) {
      for (const b of owned) b.destroy();
      throw e;
    }
  }

  async step(rows: PagedRows): Promise<PagedStepResult> {
    const n = rows.count, { tableWidth, vocabSize } = this.geometry;
    if (n < 1 || n > this.maxRows) throw new RangeError(`a paged step takes 1 to ${this.maxRows} rows, got ${n}`);
    const { device } = this.ctx;
    const write = (buffer: GPUBuffer, data: Int32Array | Float32Array) => device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, Math.ceil(data.byteLength / 4) * 4);
    write(this.buffers.tokens, rows.tokens.subarray(0, n));
    write(this.buffers.pos, rows.pos.subarray(0, n));
    write(this.buffers.lens, rows.lens.subarray(0, n));
    write(this.buffers.blocks, rows.blocks.subarray(0, n * tableWidth));
    if (this.buffers.lora) write(this.buffers.lora, rows.lora.subarray(0, n * this.geometry.adapters));
    const encoder = encodeGraphPass(device, this.launches, { S: n }, this.uniform, this.uniforms);
    const logitsBytes = n * vocabSize * 4;
    const nextAt = paddedSize(logitsBytes);
    encoder.copyBufferToBuffer(this.buffers.logits, 0, this.staging, 0, logitsBytes);
    encoder.copyBufferToBuffer(this.buffers.next, 0, this.staging, nextAt, paddedSize(n * 4));
    device.queue.submit([encoder.finish()]);
    await this.staging.mapAsync(MapMode.READ, 0, nextAt + paddedSize(n * 4));
    const logits = new Float32Array(this.staging.getMappedRange(0, logitsBytes).slice(0));
    const next = new Int32Array(this.staging.getMappedRange(nextAt, n * 4).slice(0));
    this.staging.unmap();
    return { logits, next };
  }

  async dispose(): Promise<void> {
    await this.ctx.device.queue.onSubmittedWorkDone();
    for (const b of this.owned) b.destroy();
    this.owned.length = 0;
  }
}
