// The WebGPU backend as an Executor. Weights and the KV cache stay resident on the device;
// activations reuse a few buffers (the memory plan's lifetimes decide which share); pipelines and
// bind groups are made once; each forward pass is one command encoder (submitted in a few pieces,
// so the GPU starts while the rest is encoded) whose first dispatch derives every launch's dims
// and the positions from S and P on the GPU: a step uploads the token ids and 8 bytes, and only
// the logits (or the greedy token) come back. Pipelines are compiled before any memory
// is taken; buffers are then made in one guarded stretch (resident.ts), so running out of device
// memory or losing the device is a GpuResourceError that says so, not a later invalid-buffer error.
// Everything it runs, the dims kernel included, comes with the program: it generates no code
// (besides the fixed greedy finite check of finite-check.ts, the same text for every model).
import { DIMS_BINDINGS, DIMS_ENTRY, DIMS_WORKGROUP, programLaunches, UNIFORM_SLICE } from '../../codegen/wgsl/contract.js';
import type { WgslProgram } from '../../codegen/wgsl/program.js';
import type { WgslBinding, WgslKernel } from '../../codegen/wgsl/types.js';
import type { DimBindings } from '../../ir/dim.js';
import type { Storage } from '../../ir/memory.js';
import { type Executor, type LogitsWanted, PreallocatedCacheExecutor } from '../executor.js';
import { ProfileCollector, type ProfileRow, type Profiling } from '../profile.js';
import type { ParamResolver } from '../reference/interpreter.js';
import { BufferUsage, type GpuContext, MapMode } from './gpu-context.js';
import { NonFiniteLogitsError } from '../sampler.js';
import { adapterName } from './errors.js';
import { ALL_FINITE, bindFiniteCheck, type FiniteCheck, finiteCheckPipeline } from './finite-check.js';
import { assignActivationSlots, bindProgram, type BoundLaunch, uniformBytes } from './program-buffers.js';
import { allocateGuarded, checkNotLost, ResidentBuffers } from './resident.js';
import { getPipeline } from './run-kernel.js';
import { StepDims } from './step-dims.js';

/** The symbols a step binds; a step graph's dims kernel reads them in the order it names them. */
const STEP_SYMBOLS: readonly string[] = ['S', 'P'];

const STORAGE = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;
/** Dispatches in a step's first submit (StepEncoder): the GPU starts early, a long step costs a few submits. */
const FIRST_SUBMIT = 16;
const pad4 = (n: number) => Math.max(4, Math.ceil(n / 4) * 4);

interface CompiledProgram {
  readonly program: WgslProgram;
  readonly launches: readonly BoundLaunch[];
  /** Each step's workgroup counts, from the program's distinct dims. */
  readonly stepDims: StepDims;
  /** The step's first dispatch: the dims kernel (uniform words and positions from S and P). */
  readonly dimsLaunch: { readonly pipeline: GPUComputePipeline; readonly bindGroup: GPUBindGroup; readonly symbols: GPUBuffer };
  readonly tokens: GPUBuffer;
  readonly logits: GPUBuffer;
  readonly logitsStorage: Storage;
  /** The greedy token's buffer ('next' output), when the graph has one. */
  readonly next?: GPUBuffer;
}

export interface WebGpuExecutorOptions {
  readonly contextLength: number;
  readonly vocabSize: number;
  /** Bytes this model's buffers may take; beyond it allocation fails as out of memory would. */
  readonly memoryBudget?: number;
}

/** Timestamp queries of a profiled step: a pair per dispatch, resolved and read back with it. */
interface GpuTimer {
  readonly querySet: GPUQuerySet;
  readonly resolve: GPUBuffer;
  readonly capacity: number;
}

export class WebGpuExecutor extends PreallocatedCacheExecutor implements Executor, Profiling {
  readonly backend = 'webgpu';
  /** Dispatches issued by the last forward pass (for `bench`). */
  lastDispatches = 0;
  private profile: ProfileCollector | undefined;
  private timer: GpuTimer | undefined;
  /** The mappable buffer results come back through, kept from step to step (grown when short). */
  private staging: GPUBuffer | undefined;

  private constructor(
    private readonly ctx: GpuContext,
    private readonly programs: Readonly<Record<LogitsWanted, CompiledProgram>>,
    private readonly resident: ResidentBuffers,
    /** Greedy steps: where the first non-finite logit is found (the graph has a 'next' output). */
    private readonly finiteCheck: FiniteCheck | undefined,
    opts: WebGpuExecutorOptions,
  ) {
    super(opts.contextLength, opts.vocabSize);
  }

  static async create(ctx: GpuContext, programs: Readonly<Record<LogitsWanted, WgslProgram>>, params: ParamResolver, opts: WebGpuExecutorOptions): Promise<WebGpuExecutor> {
    for (const p of [programs.last, programs.all]) {
      const unknown = p.dims.symbols.filter((s) => !STEP_SYMBOLS.includes(s));
      if (unknown.length) throw new Error(`step graph @${p.graph.name} has symbols ${unknown.join(', ')} beyond the step's (${STEP_SYMBOLS.join(', ')})`);
    }
    const planned = { last: programLaunches(programs.last.nodes), all: programLaunches(programs.all.nodes) };
    // Compile first (slow on software adapters, and it needs no memory of the model's).
    const pipelines = new Map<WgslKernel, GPUComputePipeline>();
    for (const { kernel } of [...planned.last, ...planned.all]) {
      if (pipelines.has(kernel)) continue;
      try {
        pipelines.set(kernel, await getPipeline(ctx, kernel.wgsl, kernel.entryPoint, undefined, kernel.label));
      } catch (e) {
        checkNotLost(ctx, `compiling ${kernel.label}`); // a lost device fails compilation too: say so
        throw e;
      }
    }
    const maxWorkgroups = ctx.limits.maxComputeWorkgroupsPerDimension ?? 65535;
    const stepDims = (which: LogitsWanted) => new StepDims(programs[which].dims.table, planned[which].map(({ kernel }, i) => ({ kernel, uniformOffset: i * UNIFORM_SLICE })), maxWorkgroups);
    const dims = { last: stepDims('last'), all: stepDims('all') };
    const dimsPipeline = (p: WgslProgram) => getPipeline(ctx, p.dims.wgsl, DIMS_ENTRY, undefined, 'step dims');
    const dimsPipelines = { last: await dimsPipeline(programs.last), all: await dimsPipeline(programs.all) };
    const checkPipeline = programs.last.graph.output('next') ? await finiteCheckPipeline(ctx, opts.vocabSize) : undefined;
    const resident = new ResidentBuffers(ctx.device, opts.memoryBudget);
    const compiled = await allocateGuarded(ctx, resident, "the model's weights, KV cache and activations", () => {
      // Both programs share the activation buffers (only one runs at a time): slot i is as large
      // as the largest storage either program puts there.
      const slotting = (p: WgslProgram) => assignActivationSlots(p.plan.storages.filter((s) => s.role === 'activation'));
      const slots = { last: slotting(programs.last), all: slotting(programs.all) };
      const slotBuffers = Array.from({ length: Math.max(slots.last.sizes.length, slots.all.sizes.length) }, (_, i) =>
        resident.create(Math.max(slots.last.sizes[i] ?? 0, slots.all.sizes[i] ?? 0, 4), STORAGE, `activations ${i}`));
      const build = (which: LogitsWanted) => buildProgram(ctx, programs[which], pipelines, dims[which], dimsPipelines[which], {
        resident, params, slotBuffers, slotOf: slots[which].slotOf,
      });
      return { last: build('last'), all: build('all') };
    });
    const check = checkPipeline && bindFiniteCheck(ctx, checkPipeline, resident, compiled.last.logits);
    return new WebGpuExecutor(ctx, compiled, resident, check, opts);
  }

  async forward(tokens: readonly number[], want: LogitsWanted): Promise<Float32Array> {
    return (await this.run(tokens, want, 'logits')) as Float32Array;
  }

  /**
   * Greedy decoding: the argmax runs on the GPU and only the token id comes back, with the index
   * of the first NaN/+Infinity logit (finite-check.ts), which fails the step as the host's scan does.
   */
  async forwardGreedy(tokens: readonly number[]): Promise<number> {
    if (!this.programs.last.next || !this.finiteCheck) throw new Error('the step graph has no greedy output');
    const [next, broken] = (await this.run(tokens, 'last', 'next')) as Int32Array;
    if (broken >>> 0 !== ALL_FINITE) throw new NonFiniteLogitsError(broken, await this.logitAt(broken));
    return next;
  }

  /** One logit of the last step's row, read back alone (only on the way to an error). */
  private async logitAt(token: number): Promise<number> {
    const staging = this.readBack(4);
    const encoder = this.ctx.device.createCommandEncoder();
    encoder.copyBufferToBuffer(this.programs.last.logits, token * 4, staging, 0, 4);
    this.ctx.device.queue.submit([encoder.finish()]);
    await staging.mapAsync(MapMode.READ);
    const value = new Float32Array(staging.getMappedRange(0, 4).slice(0))[0];
    staging.unmap();
    return value;
  }

  private async run(tokens: readonly number[], want: LogitsWanted, read: 'logits' | 'next'): Promise<Float32Array | Int32Array> {
    const S = tokens.length;
    this.checkStep(tokens);
    const prog = this.programs[want];
    const bound = prog.program.bounds.S;
    if (S > bound) {
      // Longer than the compiled chunk: run it in pieces through the cache.
      if (want === 'last') {
        for (let i = 0; i + bound < S; i += bound) await this.run(tokens.slice(i, i + bound), 'last', 'logits');
        return this.run(tokens.slice(S - ((S - 1) % bound) - 1), 'last', read);
      }
      const parts: Float32Array[] = [];
      for (let i = 0; i < S; i += bound) parts.push((await this.run(tokens.slice(i, i + bound), want, 'logits')) as Float32Array);
      const all = new Float32Array(S * this.vocabSize);
      let at = 0;
      for (const p of parts) { all.set(p, at); at += p.length; }
      return all;
    }
    checkNotLost(this.ctx, 'running a forward pass');
    const device = this.ctx.device;
    const dims: DimBindings = { S, P: this.length };
    // All a step uploads: the token ids and the symbols; the dims kernel derives the rest.
    device.queue.writeBuffer(prog.tokens, 0, Int32Array.from(tokens));
    device.queue.writeBuffer(prog.dimsLaunch.symbols, 0, Int32Array.from(prog.program.dims.symbols.map((name) => dims[name])));
    const startedAt = performance.now();
    prog.stepDims.update(dims);
    const { workgroups } = prog.stepDims;
    // Profiling puts every dispatch in a pass of its own, timed at its start and end.
    const timer = this.profile ? this.gpuTimer(prog.launches.length + 2) : undefined; // + the dims kernel and the finite check
    const steps = new StepEncoder(device, timer);
    steps.dispatch(prog.dimsLaunch.pipeline, prog.dimsLaunch.bindGroup, Math.ceil(Math.max(prog.stepDims.wordCount, S, 1) / DIMS_WORKGROUP), 1, 1, 'step dims: uniform words and positions');
    prog.launches.forEach((l, i) => {
      const x = workgroups[3 * i];
      if (x !== 0) steps.dispatch(l.pipeline, l.bindGroup, x, workgroups[3 * i + 1], workgroups[3 * i + 2], l.kernel.label);
    });
    const check = read === 'next' ? this.finiteCheck : undefined;
    if (check) steps.dispatch(check.pipeline, check.bindGroup, 1, 1, 1, 'greedy: first non-finite logit');
    const { encoder, dispatches, labels } = steps.finish();
    const rows = want === 'last' ? 1 : S;
    // Greedy: the token id, then the first non-finite logit's index.
    const bytes = read === 'next' ? 8 : rows * this.vocabSize * 4;
    // Timestamps (8 bytes each) ride back in the same read, after the result.
    const stampsAt = Math.ceil(bytes / 256) * 256;
    const staging = this.readBack(timer ? stampsAt + 16 * dispatches : bytes);
    if (check) {
      encoder.copyBufferToBuffer(prog.next!, 0, staging, 0, 4);
      encoder.copyBufferToBuffer(check.first, 0, staging, 4, 4);
    } else {
      encoder.copyBufferToBuffer(prog.logits, 0, staging, 0, bytes);
    }
    if (timer && dispatches > 0) {
      encoder.resolveQuerySet(timer.querySet, 0, 2 * dispatches, timer.resolve, 0);
      encoder.copyBufferToBuffer(timer.resolve, 0, staging, stampsAt, 16 * dispatches);
    }
    device.queue.submit([encoder.finish()]);
    const submittedAt = performance.now();
    try {
      await staging.mapAsync(MapMode.READ);
    } catch (e) {
      // A lost device rejects the read-back; say that rather than Dawn's bare abort message.
      this.dropReadBack();
      await settled(this.ctx.lost, 1000);
      checkNotLost(this.ctx, 'running a forward pass');
      throw e;
    }
    const mapped = staging.getMappedRange(0, bytes).slice(0);
    const out = read === 'next' ? new Int32Array(mapped) : new Float32Array(mapped);
    if (timer) this.collect(S, labels, new BigInt64Array(staging.getMappedRange(stampsAt, 16 * dispatches).slice(0)), submittedAt - startedAt, performance.now() - startedAt);
    staging.unmap();
    this.lastDispatches = dispatches;
    this.length += S;
    return out;
  }

  private readBack(bytes: number): GPUBuffer {
    if (this.staging && this.staging.size >= bytes) return this.staging;
    this.dropReadBack();
    this.staging = this.ctx.device.createBuffer({ size: Math.ceil(bytes / 256) * 256, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST, label: 'read-back' });
    return this.staging;
  }

  private dropReadBack(): void {
    this.staging?.destroy();
    this.staging = undefined;
  }

  /** Starts timing every dispatch on the GPU (needs the 'timestamp-query' feature). */
  startProfile(): void {
    if (!this.ctx.features.includes('timestamp-query')) {
      throw new Error(`profiling needs WebGPU timestamp queries, which '${adapterName(this.ctx.adapterInfo)}' does not offer`);
    }
    this.profile = new ProfileCollector();
  }

  stopProfile(): ProfileRow[] {
    const rows = this.profile?.rows() ?? [];
    this.profile = undefined;
    return rows;
  }

  private gpuTimer(launches: number): GpuTimer {
    const have = this.timer;
    if (have && have.capacity >= launches) return have;
    have?.querySet.destroy();
    have?.resolve.destroy();
    const device = this.ctx.device;
    this.timer = {
      querySet: device.createQuerySet({ type: 'timestamp', count: 2 * launches, label: 'profile timestamps' }),
      resolve: device.createBuffer({ size: 16 * launches, usage: BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC, label: 'profile timestamps' }),
      capacity: launches,
    };
    return this.timer;
  }

  /**
   * One profiled step: each dispatch's GPU time under its kernel's label, then the host's share
   * so that the rows add up to the step's wall time: encoding and submitting, and the rest
   * (waiting on the GPU between dispatches, and for the result to come back).
   */
  private collect(S: number, labels: readonly string[], stamps: BigInt64Array, hostMs: number, wallMs: number): void {
    const collector = this.profile!;
    const phase = S === 1 ? 'decode' : 'prefill';
    collector.step(phase);
    let gpuMs = 0;
    labels.forEach((label, i) => {
      const ms = Number(stamps[2 * i + 1] - stamps[2 * i]) / 1e6;
      gpuMs += ms;
      collector.add(phase, label, ms);
    });
    collector.add(phase, '(host) encode and submit', hostMs);
    collector.add(phase, '(host) waiting beyond the kernels: gaps, sync, read-back', Math.max(0, wallMs - hostMs - gpuMs));
  }

  /** Frees this model's buffers; the device (shared by the process's models) stays. */
  async dispose(): Promise<void> {
    if (!this.ctx.lostInfo()) await this.ctx.device.queue.onSubmittedWorkDone();
    this.timer?.querySet.destroy();
    this.timer?.resolve.destroy();
    this.dropReadBack();
    this.resident.destroy();
  }
}

/**
 * Records one step's dispatches. Without a timer they share one compute pass, submitted in pieces
 * (after FIRST_SUBMIT dispatches, then twice as many more each time) so the GPU starts while the
 * host encodes the rest; with a timer each dispatch is a pass of its own with timestamp writes.
 * `finish` ends the open pass and returns the encoder for the step's read-back copies.
 */
class StepEncoder {
  private encoder: GPUCommandEncoder;
  private pass: GPUComputePassEncoder | undefined;
  private lastPipeline: GPUComputePipeline | undefined;
  private nextSubmit = FIRST_SUBMIT;
  private dispatches = 0;
  private readonly labels: string[] = [];

  constructor(private readonly device: GPUDevice, private readonly timer: GpuTimer | undefined) {
    this.encoder = device.createCommandEncoder();
  }

  dispatch(pipeline: GPUComputePipeline, bindGroup: GPUBindGroup, x: number, y: number, z: number, label: string): void {
    const { timer } = this;
    if (timer) {
      const at = 2 * this.dispatches;
      this.pass = this.encoder.beginComputePass({ timestampWrites: { querySet: timer.querySet, beginningOfPassWriteIndex: at, endOfPassWriteIndex: at + 1 } });
      this.lastPipeline = undefined;
      this.labels.push(label);
    }
    const pass = (this.pass ??= this.encoder.beginComputePass());
    if (pipeline !== this.lastPipeline) pass.setPipeline(pipeline);
    this.lastPipeline = pipeline;
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    this.dispatches++;
    if (timer) this.endPass();
    else if (this.dispatches === this.nextSubmit) {
      this.endPass();
      this.device.queue.submit([this.encoder.finish()]);
      this.encoder = this.device.createCommandEncoder();
      this.nextSubmit *= 2;
    }
  }

  finish(): { encoder: GPUCommandEncoder; dispatches: number; labels: readonly string[] } {
    this.endPass();
    return { encoder: this.encoder, dispatches: this.dispatches, labels: this.labels };
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = undefined;
    this.lastPipeline = undefined;
  }
}

/** Waits for `p` at most `ms` milliseconds (the timer does not hold the process). */
async function settled(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise((resolve) => { timer = setTimeout(resolve, ms); timer.unref(); })]);
  clearTimeout(timer);
}

interface BuildContext {
  readonly resident: ResidentBuffers;
  readonly params: ParamResolver;
  /** The shared activation buffers, and which one each of this program's activations uses. */
  readonly slotBuffers: readonly GPUBuffer[];
  readonly slotOf: ReadonlyMap<Storage, number>;
}

/** Buffers, bind groups and uniforms of one step program (synchronous: runs under allocateGuarded). */
function buildProgram(
  ctx: GpuContext, p: WgslProgram, pipelines: ReadonlyMap<WgslKernel, GPUComputePipeline>,
  stepDims: StepDims, dimsPipeline: GPUComputePipeline, b: BuildContext,
): CompiledProgram {
  const { device } = ctx;
  const { plan, graph } = p;
  const { resident } = b;
  const maxBinding = ctx.limits.maxStorageBufferBindingSize ?? 128 << 20;
  const extra = new Map<Storage, GPUBuffer>();
  const bufferOf = (s: Storage, rows?: Extract<WgslBinding, { kind: 'operand' }>['rows']): { buffer: GPUBuffer; size: number } => {
    if (s.role === 'activation') return { buffer: b.slotBuffers[b.slotOf.get(s)!], size: pad4(s.maxBytes) };
    if (s.role === 'param') {
      const buf = resident.param(s.owner, b.params, STORAGE, rows);
      return { buffer: buf, size: buf.size };
    }
    if (rows) throw new Error(`%${s.owner.name}: only a weight can be bound as a row range`);
    if (s.role === 'state') {
      const buf = resident.state(s.owner.name, s.maxBytes, STORAGE);
      return { buffer: buf, size: buf.size };
    }
    let buf = extra.get(s);
    if (!buf) {
      buf = resident.create(s.maxBytes, STORAGE, `${s.role} ${s.owner.name}`);
      extra.set(s, buf);
    }
    return { buffer: buf, size: buf.size };
  };
  // Written by the dims kernel (as storage), read by every launch (its slice, as uniform).
  const uniform = resident.create(uniformBytes(p), BufferUsage.UNIFORM | BufferUsage.STORAGE, `dims of @${graph.name}`);
  const launches = bindProgram(device, p, (k) => pipelines.get(k)!, uniform, {
    value(v, ref, kernel) {
      const { buffer, size } = bufferOf(plan.storageOf.get(v)!, ref.kind === 'operand' ? ref.rows : undefined);
      if (size > maxBinding) throw new Error(`${kernel.label}: %${v.name} needs ${size} bytes, more than this device binds at once (${maxBinding})`);
      return { buffer, offset: 0, size };
    },
    create: (bytes, label) => resident.create(bytes, STORAGE, label),
  });
  const input = (name: string) => {
    const v = graph.inputs.find((x) => x.name === name);
    if (!v) throw new Error(`graph @${graph.name} has no input %${name}`);
    return bufferOf(plan.storageOf.get(v)!).buffer;
  };
  const logitsValue = graph.output('logits');
  if (!logitsValue) throw new Error(`graph @${graph.name} has no logits output`);
  const logitsStorage = plan.storageOf.get(logitsValue)!;
  const nextValue = graph.output('next');
  const symbols = resident.create(4 * p.dims.symbols.length, BufferUsage.STORAGE | BufferUsage.COPY_DST, `symbols of @${graph.name}`);
  // At least one pair: an empty map would be an empty binding (its one pair writes word 0 as 0).
  const pairs = stepDims.wordCount > 0 ? stepDims.wordMap() : new Uint32Array([0, 0xffffffff]);
  const map = resident.create(pairs.byteLength, BufferUsage.STORAGE | BufferUsage.COPY_DST, `dims map of @${graph.name}`);
  device.queue.writeBuffer(map, 0, pairs);
  const dimsEntries: GPUBindGroupEntry[] = [
    { binding: DIMS_BINDINGS.symbols, resource: { buffer: symbols } },
    { binding: DIMS_BINDINGS.map, resource: { buffer: map } },
    { binding: DIMS_BINDINGS.words, resource: { buffer: uniform } },
    { binding: DIMS_BINDINGS.pos, resource: { buffer: input('pos') } },
  ];
  const dimsLaunch = { pipeline: dimsPipeline, bindGroup: device.createBindGroup({ layout: dimsPipeline.getBindGroupLayout(0), entries: dimsEntries, label: 'step dims' }), symbols };
  return {
    program: p, launches, stepDims, dimsLaunch, tokens: input('tokens'), logits: bufferOf(logitsStorage).buffer, logitsStorage,
    ...(nextValue ? { next: bufferOf(plan.storageOf.get(nextValue)!).buffer } : {}),
  };
}
