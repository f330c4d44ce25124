// The runtime core: a long chain of kernels run by step() with a barrier after each (results cross
// between threads at every step, so a missing or broken barrier shows as wrong numbers), kernel
// errors reported through the control block, and a clean shutdown of the workers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileModule, type CompiledModule } from '../../../codegen/wasm/module.js';
import { f32, GraphBuilder, i32, type Graph, type HostTensor } from '../../../ir/index.js';
import { interpret } from '../../../runtime/reference/interpreter.js';
import { allKernels, emitGraphKernels, type GraphKernels } from '../../../codegen/wasm/emit.js';
import { runGraph } from '../../../runtime/wasm/graph-runner.js';
import { WasmMemory } from '../../../runtime/wasm/memory.js';
import { KernelError, ThreadPool } from '../../../runtime/wasm/threads.js';
import { closeF32, randomF32 } from '../../codegen/wasm/harness.js';

/** 72 kernels: transposes move each thread's rows into other threads' columns between steps. */
function chainGraph(): Graph {
  const b = new GraphBuilder('chain', ['S']);
  const x = b.input('x', 'f32', [37, 37]);
  const w = b.input('w', 'f32', [37, 37]);
  let h = x;
  for (let i = 0; i < 12; i++) {
    h = b.op('transpose', [h], { perm: [1, 0] });
    h = b.op('matmul', [h, w]);
    const gain = b.op('reshape', [b.op('slice', [w], { axis: 0, start: i, end: i + 1 })], { shape: [37] });
    h = b.op('rms_norm', [h, gain], { eps: 1e-5 });
    h = b.op('add', [h, x]);
  }
  b.output('y', h);
  return b.finish();
}

/**
 * Kernels with a single work item, which _t_split hands to the last thread: the main thread sits
 * in every barrier long enough to fall asleep (this is the path V8's wait32 corrupted).
 */
function lopsidedGraph(): Graph {
  const b = new GraphBuilder('lopsided', ['S']);
  const x = b.input('x', 'f32', [16, 150000]);
  let h = b.op('matmul', [x, b.input('w', 'f32', [4, 150000])]);
  for (let i = 0; i < 6; i++) h = b.op('matmul', [b.op('matmul', [h, b.input(`a${i}`, 'f32', [150000, 4])]), b.input(`b${i}`, 'f32', [4, 150000])]);
  b.output('y', h);
  return b.finish();
}

/**
 * Rotations of many heads at one position: the rope kernel computes the position's cos/sin once
 * into its slot in the module's static data and reads it back for every other head.
 */
function ropeGraph(): Graph {
  const b = new GraphBuilder('rope', ['S']);
  let h = b.input('x', 'f32', [1, 1024, 64]);
  const pos = b.input('pos', 'i32', [1]);
  for (let i = 0; i < 48; i++) h = b.op('rope', [h, pos], { theta: 10000 + i });
  b.output('y', h);
  return b.finish();
}

function embedGraph(): Graph {
  const b = new GraphBuilder('embed', ['S']);
  const table = b.input('table', 'f32', [5, 3]);
  const ids = b.input('ids', 'i32', [b.sym('S')]);
  b.output('y', b.op('embedding', [table, ids]));
  return b.finish();
}

describe('wasm thread pool and step runner', () => {
  let module: CompiledModule;
  // `pool` sleeps at once in every barrier (the path V8's wait32 corrupted); `spinning` spins
  // first, as pools do by default.
  let pool: ThreadPool;
  let spinning: ThreadPool;
  let chain: GraphKernels, embed: GraphKernels, lopsided: GraphKernels, rope: GraphKernels;
  beforeAll(async () => {
    chain = emitGraphKernels(chainGraph());
    embed = emitGraphKernels(embedGraph());
    lopsided = emitGraphKernels(lopsidedGraph());
    rope = emitGraphKernels(ropeGraph());
    module = await compileModule(allKernels([chain, embed, lopsided, rope]));
    pool = await ThreadPool.create(module.module, new WasmMemory(), { threads: 2, spinMicros: 0 });
    spinning = await ThreadPool.create(module.module, new WasmMemory(), { threads: 2 });
  });
  afterAll(async () => { await pool?.dispose(); await spinning?.dispose(); });

  // First, while the module still runs as baseline code (the wait32 corruption showed there).
  it('keeps threads in step when they sleep in barriers', () => {
    const inputs: Record<string, HostTensor> = { x: randomF32([16, 150000], 3), w: randomF32([4, 150000], 4, 0.01) };
    for (let i = 0; i < 6; i++) {
      inputs[`a${i}`] = randomF32([150000, 4], 10 + i, 0.5);
      inputs[`b${i}`] = randomF32([4, 150000], 20 + i, 0.02);
    }
    const first = runGraph(pool, module, lopsided, { inputs, nthreads: 1 }).outputs.y;
    for (let rep = 0; rep < 3; rep++) {
      const got = runGraph(pool, module, lopsided, { inputs, nthreads: 2 }).outputs.y;
      expect(Array.from(got.data as Float32Array)).toEqual(Array.from(first.data as Float32Array));
    }
  });

  it('runs a chain of dependent kernels identically at 1 and 2 threads, many times', () => {
    const inputs: Record<string, HostTensor> = { x: randomF32([37, 37], 1), w: randomF32([37, 37], 2, 0.3) };
    const want = interpret(chain.graph, { inputs, params: () => { throw new Error('none'); } }).outputs.y;
    const launches = chain.nodeKernels.flat().length;
    expect(launches).toBeGreaterThan(40);
    const first = runGraph(pool, module, chain, { inputs, nthreads: 1 }).outputs.y;
    expect(closeF32(first.data as Float32Array, want.data as Float32Array, 1e-3)).toBeUndefined();
    for (const p of [pool, spinning]) {
      for (let rep = 0; rep < 30; rep++) {
        const got = runGraph(p, module, chain, { inputs, nthreads: 2 }).outputs.y;
        // Same work split per kernel is not guaranteed across thread counts, but each element's
        // arithmetic is: the results must be bit-identical.
        expect(Array.from(got.data as Float32Array)).toEqual(Array.from(first.data as Float32Array));
      }
    }
  });

  it('reports a kernel error (token id out of range) and stays usable', () => {
    const table = f32([5, 3], Array.from({ length: 15 }, (_, i) => i));
    expect(() => runGraph(pool, module, embed, { inputs: { table, ids: i32([3], [1, 7, 2]) } })).toThrow(KernelError);
    expect(() => runGraph(pool, module, embed, { inputs: { table, ids: i32([3], [1, 7, 2]) } })).toThrow(/out of range \(7\)/);
    const ok = runGraph(pool, module, embed, { inputs: { table, ids: i32([2], [4, 0]) } }).outputs.y;
    expect(Array.from(ok.data as Float32Array)).toEqual([12, 13, 14, 0, 1, 2]);
  });

  it('rejects bad thread counts and spin times', async () => {
    expect(() => pool.run(0, 3)).toThrow(/nthreads must be in 1..2/);
    await expect(ThreadPool.create(module.module, new WasmMemory(), { threads: 2, spinMicros: -1 })).rejects.toThrow(/spinMicros/);
  });

  it('started in the background, runs on the calling thread until every worker is up, then on all, with the same results', async () => {
    const p = await ThreadPool.create(module.module, new WasmMemory(), { threads: 3, background: true });
    try {
      const inputs: Record<string, HostTensor> = { x: randomF32([37, 37], 1), w: randomF32([37, 37], 2, 0.3) };
      const want = Array.from(runGraph(pool, module, chain, { inputs, nthreads: 1 }).outputs.y.data as Float32Array);
      const seen = new Set<number>();
      for (let rep = 0; rep < 2000 && !seen.has(3); rep++) {
        seen.add(p.runnable);
        expect(Array.from(runGraph(p, module, chain, { inputs, nthreads: 3 }).outputs.y.data as Float32Array)).toEqual(want);
        if (p.runnable < 3) await new Promise((r) => setTimeout(r, 5));
      }
      expect(p.runnable).toBe(3);
      expect([...seen].every((n) => n === 1 || n === 3)).toBe(true);
    } finally {
      await p.dispose();
    }
    expect(p.liveWorkers).toBe(0);
  });

  // A worker's instantiation rewrites the module's static data, rope's position slots included;
  // one landing inside a run would zero the cos/sin the kernel is reading (silent garbage: CI saw
  // a golden text diverge). Runs back to back while seven workers start must all be exact.
  it('started in the background, never lets a starting worker rewrite static data during a run', async () => {
    const inputs: Record<string, HostTensor> = { x: randomF32([1, 1024, 64], 5), pos: i32([1], [37]) };
    const want = runGraph(pool, module, rope, { inputs, nthreads: 1 }).outputs.y.data as Float32Array;
    const p = await ThreadPool.create(module.module, new WasmMemory(), { threads: 8, background: true });
    try {
      let alone = 0;
      const wrong: number[] = [];
      const until = performance.now() + 20_000;
      while (p.runnable < 8 && performance.now() < until) {
        alone++;
        const got = runGraph(p, module, rope, { inputs, nthreads: 8 }).outputs.y.data as Float32Array;
        if (got.some((v, i) => v !== want[i])) wrong.push(alone);
      }
      expect(alone, 'runs made while workers were starting').toBeGreaterThan(0);
      expect(wrong, `wrong runs of ${alone} made while workers started`).toEqual([]);
      expect(runGraph(p, module, rope, { inputs, nthreads: 8 }).outputs.y.data).toEqual(want);
    } finally {
      await p.dispose();
    }
  });

  it('started in the background, says when every worker is up', async () => {
    const p = await ThreadPool.create(module.module, new WasmMemory(), { threads: 3, background: true });
    try {
      await p.allThreads();
      expect(p.runnable).toBe(3);
    } finally {
      await p.dispose();
    }
  });

  it('disposed before its background workers are up, stops them', async () => {
    const p = await ThreadPool.create(module.module, new WasmMemory(), { threads: 3, background: true });
    await p.dispose();
    expect(p.liveWorkers).toBe(0);
  });

  it('shuts its workers down', async () => {
    const p = await ThreadPool.create(module.module, new WasmMemory(), { threads: 3 });
    expect(p.liveWorkers).toBe(2);
    const inputs = { table: f32([5, 3], Array.from({ length: 15 }, (_, i) => i)), ids: i32([4], [0, 1, 2, 3]) };
    runGraph(p, module, embed, { inputs, nthreads: 3 });
    await p.dispose();
    expect(p.liveWorkers).toBe(0);
    expect(() => p.run(0)).toThrow(/disposed/);
  });
});
