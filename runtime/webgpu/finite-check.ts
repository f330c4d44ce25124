// Greedy decoding on the GPU reads back only the token id, so the host never sees the logits it
// would scan for NaN/+Infinity (runtime/sampler.ts). This fixed kernel, dispatched after the step's
// argmax, finds the first non-finite logit of the row and its index rides back in the same
// read-back as the token (4 more bytes, one more dispatch of one workgroup). It is part of the
// executor, not of a program: the same text for every model (the vocabulary size is an override
// constant), so loading an artifact still generates no code.
import { BufferUsage, type GpuContext } from './gpu-context.js';
import type { ResidentBuffers } from './resident.js';
import { getPipeline } from './run-kernel.js';

/** What the kernel writes when every logit is finite. */
export const ALL_FINITE = 0xffffffff;

const WORKGROUP = 256;

// Non-finite is tested on the bits (exponent all ones, except -Infinity, which is a banned token
// and not a fault): WGSL lets a compiler assume floats are finite, so `v != v` may fold away.
const WGSL = `override V: u32;
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> first: array<u32>;
var<workgroup> lowest: array<u32, ${WORKGROUP}>;
fn broken(v: f32) -> bool {
  let b = bitcast<u32>(v);
  return (b & 0x7f800000u) == 0x7f800000u && b != 0xff800000u;
}
@compute @workgroup_size(${WORKGROUP})
fn finite_check(@builtin(local_invocation_index) li: u32) {
  var m = ${ALL_FINITE}u;
  for (var i = li; i < V; i += ${WORKGROUP}u) {
    if (broken(x[i])) { m = i; break; }
  }
  lowest[li] = m;
  workgroupBarrier();
  for (var half = ${WORKGROUP / 2}u; half > 0u; half >>= 1u) {
    if (li < half) { lowest[li] = min(lowest[li], lowest[li + half]); }
    workgroupBarrier();
  }
  if (li == 0u) { first[0] = lowest[0]; }
}
`;

export interface FiniteCheck {
  readonly pipeline: GPUComputePipeline;
  readonly bindGroup: GPUBindGroup;
  /** One u32: the index of the first non-finite logit, or ALL_FINITE. */
  readonly first: GPUBuffer;
}

/** The pipeline (compiled once per device and vocabulary size). */
export function finiteCheckPipeline(ctx: GpuContext, vocabSize: number): Promise<GPUComputePipeline> {
  return getPipeline(ctx, WGSL, 'finite_check', { V: vocabSize }, 'greedy: first non-finite logit');
}

/** Binds the check to one row of logits (the first `vocabSize` floats of `logits`). */
export function bindFiniteCheck(ctx: GpuContext, pipeline: GPUComputePipeline, resident: ResidentBuffers, logits: GPUBuffer): FiniteCheck {
  const first = resident.create(4, BufferUsage.STORAGE | BufferUsage.COPY_SRC, 'first non-finite logit');
  const bindGroup = ctx.device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [{ binding: 0, resource: { buffer: logits } }, { binding: 1, resource: { buffer: first } }],
    label: 'greedy: first non-finite logit',
  });
  return { pipeline, bindGroup, first };
}
