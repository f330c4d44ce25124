// A stateless graph on WebGPU: weights resident, activations in buffers shared by storages whose
// lifetimes do not overlap, inputs and outputs in buffers of their own, pipelines and bind groups
// made once; each call writes its inputs and dims, dispatches once per kernel that applies, and
// reads back only the outputs asked for.
import { paddedSize, tensorBytes, tensorFromBytes, tensorToBytes } from '../../codegen/wgsl/contract.js';
import type { WgslProgram } from '../../codegen/wgsl/program.js';
import { evalDim } from '../../ir/dim.js';
import type { Graph } from '../../ir/graph.js';
import type { Storage } from '../../ir/memory.js';
import type { HostTensor } from '../../ir/tensor.js';
import { ResourceError } from '../../ir/errors.js';
import type { ParamResolver } from '../reference/interpreter.js';
import { BufferUsage, type GpuContext, MapMode } from '../webgpu/gpu-context.js';
import { bindProgram, type BoundLaunch, uniformBytes } from '../webgpu/program-buffers.js';
import { checkBindingSizes, encodeGraphPass, programPipelines, storageBuffers } from '../webgpu/graph-storage.js';
import { type BatchExecutor, bindWithinBounds, outputValues } from './executor.js';

const STORAGE = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;

export class WebGpuBatchExecutor implements BatchExecutor {
  readonly backend = 'webgpu';
  /** The host copy of the uniform buffer, refilled each call. */
  private readonly uniforms: Uint8Array<ArrayBuffer>;

  private constructor(
    private readonly ctx: GpuContext,
    private readonly program: WgslProgram,
    private readonly launches: readonly BoundLaunch[],
    private readonly uniform: GPUBuffer,
    private readonly bufferOf: (s: Storage) => GPUBuffer,
    private readonly owned: GPUBuffer[],
  ) {
    this.uniforms = new Uint8Array(uniform.size);
  }

  get graph(): Graph {
    return this.program.graph;
  }

  get bounds() {
    return this.program.bounds;
  }

  static async create(ctx: GpuContext, program: WgslProgram, params: ParamResolver): Promise<WebGpuBatchExecutor> {
    const { device } = ctx;
    const { plan, bounds, graph } = program;
    const owned: GPUBuffer[] = [];
    const create = (bytes: number, usage: number, label: string) => {
      const b = device.createBuffer({ size: paddedSize(bytes), usage, label });
      owned.push(b);
      return b;
    };
    try {
      checkBindingSizes(ctx, plan, `at the bounds ${JSON.stringify(bounds)}`);
      const bufferOf = storageBuffers(device, plan, params, create);
      const pipelines = await programPipelines(ctx, program);
      const uniform = create(uniformBytes(program), BufferUsage.UNIFORM | BufferUsage.COPY_DST, `dims of @${graph.name}`);
      const launches = bindProgram(device, program, (k) => pipelines.get(k)!, uniform, {
        value(v, ref, kernel) {
          // Weights split into row ranges (too large for one binding) are the decoder executor's business.
          if (ref.kind === 'operand' && ref.rows !== undefined) throw new ResourceError(`${kernel.label}: operand ${ref.index} is a weight larger than this device binds at once (split into row ranges), which batch graphs do not support: use --backend wasm, or a device with a larger maxStorageBufferBindingSize`);
          return { buffer: bufferOf(plan.storageOf.get(v)!) };
        },
        create: (bytes, label) => create(bytes, STORAGE, label),
      });
      for (const s of plan.storages) bufferOf(s);
      return new WebGpuBatchExecutor(ctx, program, launches, uniform, bufferOf, owned);
    } catch (e) {
      for (const b of owned) b.destroy();
      throw e;
    }
  }

  async run(inputs: Readonly<Record<string, HostTensor>>, outputs: readonly string[]): Promise<Record<string, HostTensor>> {
    const { graph, plan } = this.program;
    const { device } = this.ctx;
    const dims = bindWithinBounds(graph, inputs, this.bounds);
    const wanted = outputValues(graph, outputs);
    for (const v of graph.inputs) {
      const bytes = tensorToBytes(inputs[v.name]);
      const padded = new Uint8Array(paddedSize(bytes.byteLength));
      padded.set(bytes);
      device.queue.writeBuffer(this.bufferOf(plan.storageOf.get(v)!), 0, padded);
    }
    const encoder = encodeGraphPass(device, this.launches, dims, this.uniform, this.uniforms);
    const reads = wanted.map(({ name, value }) => {
      const bytes = tensorBytes(value.type, dims);
      const staging = device.createBuffer({ size: paddedSize(bytes), usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
      encoder.copyBufferToBuffer(this.bufferOf(plan.storageOf.get(value)!), 0, staging, 0, paddedSize(bytes));
      return { name, value, staging };
    });
    device.queue.submit([encoder.finish()]);
    const out: Record<string, HostTensor> = {};
    for (const { name, value, staging } of reads) {
      await staging.mapAsync(MapMode.READ);
      const shape = value.type.shape.map((d) => evalDim(d, dims));
      out[name] = tensorFromBytes({ dtype: value.type.dtype, shape }, new Uint8Array(staging.getMappedRange()));
      staging.unmap();
      staging.destroy();
    }
    return out;
  }

  /** Frees this graph's buffers; the device (shared by the process's models) stays. */
  async dispose(): Promise<void> {
    await this.ctx.device.queue.onSubmittedWorkDone();
    for (const b of this.owned) b.destroy();
    this.owned.length = 0;
  }
}
