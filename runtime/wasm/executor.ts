// The CPU backend as an Executor: one compiled module, a pool of threads sharing one linear
// memory, weights and the KV cache resident there, activations at the memory plan's arena
// offsets, and a launch list per step graph that every thread walks with atomic barriers — a
// whole forward pass without returning to JavaScript between kernels.
import { ARG_SLOT_BYTES, MAX_PAGES, PAGE_BYTES, PLAN_ENTRY_BYTES, PLAN_HEADER_BYTES } from '../../codegen/wasm/abi.js';
import type { WasmKernel } from '../../codegen/wasm/kernel.js';
import type { CompiledModule } from '../../codegen/wasm/module.js';
import type { WasmProgram } from '../../codegen/wasm/program.js';
import { type Dim, type DimBindings, evalDim, shapeToString } from '../../ir/dim.js';
import { storageBytes } from '../../ir/dtype.js';
import { StateError } from '../../ir/errors.js';
import type { Storage } from '../../ir/memory.js';
import { type Executor, type LogitsWanted, PreallocatedCacheExecutor } from '../executor.js';
import { ProfileCollector, type ProfileRow, type Profiling } from '../profile.js';
import { argmax, checkPicked } from '../sampler.js';
import type { ParamResolver } from '../reference/interpreter.js';
import { scratchLayout, SharedScratch, tooBigForWasm, WasmMemory, weightPlacer } from './memory.js';
import { describeBudget, memoryBudget } from './budget.js';
import { ThreadPool } from './threads.js';
import { platform } from '../platform/platform.js';

/** One kernel launch: its argument block, whose dim words are rewritten every step. */
interface Launch {
  readonly kernel: WasmKernel;
  /** Address of the argument block (addresses first, then dims). */
  readonly block: number;
  /** Dims are evaluated with P = 0 (an in-place KV append writes at a shifted address). */
  readonly shiftedAppend: boolean;
  /** How profiles name it: kernel family and the node's result shape. */
  readonly label: string;
}

/**
 * Where a step writes its run-time dims: each distinct dim (by its canonical key) is evaluated
 * once per step and stored into every argument-block word that takes it (i32 word indices).
 */
interface DimSlots {
  readonly dim: Dim;
  readonly shifted: boolean;
  readonly words: Uint32Array;
  /** The value the words hold now: a step rewrites only the dims that changed (in decode, P's). */
  current: number;
}

interface Step {
  readonly program: WasmProgram;
  readonly plan: number;
  readonly launches: readonly Launch[];
  readonly dimSlots: readonly DimSlots[];
  readonly tokens: number;
  readonly pos: number;
  readonly logits: number;
  /** Address of the greedy token (the 'next' output), when the graph has one. */
  readonly next?: number;
  /**
   * Argument words that point into a KV cache at row P, rewritten every step: an in-place append's
   * result (and its empty past operand), and values the plan computes at a cache's tail.
   */
  readonly atRowP: readonly { readonly word: number; readonly base: number; readonly rowBytes: number }[];
}

/** Bytes of one row (one position) of a KV cache state. */
function stateRowBytes(s: Storage): number {
  const t = s.owner.type;
  return storageBytes(t.dtype, t.shape.slice(1) as number[]);
}

export interface WasmExecutorOptions {
  readonly contextLength: number;
  readonly vocabSize: number;
  readonly threads?: number;
  /** How long (µs) idle threads spin before they sleep (ThreadPoolOptions.spinMicros). */
  readonly spinMicros?: number;
}

/** Groups every launch's dim words by distinct dim, so a step evaluates each dim once. */
function dimSlots(launches: readonly Launch[]): DimSlots[] {
  const groups = new Map<string, { dim: Dim; shifted: boolean; words: number[] }>();
  for (const l of launches) {
    const first = (l.block >>> 2) + l.kernel.bindings.length;
    l.kernel.dims.forEach((d, i) => {
      const key = `${l.shiftedAppend ? 'shifted ' : ''}${typeof d === 'number' ? d : d.key}`;
      const g = groups.get(key) ?? { dim: d, shifted: l.shiftedAppend, words: [] };
      g.words.push(first + i);
      groups.set(key, g);
    });
  }
  return [...groups.values()].map((g) => ({ dim: g.dim, shifted: g.shifted, words: Uint32Array.from(g.words), current: -1 }));
}

/** A kernel's family: its name without the source hash (`matmul_f32_1a2b…` → `matmul_f32`). */
function kernelFamily(name: string): string {
  const cut = name.lastIndexOf('_');
  return cut > 0 ? name.slice(0, cut) : name;
}

// Vector loads of a tail may touch (never use) a few bytes past a tensor's end.
const SLACK = 64;

/** Tokens × bytes of linear memory beyond which a run waits for the worker threads (threadsFor). */
const ALONE_MAX_WORK = 16 * 64 * 2 ** 20;

export class WasmExecutor extends PreallocatedCacheExecutor implements Executor, Profiling {
  readonly backend = 'wasm';
  private profile: { collector: ProfileCollector; buffer: number } | undefined;
  private profileBuffer = 0;

  private constructor(
    private live: ThreadPool | undefined,
    private readonly steps: Readonly<Record<LogitsWanted, Step>>,
    opts: WasmExecutorOptions,
  ) {
    super(opts.contextLength, opts.vocabSize);
  }

  private get pool(): ThreadPool {
    if (!this.live) throw new StateError('this wasm model was disposed; open it again');
    return this.live;
  }

  get threads(): number {
    return this.pool.threads;
  }

  get memoryBytes(): number {
    return this.pool.memory.used;
  }

  static async create(module: CompiledModule, programs: Readonly<Record<LogitsWanted, WasmProgram>>, params: ParamResolver, opts: WasmExecutorOptions): Promise<WasmExecutor> {
    const threads = opts.threads ?? platform().availableParallelism();
    // Commit what the plan needs, reserve that plus headroom: not the 4 GiB wasm32 allows.
    const budget = memoryBudget([programs.last, programs.all], threads);
    if (budget.need > MAX_PAGES * PAGE_BYTES) throw tooBigForWasm(budget.need, describeBudget(budget));
    const memory = new WasmMemory(budget.need, budget.total);
    // The workers come up while the weights are placed and the first tokens run (threads.ts).
    const pool = await ThreadPool.create(module.module, memory, { threads, spinMicros: opts.spinMicros, background: true });
    try {
      const states = new Map<string, number>();
      const arenaBytes = Math.max(programs.last.plan.arenaBytes, programs.all.plan.arenaBytes);
      const arena = memory.alloc(arenaBytes + SLACK, 64, 'activations');
      const param = weightPlacer(memory, params);
      const layouts = new Map([programs.last, programs.all].flatMap((p) => p.nodes.map(({ kernels }) => [kernels, scratchLayout(kernels, p.bounds, pool.threads)] as const)));
      const scratch = SharedScratch.alloc(memory, layouts.values());
      const build = (p: WasmProgram): Step => {
        const own = new Map<Storage, number>();
        const addressOf = (s: Storage): number => {
          switch (s.role) {
            case 'activation': return arena + s.offset!;
            case 'param': return param(s.owner);
            case 'tail': throw new Error(`%${s.owner.name} lives at a KV cache's row P, which moves every step`);
            case 'state': {
              let at = states.get(s.owner.name);
              if (at === undefined) {
                at = memory.alloc(s.maxBytes + SLACK, 64, `KV cache ${s.owner.name}`);
                states.set(s.owner.name, at);
              }
              return at;
            }
            default: {
              let at = own.get(s);
              if (at === undefined) {
                at = memory.alloc(s.maxBytes + SLACK, 64, `${s.role} %${s.owner.name}`);
                own.set(s, at);
              }
              return at;
            }
          }
        };
        const launches: Launch[] = [];
        const atRowP: Step['atRowP'][number][] = [];
        for (const { node, kernels } of p.nodes) {
          const inPlaceAppend = node.op === 'kv_append' && p.plan.storageOf.get(node.outputs[0])?.role === 'state';
          const layout = layouts.get(kernels)!;
          for (const kernel of kernels) {
            const block = memory.alloc((kernel.bindings.length + kernel.dims.length) * ARG_SLOT_BYTES, 16, 'argument block');
            const addresses = kernel.bindings.map((b, slot) => {
              if (b.kind === 'scratch' || b.kind === 'counter') return scratch.address(b, layout)!;
              const v = b.kind === 'operand' ? node.inputs[b.index] : node.outputs[b.index];
              const s = p.plan.storageOf.get(v)!;
              // The cache already holds the past rows: an in-place append writes only the new
              // rows, at row P (its past operand is read for zero rows there), and a tail value is
              // computed there.
              const state = s.role === 'tail' ? p.plan.storages[s.tailOf!] : inPlaceAppend && (b.kind === 'result' || b.index === 0) ? s : undefined;
              if (!state) return addressOf(s);
              atRowP.push({ word: (block >>> 2) + slot, base: addressOf(state), rowBytes: stateRowBytes(state) });
              return 0;
            });
            memory.u32(block, addresses.length).set(addresses);
            launches.push({ kernel, block, shiftedAppend: inPlaceAppend, label: `${kernelFamily(kernel.name)} ${shapeToString(node.outputs[0].type.shape)}` });
          }
        }
        const plan = memory.alloc(PLAN_HEADER_BYTES + launches.length * PLAN_ENTRY_BYTES, 64, 'launch list');
        const words = memory.u32(plan, (PLAN_HEADER_BYTES + launches.length * PLAN_ENTRY_BYTES) / 4);
        words[0] = launches.length;
        launches.forEach((l, i) => {
          const w = (PLAN_HEADER_BYTES + i * PLAN_ENTRY_BYTES) / 4;
          words[w] = module.indexOf(l.kernel.name);
          words[w + 1] = l.block;
        });
        const g = p.graph;
        const input = (name: string) => addressOf(p.plan.storageOf.get(g.inputs.find((v) => v.name === name)!)!);
        const logitsValue = g.output('logits');
        if (!logitsValue) throw new Error(`graph @${g.name} has no logits output`);
        const nextValue = g.output('next');
        return {
          program: p, plan, launches, dimSlots: dimSlots(launches), tokens: input('tokens'), pos: input('pos'), logits: addressOf(p.plan.storageOf.get(logitsValue)!),
          ...(nextValue ? { next: addressOf(p.plan.storageOf.get(nextValue)!) } : {}), atRowP,
        };
      };
      return new WasmExecutor(pool, { last: build(programs.last), all: build(programs.all) }, opts);
    } catch (e) {
      await pool.dispose();
      throw e;
    }
  }

  async forward(tokens: readonly number[], want: LogitsWanted): Promise<Float32Array> {
    await this.threadsFor(tokens.length);
    const bound = this.steps[want].program.bounds.S;
    if (want === 'all' && tokens.length > bound) {
      const all = new Float32Array(tokens.length * this.vocabSize);
      for (let i = 0; i < tokens.length; i += bound) all.set(await this.forward(tokens.slice(i, i + bound), 'all'), i * this.vocabSize);
      return all;
    }
    const step = this.run(tokens, want);
    const rows = want === 'last' ? 1 : tokens.length;
    return Float32Array.from(this.pool.memory.f32(step.logits, rows * this.vocabSize));
  }

  async forwardGreedy(tokens: readonly number[]): Promise<number> {
    await this.threadsFor(tokens.length);
    const bound = this.steps.last.program.bounds.S;
    if (tokens.length > bound) {
      this.run(tokens.slice(0, tokens.length - 1), 'last');
      return this.forwardGreedy(tokens.slice(-1));
    }
    const step = this.run(tokens, 'last');
    const logits = this.pool.memory.f32(step.logits, this.vocabSize);
    if (step.next === undefined) return argmax(logits);
    // The graph's argmax skips NaN; one read of the winner's logit catches a broken model (NaN
    // spreads to every logit, and +Infinity would win).
    const next = this.pool.memory.i32(step.next, 1)[0];
    return checkPicked(next, logits[next]);
  }

  /**
   * Before a long run, waits for worker threads still starting (the pool starts them in the
   * background): a few tokens run sooner on this thread alone than a worker boots (30–50 ms on
   * an idle 2-core machine), a long prompt of a large model does not. Work is counted as tokens ×
   * bytes of linear memory (weights and caches); the bound is 16 tokens of an f32 stories15M.
   */
  private async threadsFor(tokens: number): Promise<void> {
    if (this.pool.runnable < this.pool.threads && tokens * this.pool.memory.used > ALONE_MAX_WORK) await this.pool.allThreads();
  }

  /**
   * Runs the step graph over `tokens` (in pieces when longer than a compiled chunk). Synchronous:
   * the threads block the caller anyway, and each await costs a few µs of a ~1.5 ms decode step.
   */
  private run(tokens: readonly number[], want: LogitsWanted): Step {
    const S = tokens.length;
    this.checkStep(tokens);
    const step = this.steps[want];
    const bound = step.program.bounds.S;
    if (S > bound) {
      if (want === 'all') throw new RangeError(`forward: ${S} tokens with every position's logits is more than the compiled chunk of ${bound}`);
      for (let i = 0; i + bound < S; i += bound) this.run(tokens.slice(i, i + bound), 'last');
      return this.run(tokens.slice(S - ((S - 1) % bound) - 1), want);
    }
    const mem = this.pool.memory;
    const P = this.length;
    mem.i32(step.tokens, S).set(tokens);
    const pos = mem.i32(step.pos, S);
    for (let i = 0; i < S; i++) pos[i] = P + i;
    // One view for all argument words: a decode step is ~2 ms, and a view per launch showed.
    const words = mem.u32(0, mem.used >>> 2);
    const dims: DimBindings = { S, P };
    const appendDims: DimBindings = { S, P: 0 };
    for (const slot of step.dimSlots) {
      const value = evalDim(slot.dim, slot.shifted ? appendDims : dims);
      if (value === slot.current) continue;
      for (const w of slot.words) words[w] = value;
      slot.current = value;
    }
    for (const a of step.atRowP) words[a.word] = a.base + P * a.rowBytes;
    this.pool.run(step.plan);
    if (this.profile) this.collect(step, S);
    this.length += S;
    return step;
  }

  startProfile(): void {
    if (!this.profileBuffer) {
      const most = Math.max(this.steps.last.launches.length, this.steps.all.launches.length);
      this.profileBuffer = this.pool.memory.alloc((most + 1) * 8, 64, 'profile timestamps');
    }
    this.profile = { collector: new ProfileCollector(), buffer: this.profileBuffer };
    this.pool.setProfileBuffer(this.profileBuffer);
  }

  stopProfile(): ProfileRow[] {
    this.pool.setProfileBuffer(0);
    const rows = this.profile?.collector.rows() ?? [];
    this.profile = undefined;
    return rows;
  }

  private collect(step: Step, S: number): void {
    const { collector, buffer } = this.profile!;
    const phase = S === 1 ? 'decode' : 'prefill';
    const stamps = new Float64Array(this.pool.memory.memory.buffer, buffer, step.launches.length + 1);
    collector.step(phase);
    step.launches.forEach((l, i) => collector.add(phase, l.label, stamps[i + 1] - stamps[i]));
  }

  async dispose(): Promise<void> {
    await this.live?.dispose();
    // Let go of the memory at once, even while a caller still holds this executor.
    this.live = undefined;
  }
}
