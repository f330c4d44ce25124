#!/usr/bin/env node
// The memory-bandwidth ceiling as WebGPU (Dawn) sees it on this machine's adapter: a buffer copy
// (bytes read + bytes written) and a compute kernel that only reads (vec4 loads, one sum per
// invocation kept so nothing is optimised away). bench/gpu.sh divides decode's weight traffic by
// the read figure. Prints one JSON object.
//
//   node bench/webgpu-bandwidth.mjs [MiB per buffer, default 1024] [repetitions, default 20]
import { create, globals } from 'webgpu';

Object.assign(globalThis, globals);
const reps = Number(process.argv[3] ?? 20);

const gpu = create([]);
const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
if (!adapter) {
  console.error('webgpu-bandwidth: no WebGPU adapter');
  process.exit(1);
}
const device = await adapter.requestDevice({
  requiredLimits: { maxBufferSize: adapter.limits.maxBufferSize, maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize },
});
// As asked, but no more than one storage binding holds.
const mib = Math.min(Number(process.argv[2] ?? 1024), Math.floor(adapter.limits.maxStorageBufferBindingSize / 2 ** 20));
const size = mib * 2 ** 20;
const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
const a = device.createBuffer({ size, usage });
const b = device.createBuffer({ size, usage });

/** Seconds per repetition of `encode`, after one warm-up round, from the host clock around a submit. */
async function time(encode) {
  for (let round = 0; round < 2; round++) {
    const encoder = device.createCommandEncoder();
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) encode(encoder);
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
    if (round === 1) return (performance.now() - t0) / 1000 / reps;
  }
  throw new Error('unreachable');
}

const copySeconds = await time((e) => e.copyBufferToBuffer(a, 0, b, 0, size));

const WG = 256;
// Enough workgroups to fill any current GPU; each strides over the whole buffer.
const groups = 8192;
const module = device.createShaderModule({
  code: `@group(0) @binding(0) var<storage, read> src: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> sums: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let n = arrayLength(&src);
  let stride = nwg.x * ${WG}u;
  var acc = vec4f(0.0);
  for (var i = gid.x; i < n; i += stride) { acc += src[i]; }
  sums[gid.x] = acc.x + acc.y + acc.z + acc.w;
}`,
});
const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
const sums = device.createBuffer({ size: groups * WG * 4, usage: GPUBufferUsage.STORAGE });
const bind = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: a } }, { binding: 1, resource: { buffer: sums } }] });
const readSeconds = await time((e) => {
  const pass = e.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bind);
  pass.dispatchWorkgroups(groups);
  pass.end();
});

console.log(JSON.stringify({
  adapter: `${adapter.info.vendor} ${adapter.info.device} (${adapter.info.description})`,
  buffer_mib: mib,
  repetitions: reps,
  copy_gb_s: Math.round((2 * size) / copySeconds / 1e9),
  read_gb_s: Math.round(size / readSeconds / 1e9),
}));
device.destroy();
