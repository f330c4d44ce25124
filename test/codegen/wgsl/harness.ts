// Runs one node's WGSL kernels on a real device, on both code paths (static dims baked in, as a
// hardware GPU runs them, and read from the uniform, as a software one does), and compares with
// the reference interpreter.
// Each test file opens one device (openGpu at module level), registers the adapter check
// (fails under CI without a device, warns loudly elsewhere) and closes it in afterAll.
import { expect, it } from 'vitest';
import { type AttrValue, type Dim, type DType, evalDim, GraphBuilder, type HostTensor, type Node, convertF32, f32, tensor } from '../../../ir/index.js';
import { interpret } from '../../../runtime/reference/interpreter.js';
import { BufferUsage, destroyGpu, type GpuContext, MapMode, probeGpu } from '../../../runtime/webgpu/device.js';
import { emitWgslKernel } from '../../../codegen/wgsl/emit.js';
import { isCI } from '../../helpers/shared.js';
import { type KernelLaunch, paddedSize, planNodeRun, tensorFromBytes, tensorToBytes } from '../../../codegen/wgsl/run-node.js';
import { rowRangeBytes } from '../../../codegen/wgsl/split.js';
import { codePathName, otherCodePath, type WgslTarget, wgslTargetFor } from '../../../codegen/wgsl/target.js';
import type { WgslLowering } from '../../../codegen/wgsl/types.js';


export interface Gpu {
  readonly ctx?: GpuContext;
  readonly target?: WgslTarget;
  readonly reason?: string;
}

/** Opens the file's device (call once, at module level, with top-level await). */
export async function openGpu(): Promise<Gpu> {
  const p = await probeGpu();
  if (!p.ok) return { reason: p.reason };
  return { ctx: p.ctx, target: wgslTargetFor(p.ctx.features, p.ctx.limits, p.ctx.adapterInfo.isSoftware) };
}

/** The adapter check every GPU test file carries: an error under CI, a loud warning elsewhere. */
export function expectAdapter(gpu: Gpu): void {
  it('finds a WebGPU adapter (required under CI)', () => {
    if (gpu.ctx) return;
    if (isCI()) throw new Error(`no WebGPU device under CI: ${gpu.reason}`);
    console.warn(`\n${'!'.repeat(78)}\n[tessera tests] SKIPPING WGSL KERNEL TESTS: ${gpu.reason}\n${'!'.repeat(78)}\n`);
  });
}

export async function closeGpu(gpu: Gpu): Promise<void> {
  if (gpu.ctx) await destroyGpu(gpu.ctx);
}

// ---- building and evaluating one-node graphs ----

/** An operand: its data, and optionally a symbolic declared shape (e.g. [S, 64]). */
export interface Operand {
  readonly t: HostTensor;
  readonly shape?: readonly Dim[];
}

export interface OpCase {
  readonly op: string;
  readonly operands: readonly Operand[];
  readonly attrs?: Record<string, AttrValue>;
  /** Values of the symbols the declared shapes use (S, P, T, …). */
  readonly dims?: Readonly<Record<string, number>>;
}

export const SYMBOLS = ['B', 'S', 'P', 'T', 'N'] as const;

/** The node (in a verified one-node graph) and the reference results. */
export function referenceRun(c: OpCase): { node: Node; want: HostTensor[] } {
  const b = new GraphBuilder('k', [...SYMBOLS]);
  const ins = c.operands.map((o, i) => b.input(`x${i}`, o.t.dtype, o.shape ?? o.t.shape));
  const outs = b.ops(c.op, ins, c.attrs ?? {});
  outs.forEach((v, i) => b.output(`y${i}`, v));
  const g = b.finish();
  const res = interpret(g, {
    inputs: Object.fromEntries(c.operands.map((o, i) => [`x${i}`, o.t])),
    params: () => { throw new Error('one-node graphs have no params'); },
    dims: c.dims,
  });
  return { node: g.nodes[0], want: outs.map((_, i) => res.outputs[`y${i}`]) };
}

// ---- running kernels on the device ----

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
  // An explicit layout from the binding list: what an executor sharing layouts would do.
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
 * Runs a node's kernels over host operands and reads its results back. Results and scratch start
 * poisoned (all bytes 0xff: NaN for floats, -1 for i32), so unwritten elements show. An aliased
 * result starts as a copy of its operand (the in-place executor's view of the buffer).
 */
export async function runNode(ctx: GpuContext, node: Node, lowering: WgslLowering, inputs: readonly HostTensor[], dims: Readonly<Record<string, number>>): Promise<HostTensor[]> {
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

// ---- comparing ----

/**
 * The error metric for float results: max_i |got_i − want_i| / max(1, max_i |want_i|). Relative
 * to the tensor's scale where values are large, absolute (1 = unit scale) where they are small,
 * so results near zero are not held to a relative bound they cannot meet in f32. NaN anywhere
 * (e.g. an unwritten, poisoned element) gives Infinity.
 */
export function relError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let scale = 1, diff = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (!(d <= diff)) diff = Number.isNaN(d) ? Infinity : d;
  }
  return diff / scale;
}

/** Index and values of the first element that differs most (for failure messages). */
function worst(got: ArrayLike<number>, want: ArrayLike<number>): string {
  let at = 0, d = -1;
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i] - want[i]);
    if (Number.isNaN(e) || e > d) { at = i; d = Number.isNaN(e) ? Infinity : e; if (!Number.isFinite(d)) break; }
  }
  return `element ${at}: got ${got[at]}, want ${want[at]}`;
}

/** Float results within `tol` by relError; integer and 16-bit results bit-exact. */
export function expectMatches(got: HostTensor, want: HostTensor, tol = 1e-4, what = ''): void {
  expect(got.dtype, `${what} dtype`).toBe(want.dtype);
  expect(got.shape, `${what} shape`).toEqual(want.shape);
  const g = got.data as ArrayLike<number>, w = want.data as ArrayLike<number>;
  if (got.dtype === 'f32' && tol > 0) {
    const e = relError(g, w);
    if (!(e <= tol)) throw new Error(`${what} relative error ${e} > ${tol} (${worst(g, w)})`);
  } else {
    for (let i = 0; i < w.length; i++) {
      if (!Object.is(g[i], w[i]) && g[i] !== w[i]) throw new Error(`${what} element ${i}: got ${g[i]}, want ${w[i]} (exact comparison)`);
    }
  }
}

// ---- both code paths ----

/** Ops of this file already run on the other path. */
const crossChecked = new Set<string>();
/**
 * Larger cases wait for a smaller one: baked, every row range of a split weight is a shader of
 * its own (rolled, they share one), and long constant loops unroll; either takes seconds to
 * compile on lavapipe.
 */
const CROSS_CHECK = { kernels: 3, elements: 1024 };

export interface PathRun {
  readonly path: string;
  readonly lowering: WgslLowering;
  readonly got: HostTensor[];
}

/**
 * Lowers `node` for `target` and runs it; for the first small case (CROSS_CHECK) of each op in a
 * file, on the other path too. Not every case: on a software device the
 * baked path compiles a shader per static shape, and unrolling its constant loops takes seconds a
 * shader. A symbolic row count or query length lowers to every variant at once (GEMV and GEMM;
 * split-K and flash attention), so that first case runs them all.
 */
export async function runPaths(gpu: Gpu, node: Node, lower: (t: WgslTarget) => WgslLowering, inputs: readonly HostTensor[], dims: Readonly<Record<string, number>>, target = gpu.target!): Promise<PathRun[]> {
  const lowering = lower(target);
  const runs: PathRun[] = [{ path: codePathName(target), lowering, got: await runNode(gpu.ctx!, node, lowering, inputs, dims) }];
  const elements = inputs.reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
  if (!crossChecked.has(node.op) && lowering.kernels.length <= CROSS_CHECK.kernels && elements <= CROSS_CHECK.elements) {
    crossChecked.add(node.op);
    const other = otherCodePath(target);
    const l = lower(other);
    runs.push({ path: codePathName(other), lowering: l, got: await runNode(gpu.ctx!, node, l, inputs, dims) });
  }
  return runs;
}

/** Emits, runs and compares one op case on both code paths (runPaths); returns the device path's lowering. */
export async function checkOp(gpu: Gpu, c: OpCase, opts: { tol?: number; target?: WgslTarget; lower?: (node: Node, target: WgslTarget) => WgslLowering } = {}): Promise<WgslLowering> {
  const { node, want } = referenceRun(c);
  const lower = opts.lower ?? emitWgslKernel;
  const runs = await runPaths(gpu, node, (t) => lower(node, t), c.operands.map((o) => o.t), c.dims ?? {}, opts.target);
  for (const { path, got } of runs) got.forEach((t, i) => expectMatches(t, want[i], opts.tol, `${c.op} result ${i}, ${path}:`));
  return runs[0].lowering;
}

// ---- random data ----

/** A small deterministic PRNG (mulberry32) so fast-check's seed fixes the data. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Values with magnitude in [lo, hi] and random sign: never zero, so nothing multiplies away. */
export function randomValues(n: number, seed: number, lo = 0.1, hi = 1): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => (r() < 0.5 ? -1 : 1) * (lo + (hi - lo) * r()));
}

/** A random tensor of a float or quantized dtype (values drawn in f32, then converted). */
export function randomTensor(dtype: DType, shape: readonly number[], seed: number, lo = 0.1, hi = 1): HostTensor {
  const t = f32(shape, randomValues(shape.reduce((a, b) => a * b, 1), seed, lo, hi));
  return dtype === 'f32' ? t : convertF32(t, dtype);
}

export function randomInts(shape: readonly number[], seed: number, lo: number, hi: number): HostTensor {
  const r = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return tensor('i32', shape, Int32Array.from({ length: n }, () => lo + Math.floor(r() * (hi - lo))));
}
