// The webgpu side of the op table: runs one node's WGSL kernels (codegen/wgsl/run-node.ts plans
// the launches) over host operands and reads the results back. Results and scratch start poisoned
// (all bytes 0xff: NaN for floats, −1 for i32), so unwritten elements show; an aliased result
// starts as a copy of its operand, as the in-place executor sees it.
import { type KernelLaunch, paddedSize, planNodeRun, tensorFromBytes, tensorToBytes } from '../../codegen/wgsl/run-node.js';
import { rowRangeBytes } from '../../codegen/wgsl/split.js';
import type { WgslLowering } from '../../codegen/wgsl/types.js';
import { type DimBindings, evalDim, type HostTensor, type Node } from '../../ir/index.js';
import { BufferUsage, type GpuContext, MapMode } from '../../runtime/webgpu/device.js';

const COMPUTE = 0x4; // GPUShaderStage.COMPUTE
const pipelines = new WeakMap<GPUDevice, Map<string, Promise<GPUComputePipeline>>>();

function pipelineFor(ctx: GpuContext, launch: KernelLaunch): Promise<GPUComputePipeline> {
  let cache = pipelines.get(ctx.device);
  if (!cache) pipelines.set(ctx.device, (cache = new Map()));
  const key = `${launch.kernel.key}|${launch.layout.join(',')}`;
  let p = cache.get(key);
  if (!p) {
    p = compile(ctx.device, launch);
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return p;
}

async function compile(device: GPUDevice, launch: KernelLaunch): Promise<GPUComputePipeline> {
  const { kernel } = launch;
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ code: kernel.wgsl, label: kernel.label });
  const swallowed = device.popErrorScope().catch(() => null);
  const info = await module.getCompilationInfo();
  await swallowed;
  const errors = info.messages.filter((m) => m.type === 'error');
  if (errors.length) {
    const lines = kernel.wgsl.split('\n');
    throw new Error(`WGSL of ${kernel.label} does not compile:\n${errors.map((m) => `${m.lineNum}:${m.linePos}: ${m.message}\n  ${lines[m.lineNum - 1] ?? ''}`).join('\n')}\n---\n${kernel.wgsl}`);
  }
  // An explicit layout from the binding list: what the executor, which shares layouts, does.
  const bindGroupLayout = device.createBindGroupLayout({
    entries: launch.layout.map((type, binding) => ({ binding, visibility: COMPUTE, buffer: { type } })),
  });
  return device.createComputePipelineAsync({
    label: kernel.label,
    layout: device.createPipelineLayout({ bindGroupLayouts: [bindGroupLayout] }),
    compute: { module, entryPoint: kernel.entryPoint },
  });
}

/**
 * Runs `lowering` (the kernels of `node`) at `dims` over `inputs`; results in output order.
 * Results and scratch start poisoned (all bytes 0xff: NaN for floats, -1 for i32), so unwritten
 * elements show; an aliased result starts as a copy of its operand (the in-place executor's view).
 */
export async function runNodeOnGpu(ctx: GpuContext, node: Node, lowering: WgslLowering, inputs: readonly HostTensor[], dims: DimBindings): Promise<HostTensor[]> {
  const plan = planNodeRun(node, lowering, dims);
  const ready = await Promise.all(plan.launches.map((l) => pipelineFor(ctx, l)));
  const { device } = ctx;
  device.pushErrorScope('internal');
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  const made: GPUBuffer[] = [];
  const make = (bytes: number, usage: number, fill: (m: Uint8Array) => void): GPUBuffer => {
    const buf = device.createBuffer({ size: paddedSize(bytes), usage, mappedAtCreation: true });
    fill(new Uint8Array(buf.getMappedRange()));
    buf.unmap();
    made.push(buf);
    return buf;
  };
  const storage = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;
  const poison = (m: Uint8Array) => m.fill(0xff);
  let staging: GPUBuffer | undefined;
  let thrown: unknown;
  try {
    const operands = inputs.map((t, i) => (i === plan.aliasOf ? undefined : make(t.data.byteLength, storage, (m) => m.set(tensorToBytes(t)))));
    const results = plan.resultBytes.map((bytes, i) => make(bytes, storage, (m) => {
      poison(m);
      if (i === 0 && plan.aliasOf !== undefined) m.set(tensorToBytes(inputs[plan.aliasOf]));
    }));
    const scratch = new Map([...plan.scratchBytes].map(([id, bytes]) => [id, make(bytes, storage, poison)]));
    // A weight split by rows: each range is a buffer of its own, holding just those rows.
    const rowBuffers = new Map<string, GPUBuffer>();
    const rowsOf = (index: number, rows: { first: number; count: number }): GPUBuffer => {
      const key = `${index}:${rows.first}+${rows.count}`;
      let buf = rowBuffers.get(key);
      if (!buf) {
        const { start, end } = rowRangeBytes(node.inputs[index].type, rows);
        const bytes = tensorToBytes(inputs[index]).subarray(start, end);
        buf = make(bytes.byteLength, storage, (m) => m.set(bytes));
        rowBuffers.set(key, buf);
      }
      return buf;
    };
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    plan.launches.forEach((l, li) => {
      if (l.workgroups.some((c) => c === 0)) return;
      const uniform = make(l.uniforms.byteLength, BufferUsage.UNIFORM | BufferUsage.COPY_DST, (m) => m.set(new Uint8Array(l.uniforms.buffer)));
      const buffers = l.kernel.bindings.map((b) => {
        const buf = b.kind === 'operand' ? (b.rows ? rowsOf(b.index, b.rows) : operands[b.index]) : b.kind === 'result' ? results[b.index] : scratch.get(b.id);
        if (!buf) throw new Error(`${l.kernel.label}: binding ${JSON.stringify(b)} has no buffer (aliased operand?)`);
        return buf;
      });
      pass.setPipeline(ready[li]);
      pass.setBindGroup(0, device.createBindGroup({
        layout: ready[li].getBindGroupLayout(0),
        entries: [...buffers, uniform].map((buffer, binding) => ({ binding, resource: { buffer } })),
      }));
      pass.dispatchWorkgroups(...l.workgroups);
    });
    pass.end();
    const total = plan.resultBytes.reduce((a, b) => a + paddedSize(b), 0);
    staging = device.createBuffer({ size: total, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
    made.push(staging);
    let at = 0;
    results.forEach((buf, i) => {
      encoder.copyBufferToBuffer(buf, 0, staging!, at, paddedSize(plan.resultBytes[i]));
      at += paddedSize(plan.resultBytes[i]);
    });
    device.queue.submit([encoder.finish()]);
  } catch (e) {
    thrown = e;
  }
  const scoped = (await Promise.all([device.popErrorScope(), device.popErrorScope(), device.popErrorScope()])).find((e) => e !== null);
  try {
    if (thrown) throw thrown;
    if (scoped) throw new Error(`running ${node.op} failed: ${scoped.message}`);
    await staging!.mapAsync(MapMode.READ);
    const bytes = new Uint8Array(staging!.getMappedRange().slice(0));
    staging!.unmap();
    let at = 0;
    return node.outputs.map((v, i) => {
      const shape = v.type.shape.map((d) => evalDim(d, dims));
      const t = tensorFromBytes({ dtype: v.type.dtype, shape }, bytes.subarray(at, at + plan.resultBytes[i]));
      at += paddedSize(plan.resultBytes[i]);
      return t;
    });
  } finally {
    for (const b of made) b.destroy();
  }
}
