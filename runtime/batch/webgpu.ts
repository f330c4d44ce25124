// A stateless graph on WebGPU: weights resident, activations in buffers shared by storages whose
// lifetimes do not overlap, inputs and outputs in buffers of their own, pipelines and bind groups
// made once; each call writes its inputs and dims, dispatches once per kernel that applies, and
// reads back only the outputs asked for.
import { conditionHolds } from '../../codegen/kernel.js';
import { paddedSize, programLaunches, tensorBytes, tensorFromBytes, tensorToBytes } from '../../codegen/wgsl/contract.js';
import type { WgslProgram } from '../../codegen/wgsl/program.js';
import type { WgslKernel } from '../../codegen/wgsl/types.js';
import { evalDim } from '../../ir/dim.js';
import type { Graph } from '../../ir/graph.js';
import type { Storage } from '../../ir/memory.js';
import { formatWeight } from '../../ir/printer.js';
import type { HostTensor } from '../../ir/tensor.js';
import type { ParamResolver } from '../reference/interpreter.js';
import { BufferUsage, type GpuContext, MapMode } from '../webgpu/gpu-context.js';
import { assignActivationSlots, bindProgram, type BoundLaunch, uniformBytes } from '../webgpu/program-buffers.js';
import { getPipeline } from '../webgpu/run-kernel.js';
import { type BatchExecutor, bindWithinBounds, outputValues } from './executor.js';

const STORAGE = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;

export class WebGpuBatchExecutor implements BatchExecutor {
  readonly backend = 'webgpu';

  private constructor(
    private readonly ctx: GpuContext,
    private readonly program: WgslProgram,
    private readonly launches: readonly BoundLaunch[],
    private readonly uniform: GPUBuffer,
    private readonly bufferOf: (s: Storage) => GPUBuffer,
    private readonly owned: GPUBuffer[],
  ) {}

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
      const maxBinding = ctx.limits.maxStorageBufferBindingSize ?? 128 << 20;
      for (const s of plan.storages) {
        if (s.maxBytes > maxBinding) throw new Error(`%${s.owner.name} needs ${s.maxBytes} bytes at the bounds ${JSON.stringify(bounds)}, more than this device binds at once (${maxBinding})`);
      }
      // WebGPU validates usage per buffer, so storages live at once never share one.
      const { slotOf, sizes } = assignActivationSlots(plan.storages.filter((s) => s.role === 'activation'));
      const slots = sizes.map((bytes, i) => create(bytes, STORAGE, `activations ${i}`));
      const weights = new Map<string, GPUBuffer>();
      const own = new Map<Storage, GPUBuffer>();
      const bufferOf = (s: Storage): GPUBuffer => {
        if (s.role === 'activation') return slots[slotOf.get(s)!];
        if (s.role === 'param') {
          if (s.owner.def.kind !== 'param') throw new Error(`%${s.owner.name} is not a parameter`);
          const key = formatWeight(s.owner.def.source);
          let b = weights.get(key);
          if (!b) {
            // Written as a copy padded to whole words (WebGPU writes multiples of 4 bytes).
            const t = tensorToBytes(params(s.owner));
            const bytes = new Uint8Array(paddedSize(t.byteLength));
            bytes.set(t);
            b = create(bytes.byteLength, STORAGE, `param ${s.owner.name}`);
            device.queue.writeBuffer(b, 0, bytes);
            weights.set(key, b);
          }
          return b;
        }
        let b = own.get(s);
        if (!b) {
          b = create(s.maxBytes, STORAGE, `${s.role} ${s.owner.name}`);
          own.set(s, b);
        }
        return b;
      };
      const pipelines = new Map<WgslKernel, GPUComputePipeline>();
      for (const { kernel } of programLaunches(program.nodes)) {
        if (!pipelines.has(kernel)) pipelines.set(kernel, await getPipeline(ctx, kernel.wgsl, kernel.entryPoint, undefined, kernel.label));
      }
      const uniform = create(uniformBytes(program), BufferUsage.UNIFORM | BufferUsage.COPY_DST, `dims of @${graph.name}`);
      const launches = bindProgram(device, program, (k) => pipelines.get(k)!, uniform, {
        value(v, ref, kernel) {
          // Weights split into row ranges (too large for one binding) are the decoder executor's business.
          if (ref.kind === 'operand' && ref.rows !== undefined) throw new Error(`${kernel.label}: operand ${ref.index} binds a row range of a split weight, which batch graphs do not support`);
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
    const uniforms = new Uint8Array(this.uniform.size);
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    this.launches.forEach((l) => {
      if (!conditionHolds(l.kernel.when, dims)) return;
      const [x, y, z] = l.kernel.workgroups(dims);
      if (x === 0 || y === 0 || z === 0) return;
      const u = l.kernel.uniforms(dims);
      uniforms.set(new Uint8Array(u.buffer, u.byteOffset, u.byteLength), l.uniformOffset);
      pass.setPipeline(l.pipeline);
      pass.setBindGroup(0, l.bindGroup);
      pass.dispatchWorkgroups(x, y, z);
    });
    pass.end();
    device.queue.writeBuffer(this.uniform, 0, uniforms);
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
