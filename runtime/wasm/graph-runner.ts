// Runs a graph's nodes on the CPU kernels with plain, unshared buffers: every value gets its own
// allocation, one launch list covers the whole graph, and the pool runs it in one go. It is the
// harness for kernel tests and benchmarks, and the simplest correct schedule; the memory planner
// and the scheduler will reuse buffers and keep weights and the KV cache resident.
import type { GraphKernels } from '../../codegen/wasm/emit.js';
import type { WasmModuleSource } from '../../codegen/wasm/module.js';
import { type DimBindings, evalDim } from '../../ir/dim.js';
import { storageBytes } from '../../ir/dtype.js';
import type { Value } from '../../ir/graph.js';
import { type HostTensor, tensor, type TensorData } from '../../ir/tensor.js';
import { bindDims } from '../reference/interpreter.js';
import { kernelArgs, type Launch, writePlan } from './plan.js';
import { scratchLayout, SharedScratch } from './memory.js';
import type { ThreadPool } from './threads.js';

export interface RunGraphOptions {
  readonly inputs: Readonly<Record<string, HostTensor>>;
  /** Parameter tensors by value name. */
  readonly params?: Readonly<Record<string, HostTensor>>;
  readonly dims?: DimBindings;
  /** Threads to run on (default: the whole pool). */
  readonly nthreads?: number;
  /** Fill results with 0xff bytes first (NaN for f32, −1 for i32) so unwritten elements show. */
  readonly poison?: boolean;
}

export interface RunGraphResult {
  readonly outputs: Record<string, HostTensor>;
  readonly updates: Record<string, HostTensor>;
}

/** A graph placed in linear memory with its plan written: run it as often as needed. */
export interface BoundGraph {
  /** Address of the launch list. */
  readonly plan: number;
  /** Address of each value's buffer. */
  readonly addresses: ReadonlyMap<Value, number>;
  /** The symbol values the plan was written for. */
  readonly dims: DimBindings;
  /** Launches in the plan (kernels, not nodes). */
  readonly launches: number;
  read(v: Value): HostTensor;
}

/** Allocates every value, copies inputs and params in, writes the plan (until `mem.release`). */
export function bindGraph(pool: ThreadPool, module: WasmModuleSource, prepared: GraphKernels, opts: Omit<RunGraphOptions, 'nthreads'>): BoundGraph {
  const { graph } = prepared;
  const mem = pool.memory;
  const env = bindDims(graph, opts.inputs, opts.dims);
  const addr = new Map<Value, number>();
  const shapeOf = (v: Value) => v.type.shape.map((d) => evalDim(d, env));
  const place = (v: Value, t?: HostTensor) => {
    const bytes = storageBytes(v.type.dtype, shapeOf(v));
    // 16 bytes of slack: vector loads of a tail may touch (never use) bytes past the end.
    const at = mem.alloc(bytes + 16, 64, `%${v.name}`);
    if (t) mem.write(at, t.data);
    else if (opts.poison ?? true) mem.fill(at, bytes, 0xff);
    addr.set(v, at);
  };
  for (const v of graph.inputs) place(v, opts.inputs[v.name]);
  for (const p of graph.params) {
    const t = opts.params?.[p.name];
    if (!t) throw new Error(`param %${p.name} was not given`);
    place(p, t);
  }
  const launches: Launch[] = [];
  const layouts = prepared.nodeKernels.map((kernels) => scratchLayout(kernels, env, pool.threads));
  const scratch = SharedScratch.alloc(mem, layouts, opts.poison ?? true);
  graph.nodes.forEach((node, i) => {
    for (const v of node.outputs) place(v);
    const kernels = prepared.nodeKernels[i];
    for (const k of kernels) {
      const addresses = k.bindings.map((b) => {
        switch (b.kind) {
          case 'operand': return addr.get(node.inputs[b.index])!;
          case 'result': return addr.get(node.outputs[b.index])!;
          default: return scratch.address(b, layouts[i])!;
        }
      });
      launches.push({ kernel: module.indexOf(k.name), args: kernelArgs(k, addresses, env) });
    }
  });
  const plan = writePlan(mem, launches);
  return {
    plan,
    addresses: addr,
    dims: env,
    launches: launches.length,
    read(v: Value): HostTensor {
      const shape = shapeOf(v);
      const bytes = mem.read(addr.get(v)!, storageBytes(v.type.dtype, shape));
      return tensor(v.type.dtype, shape, typedView(v.type.dtype, bytes));
    },
  };
}

/** Runs `prepared` once with fresh buffers; frees them (and the plan) before returning. */
export function runGraph(pool: ThreadPool, module: WasmModuleSource, prepared: GraphKernels, opts: RunGraphOptions): RunGraphResult {
  const mark = pool.memory.mark();
  try {
    const bound = bindGraph(pool, module, prepared, opts);
    pool.run(bound.plan, opts.nthreads);
    const outputs: Record<string, HostTensor> = {};
    for (const o of prepared.graph.outputs) outputs[o.name] = bound.read(o.value);
    const updates: Record<string, HostTensor> = {};
    for (const u of prepared.graph.updates) updates[u.state.name] = bound.read(u.value);
    return { outputs, updates };
  } finally {
    pool.memory.release(mark);
  }
}

function typedView(dtype: string, bytes: Uint8Array): TensorData {
  switch (dtype) {
    case 'f32': return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    case 'i32': return new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    case 'u32': return new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    case 'f16': case 'bf16': return new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
    default: return bytes;
  }
}
