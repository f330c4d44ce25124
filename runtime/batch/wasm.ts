// A stateless graph on the CPU kernels: weights resident in one shared memory, activations at the
// memory plan's arena offsets, inputs and outputs in buffers of their own, and per call a launch
// list with that call's dims, walked by every thread of the pool.
import { MAX_PAGES, PAGE_BYTES } from '../../codegen/wasm/abi.js';
import type { CompiledModule } from '../../codegen/wasm/module.js';
import type { WasmKernel } from '../../codegen/wasm/kernel.js';
import type { WasmProgram } from '../../codegen/wasm/program.js';
import { tensorFromBytes } from '../../codegen/wgsl/contract.js';
import { evalDim } from '../../ir/dim.js';
import { storageBytes } from '../../ir/dtype.js';
import type { Graph } from '../../ir/graph.js';
import type { Storage } from '../../ir/memory.js';
import type { HostTensor } from '../../ir/tensor.js';
import type { ParamResolver } from '../reference/interpreter.js';
import { describeBudget, memoryBudget } from '../wasm/budget.js';
import { scratchLayout, SharedScratch, tooBigForWasm, WasmMemory, weightPlacer } from '../wasm/memory.js';
import { kernelArgs, writePlan } from '../wasm/plan.js';
import { platform } from '../platform/platform.js';
import { ThreadPool, type ThreadPoolOptions } from '../wasm/threads.js';
import { type BatchExecutor, bindWithinBounds, outputValues } from './executor.js';

// Vector loads of a tail may touch (never use) a few bytes past a tensor's end.
const SLACK = 64;

interface Launch {
  readonly kernel: WasmKernel;
  readonly index: number;
  readonly addresses: readonly number[];
}

export class WasmBatchExecutor implements BatchExecutor {
  readonly backend = 'wasm';

  private constructor(
    private readonly pool: ThreadPool,
    private readonly program: WasmProgram,
    private readonly launches: readonly Launch[],
    private readonly addressOf: (s: Storage) => number,
  ) {}

  get graph(): Graph {
    return this.program.graph;
  }

  get bounds() {
    return this.program.bounds;
  }

  get threads(): number {
    return this.pool.threads;
  }

  static async create(module: CompiledModule, program: WasmProgram, params: ParamResolver, opts: Pick<ThreadPoolOptions, 'threads' | 'spinMicros'> = {}): Promise<WasmBatchExecutor> {
    const threads = opts.threads ?? platform().availableParallelism();
    // Commit what the plan needs, reserve that plus headroom: not the 4 GiB wasm32 allows.
    const budget = memoryBudget([program], threads);
    if (budget.need > MAX_PAGES * PAGE_BYTES) throw tooBigForWasm(budget.need, describeBudget(budget));
    const memory = new WasmMemory(budget.need, budget.total);
    const pool = await ThreadPool.create(module.module, memory, { threads, spinMicros: opts.spinMicros });
    try {
      const { plan, bounds } = program;
      const arena = memory.alloc(plan.arenaBytes + SLACK, 64, 'activations');
      const param = weightPlacer(memory, params);
      const own = new Map<Storage, number>();
      const addressOf = (s: Storage): number => {
        if (s.role === 'activation') return arena + s.offset!;
        if (s.role === 'param') return param(s.owner);
        let at = own.get(s);
        if (at === undefined) {
          at = memory.alloc(s.maxBytes + SLACK, 64, `${s.role} %${s.owner.name}`);
          own.set(s, at);
        }
        return at;
      };
      const launches: Launch[] = [];
      const layouts = program.nodes.map(({ kernels }) => scratchLayout(kernels, bounds, pool.threads));
      const scratch = SharedScratch.alloc(memory, layouts);
      for (const [i, { node, kernels }] of program.nodes.entries()) {
        for (const kernel of kernels) {
          const addresses = kernel.bindings.map((b) => {
            if (b.kind === 'scratch' || b.kind === 'counter') return scratch.address(b, layouts[i])!;
            return addressOf(plan.storageOf.get(b.kind === 'operand' ? node.inputs[b.index] : node.outputs[b.index])!);
          });
          launches.push({ kernel, index: module.indexOf(kernel.name), addresses });
        }
      }
      // Inputs and outputs get their buffers now, not on the first call.
      for (const s of plan.storages) addressOf(s);
      return new WasmBatchExecutor(pool, program, launches, addressOf);
    } catch (e) {
      await pool.dispose();
      throw e;
    }
  }

  async run(inputs: Readonly<Record<string, HostTensor>>, outputs: readonly string[]): Promise<Record<string, HostTensor>> {
    const { graph, plan } = this.program;
    const dims = bindWithinBounds(graph, inputs, this.bounds);
    const wanted = outputValues(graph, outputs);
    const mem = this.pool.memory;
    for (const v of graph.inputs) mem.write(this.addressOf(plan.storageOf.get(v)!), inputs[v.name].data);
    // The launch list depends on this call's dims: write it above a mark and drop it afterwards.
    const mark = mem.mark();
    try {
      const list = writePlan(mem, this.launches.map((l) => ({ kernel: l.index, args: kernelArgs(l.kernel, l.addresses, dims) })));
      this.pool.run(list);
      const out: Record<string, HostTensor> = {};
      for (const { name, value } of wanted) {
        const shape = value.type.shape.map((d) => evalDim(d, dims));
        const bytes = mem.read(this.addressOf(plan.storageOf.get(value)!), storageBytes(value.type.dtype, shape));
        out[name] = tensorFromBytes({ dtype: value.type.dtype, shape }, bytes);
      }
      return out;
    } finally {
      mem.release(mark);
    }
  }

  async dispose(): Promise<void> {
    await this.pool.dispose();
  }
}
