// The paged step on the CPU: one compiled module and thread pool as the WasmExecutor uses
// (runtime/wasm/executor.ts), over a single program, the paged step graph. The KV pool is the
// program's states, written in place by paged_kv_write; a step writes the rows' inputs, the one
// symbol S into every argument block that reads it, and runs the launch list.
import { ARG_SLOT_BYTES, MAX_PAGES, PAGE_BYTES, PLAN_ENTRY_BYTES, PLAN_HEADER_BYTES } from '../../codegen/wasm/abi.js';
import type { CompiledModule } from '../../codegen/wasm/module.js';
import type { WasmProgram } from '../../codegen/wasm/program.js';
import { type Dim, evalDim } from '../../ir/dim.js';
import { StateError } from '../../ir/errors.js';
import type { Storage } from '../../ir/memory.js';
import { platform } from '../platform/platform.js';
import type { ParamResolver } from '../reference/interpreter.js';
import { describeBudget, memoryBudget } from '../wasm/budget.js';
import { scratchLayout, SharedScratch, tooBigForWasm, WasmMemory, weightPlacer } from '../wasm/memory.js';
import { ThreadPool } from '../wasm/threads.js';
import { LORA_ROWS_INPUT } from './lora-rows.js';
import { type PagedGeometry, pagedGeometry, type PagedRows, type PagedStepExecutor, type PagedStepResult } from './step.js';

// Vector loads of a tail may touch (never use) a few bytes past a tensor's end.
const SLACK = 64;

interface DimWords {
  readonly dim: Dim;
  readonly words: Uint32Array;
}

export interface WasmPagedOptions {
  readonly threads?: number;
  readonly spinMicros?: number;
}

export class WasmPagedExecutor implements PagedStepExecutor {
  readonly backend = 'wasm';
  readonly geometry: PagedGeometry;

  private constructor(
    private live: ThreadPool | undefined,
    private readonly program: WasmProgram,
    private readonly plan: number,
    private readonly dims: readonly DimWords[],
    private readonly at: Readonly<Record<'tokens' | 'pos' | 'lens' | 'blocks' | 'logits' | 'next', number> & { lora?: number }>,
  ) {
    this.geometry = pagedGeometry(program.graph);
  }

  get maxRows(): number {
    return this.program.bounds.S;
  }

  get threads(): number {
    return this.pool.threads;
  }

  private get pool(): ThreadPool {
    if (!this.live) throw new StateError('this batched wasm model was disposed; open it again');
    return this.live;
  }

  static async create(module: CompiledModule, program: WasmProgram, params: ParamResolver, opts: WasmPagedOptions = {}): Promise<WasmPagedExecutor> {
    const threads = opts.threads ?? platform().availableParallelism();
    const budget = memoryBudget([program], threads);
    if (budget.need > MAX_PAGES * PAGE_BYTES) throw tooBigForWasm(budget.need, describeBudget(budget));
    const memory = new WasmMemory(budget.need, budget.total);
    const pool = await ThreadPool.create(module.module, memory, { threads, spinMicros: opts.spinMicros });
    try {
      const arena = memory.alloc(program.plan.arenaBytes + SLACK, 64, 'activations');
      const param = weightPlacer(memory, params);
      const layouts = new Map(program.nodes.map(({ kernels }) => [kernels, scratchLayout(kernels, program.bounds, pool.threads)] as const));
      const scratch = SharedScratch.alloc(memory, layouts.values());
      const own = new Map<Storage, number>();
      const addressOf = (s: Storage): number => {
        if (s.role === 'activation') return arena + s.offset!;
        if (s.role === 'param') return param(s.owner);
        if (s.role === 'tail') throw new Error(`%${s.owner.name}: a paged graph has no KV tail`);
        let at = own.get(s);
        if (at === undefined) {
          at = memory.alloc(s.maxBytes + SLACK, 64, `${s.role} %${s.owner.name}`);
          // A fresh pool reads as zeros, which no sequence sees before writing.
          own.set(s, at);
        }
        return at;
      };
      const launches: { kernel: string; block: number; first: number; dims: readonly Dim[] }[] = [];
      for (const { node, kernels } of program.nodes) {
        const layout = layouts.get(kernels)!;
        for (const kernel of kernels) {
          const block = memory.alloc((kernel.bindings.length + kernel.dims.length) * ARG_SLOT_BYTES, 16, 'argument block');
          const addresses = kernel.bindings.map((b) => {
            if (b.kind === 'scratch' || b.kind === 'counter') return scratch.address(b, layout)!;
            const v = b.kind === 'operand' ? node.inputs[b.index] : node.outputs[b.index];
            return addressOf(program.plan.storageOf.get(v)!);
          });
          memory.u32(block, addresses.length).set(addresses);
          launches.push({ kernel: kernel.name, block, first: (block >>> 2) + kernel.bindings.length, dims: kernel.dims });
        }
      }
      const plan = memory.alloc(PLAN_HEADER_BYTES + launches.length * PLAN_ENTRY_BYTES, 64, 'launch list');
      const words = memory.u32(plan, (PLAN_HEADER_BYTES + launches.length * PLAN_ENTRY_BYTES) / 4);
      words[0] = launches.length;
      launches.forEach((l, i) => {
        const w = (PLAN_HEADER_BYTES + i * PLAN_ENTRY_BYTES) / 4;
        words[w] = module.indexOf(l.kernel);
        words[w + 1] = l.block;
      });
      // Each distinct dim is evaluated once a step and written to every word that reads it.
      const groups = new Map<string, { dim: Dim; words: number[] }>();
      for (const l of launches) {
        l.dims.forEach((d, i) => {
          const key = typeof d === 'number' ? String(d) : d.key;
          const g = groups.get(key) ?? { dim: d, words: [] };
          g.words.push(l.first + i);
          groups.set(key, g);
        });
      }
      const g = program.graph;
      const valueAt = (name: string, kind: 'input' | 'output') => {
        const v = kind === 'input' ? g.inputs.find((x) => x.name === name) : g.output(name);
        if (!v) throw new Error(`graph @${g.name} has no ${kind} '${name}'`);
        return addressOf(program.plan.storageOf.get(v)!);
      };
      // States (the pool) are placed even when no launch binds them directly.
      for (const v of g.stateInputs()) addressOf(program.plan.storageOf.get(v)!);
      const at = {
        tokens: valueAt('tokens', 'input'), pos: valueAt('pos', 'input'), lens: valueAt('lens', 'input'), blocks: valueAt('blocks', 'input'),
        logits: valueAt('logits', 'output'), next: valueAt('next', 'output'),
        ...(pagedGeometry(g).adapters ? { lora: valueAt(LORA_ROWS_INPUT, 'input') } : {}),
      };
      return new WasmPagedExecutor(pool, program, plan, [...groups.values()].map((x) => ({ dim: x.dim, words: Uint32Array.from(x.words) })), at);
    } catch (e) {
      await pool.dispose();
      throw e;
    }
  }

  async step(rows: PagedRows): Promise<PagedStepResult> {
    const n = rows.count, width = this.geometry.tableWidth;
    if (n < 1 || n > this.maxRows) throw new RangeError(`a paged step takes 1 to ${this.maxRows} rows, got ${n}`);
    const mem = this.pool.memory;
    mem.i32(this.at.tokens, n).set(rows.tokens.subarray(0, n));
    mem.i32(this.at.pos, n).set(rows.pos.subarray(0, n));
    mem.i32(this.at.lens, n).set(rows.lens.subarray(0, n));
    mem.i32(this.at.blocks, n * width).set(rows.blocks.subarray(0, n * width));
    const adapters = this.geometry.adapters;
    if (this.at.lora !== undefined) mem.f32(this.at.lora, n * adapters).set(rows.lora.subarray(0, n * adapters));
    const words = mem.u32(0, mem.used >>> 2);
    for (const d of this.dims) {
      const value = evalDim(d.dim, { S: n });
      for (const w of d.words) words[w] = value;
    }
    this.pool.run(this.plan);
    return { logits: mem.f32(this.at.logits, n * this.geometry.vocabSize), next: mem.i32(this.at.next, n) };
  }

  async dispose(): Promise<void> {
    await this.live?.dispose();
    this.live = undefined;
  }
}
