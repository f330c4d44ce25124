// Runs a graph's nodes on the CPU kernels with plain, unshared buffers: every value gets its own
// allocation, one launch list covers the whole graph, and the pool runs it in one go. It is the
// harness for kernel tests and benchmarks, and the simplest correct schedule; the memory planner
// and the scheduler will reuse buffers and keep weights and the KV cache resident.
import { emitWasmKernel } from '../../codegen/wasm/emit.js';
import type { WasmEmitContext, WasmKernel } from '../../codegen/wasm/kernel.js';
import type { WasmModuleSource } from '../../codegen/wasm/module.js';
import { type DimBindings, evalDim } from '../../ir/dim.js';
import { storageBytes } from '../../ir/dtype.js';
import type { Graph, Value } from '../../ir/graph.js';
import { type HostTensor, tensor, type TensorData } from '../../ir/tensor.js';
import { bindDims } from '../reference/interpreter.js';
import { kernelArgs, type Launch, writePlan } from './plan.js';
import type { ThreadPool } from './threads.js';

/** A graph with the kernels of each node (compile `allKernels` into a module, possibly with others). */
export interface PreparedGraph {
  readonly graph: Graph;
  readonly nodeKernels: readonly (readonly WasmKernel[])[];
}

export function prepareGraph(graph: Graph, ctx: WasmEmitContext = {}): PreparedGraph {
  return { graph, nodeKernels: graph.nodes.map((n) => emitWasmKernel(n, ctx)) };
}

export function allKernels(graphs: readonly PreparedGraph[]): WasmKernel[] {
  return graphs.flatMap((g) => g.nodeKernels.flat());
}

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

/** Runs `prepared` once with fresh buffers; frees them (and the plan) before returning. */
export function runGraph(pool: ThreadPool, module: WasmModuleSource, prepared: PreparedGraph, opts: RunGraphOptions): RunGraphResult {
  const { graph } = prepared;
  const mem = pool.memory;
  const env = bindDims(graph, opts.inputs, opts.dims);
  const mark = mem.mark();
  try {
    const addr = new Map<Value, number>();
    const place = (v: Value, t?: HostTensor) => {
      const shape = v.type.shape.map((d) => evalDim(d, env));
      const bytes = storageBytes(v.type.dtype, shape);
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
    graph.nodes.forEach((node, i) => {
      for (const v of node.outputs) place(v);
      const scratch = new Map<number, number>();
      const kernels = prepared.nodeKernels[i];
      for (const k of kernels) {
        for (const b of k.bindings) {
          if (b.kind !== 'scratch' || scratch.has(b.slot)) continue;
          const bytes = kernels.flatMap((kk) => kk.bindings)
            .filter((bb) => bb.kind === 'scratch' && bb.slot === b.slot)
            .reduce((m, bb) => Math.max(m, bb.kind === 'scratch' ? evalDim(bb.bytes, env) * (bb.perThread ? pool.threads : 1) : 0), 0);
          scratch.set(b.slot, mem.alloc(bytes + 64, 64, `scratch of ${node.op}`));
        }
        const addresses = k.bindings.map((b) => {
          switch (b.kind) {
            case 'operand': return addr.get(node.inputs[b.index])!;
            case 'result': return addr.get(node.outputs[b.index])!;
            case 'scratch': return scratch.get(b.slot)!;
          }
        });
        launches.push({ kernel: module.indexOf(k.name), args: kernelArgs(k, addresses, env) });
      }
    });
    const plan = writePlan(mem, launches);
    pool.run(plan, opts.nthreads);
    {
      const o = graph.outputs[0].value;
      const shape = o.type.shape.map((d) => evalDim(d, env));
      const n = shape.reduce((a, b) => a * b, 1);
      if (o.type.dtype === 'f32' && mem.f32(addr.get(o)!, n).some((v) => Number.isNaN(v))) {
        const ctrl = new Int32Array(mem.memory.buffer, 0, 256);
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
        const later = mem.f32(addr.get(o)!, n).some((v) => Number.isNaN(v));
        const n0 = Atomics.load(ctrl, 130);
        const ev = [];
        for (let q = Math.max(0, n0 - 12); q < n0; q++) ev.push(`${ctrl[132 + (q % 60) * 2]}@${ctrl[133 + (q % 60) * 2]}`);
        console.log('events', ev.join(' '), 'this plan', plan);
        console.log('NaN after run; still NaN after 100ms:', later, 'ctrl go', ctrl[16], 'gen', ctrl[48], 'count', ctrl[32], 'sleepers', ctrl[64], 'abort', ctrl[80]);
      }
    }
    const read = (v: Value): HostTensor => {
      const shape = v.type.shape.map((d) => evalDim(d, env));
      const bytes = mem.read(addr.get(v)!, storageBytes(v.type.dtype, shape));
      return tensor(v.type.dtype, shape, typedView(v.type.dtype, bytes));
    };
    const outputs: Record<string, HostTensor> = {};
    for (const o of graph.outputs) outputs[o.name] = read(o.value);
    const updates: Record<string, HostTensor> = {};
    for (const u of graph.updates) updates[u.state.name] = read(u.value);
    return { outputs, updates };
  } finally {
    mem.release(mark);
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
