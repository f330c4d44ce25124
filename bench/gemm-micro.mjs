#!/usr/bin/env node
// The float projection kernel alone: GFLOP/s of one `matmul` node (x[M, K] · w[N, K]ᵀ, f32
// activations, float weights) on the CPU target, against the 128-bit FMA peak measured in the same
// process (a kernel of 12 independent relaxed multiply-add chains per thread). Every build given
// with --dist is compiled and bound once; rounds then alternate over builds × shapes × threads so
// the machine's drift lands on all alike. Each round runs a kernel for about --ms milliseconds of
// wall time; a figure is the best round. Two measures: wall time, and the process's CPU time (idle
// workers sleep at once, spinMicros 0, so it is the threads' working time): GFLOP per CPU-second
// is what one core achieves, which time the host takes the core away does not disturb, so on a
// loaded machine it is the figure to compare against the peak.
//
//   npx tsc -p tsconfig.json                      # or --outDir some-dir for a second build
//   node bench/gemm-micro.mjs [--dist dist,other-dist] [--shapes 128x768x768,128x2048x768]
//        [--dtype f32] [--parts 1] [--threads 1,2] [--rounds 7] [--ms 150]
//
// Shapes are MxNxK: M activation rows (a prompt chunk), N weight rows, K in-features. With --parts
// P > 1 the node is a matmul_ep whose epilogue combines P parts of N / P columns each (2: the
// gated FFN's silu(acc0) * acc1), as the fusion passes build them.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
const root = resolve(new URL('..', import.meta.url).pathname);
const dists = (args.dist ?? 'dist').split(',').map((d) => resolve(root, d));
const shapes = (args.shapes ?? '128x768x768,128x2048x768').split(',').map((s) => s.split('x').map(Number));
const dtype = args.dtype ?? 'f32';
const parts = Number(args.parts ?? 1);
const EPILOGUE = { 2: 'silu(acc0) * acc1', 3: 'acc0 + acc1 * acc2', 4: 'acc0 * acc1 + acc2 - acc3' };
if (parts !== 1 && !EPILOGUE[parts]) throw new Error(`--parts is 1…4, got ${args.parts}`);
for (const [, N] of shapes) if (N % parts) throw new Error(`--parts ${parts} does not divide N = ${N}`);
const threadCounts = (args.threads ?? '1,2').split(',').map(Number);
const rounds = Number(args.rounds ?? 7);
const roundMs = Number(args.ms ?? 150);
for (const s of shapes) if (s.length !== 3 || s.some((v) => !(v > 0))) throw new Error(`--shapes: expected MxNxK, got ${s.join('x')}`);

const PEAK_CHAINS = 12, PEAK_STEPS = 1 << 20;

/** A kernel of independent multiply-add chains: PEAK_CHAINS · PEAK_STEPS · 8 flops per thread. */
function peakKernel(KernelWriter) {
  const w = new KernelWriter('fma_peak');
  const out = w.ptr({ kind: 'scratch', slot: 0, bytes: 16 * 64, perThread: false }, 'out');
  const C = [...Array(PEAK_CHAINS).keys()];
  w.line(`let ${C.map((c) => `a${c} = f32x4.splat(<f32>${c + 1})`).join(', ')};`,
    'const m = f32x4.splat(<f32>0.999999), b = f32x4.splat(<f32>0.000001);',
    `for (let i = 0; i < ${PEAK_STEPS}; i++) {`, ...C.map((c) => `a${c} = _t_madd(a${c}, m, b);`), '}',
    `v128.store(${out} + (<usize>tid) * 16, ${C.map((c) => `a${c}`).reduce((s, a) => `f32x4.add(${s}, ${a})`)});`);
  return w.finish();
}

async function load(dist) {
  const imp = (p) => import(pathToFileURL(resolve(dist, p)).href);
  const [{ GraphBuilder, convertF32, tensor }, { emitGraphKernels, allKernels }, { compileModule }, { KernelWriter }, { bindGraph }, { kernelArgs, writePlan }, { WasmMemory }, { ThreadPool }] = await Promise.all([
    imp('ir/index.js'), imp('codegen/wasm/emit.js'), imp('codegen/wasm/module.js'), imp('codegen/wasm/kernel.js'),
    imp('runtime/wasm/graph-runner.js'), imp('runtime/wasm/plan.js'), imp('runtime/wasm/memory.js'), imp('runtime/wasm/threads.js'),
  ]);
  const graphs = shapes.map(([M, N, K]) => {
    const b = new GraphBuilder('gemm', []);
    const x = b.input('x', 'f32', [M, K]), wt = b.input('w', dtype, [N, K]);
    const y = parts === 1 ? b.ops('matmul', [x, wt], {}) : b.ops('matmul_ep', [x, wt], { bias: false, parts, epilogue: EPILOGUE[parts] });
    b.output('y', y[0]);
    return emitGraphKernels(b.finish());
  });
  const peak = peakKernel(KernelWriter);
  const module = await compileModule([...allKernels(graphs), peak]);
  const bytes = shapes.reduce((s, [M, N, K]) => s + 4 * (M * K + N * K + M * N) + (16 << 20), 64 << 20);
  const pool = await ThreadPool.create(module.module, new WasmMemory(bytes), { threads: Math.max(...threadCounts), spinMicros: 0 });
  let seed = 1;
  const rand = (n) => Float32Array.from({ length: n }, () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32 - 0.5));
  const bound = shapes.map(([M, N, K], i) => bindGraph(pool, module, graphs[i], {
    inputs: { x: tensor('f32', [M, K], rand(M * K)), w: convertF32(tensor('f32', [N, K], rand(N * K)), dtype) },
  }).plan);
  const scratch = pool.memory.alloc(16 * 64, 64, 'peak scratch');
  const peakPlan = writePlan(pool.memory, [{ kernel: module.indexOf(peak.name), args: kernelArgs(peak, [scratch], {}) }]);
  return { dist, pool, bound, peakPlan };
}

/** Wall and CPU milliseconds per run. */
function timed(pool, plan, nthreads) {
  pool.run(plan, nthreads); // warm
  let runs = 0;
  const c0 = process.cpuUsage(), t0 = performance.now();
  let t = t0;
  while (t - t0 < roundMs) { pool.run(plan, nthreads); runs++; t = performance.now(); }
  const c = process.cpuUsage(c0);
  return { wall: (t - t0) / runs, cpu: (c.user + c.system) / 1000 / runs };
}

const builds = [];
for (const d of dists) builds.push(await load(d));
const best = new Map();
const keep = (key, { wall, cpu }) => {
  const b = best.get(key) ?? { wall: Infinity, cpu: Infinity };
  best.set(key, { wall: Math.min(b.wall, wall), cpu: Math.min(b.cpu, cpu) });
};
for (let r = 0; r < rounds; r++) {
  for (const b of r % 2 ? [...builds].reverse() : builds) {
    for (const t of threadCounts) {
      keep(`peak ${t}`, timed(b.pool, b.peakPlan, t));
      shapes.forEach((_, i) => keep(`${b.dist} ${i} ${t}`, timed(b.pool, b.bound[i], t)));
    }
  }
}

const gflops = (flops, ms) => flops / ms / 1e6;
const peak = (t) => best.get(`peak ${t}`);
const peakWall = (t) => gflops(t * PEAK_CHAINS * PEAK_STEPS * 8, peak(t).wall);
/** Per core: flops over CPU time. */
const peakCore = (t) => gflops(t * PEAK_CHAINS * PEAK_STEPS * 8, peak(t).cpu);
console.log(`dtype ${dtype}, parts ${parts}; best of ${rounds} rounds × ${roundMs} ms; 128-bit FMA peak (${PEAK_CHAINS} chains), GFLOP/s wall · per core: ${threadCounts.map((t) => `${t}t ${peakWall(t).toFixed(1)} · ${peakCore(t).toFixed(1)}`).join(', ')}`);
console.log('| build | M×N×K | threads | wall ms | GFLOP/s wall | of peak | GFLOP/s per core (CPU time) | of peak |\n|---|---|---:|---:|---:|---:|---:|---:|');
for (const b of builds) {
  shapes.forEach(([M, N, K], i) => {
    for (const t of threadCounts) {
      const { wall, cpu } = best.get(`${b.dist} ${i} ${t}`), flops = 2 * M * N * K;
      const w = gflops(flops, wall), c = gflops(flops, cpu);
      const pct = (x, p) => `${((100 * x) / p).toFixed(0)} %`;
      console.log(`| ${b.dist.slice(root.length + 1)} | ${M}×${N}×${K} | ${t} | ${wall.toFixed(3)} | ${w.toFixed(1)} | ${pct(w, peakWall(t))} | ${c.toFixed(1)} | ${pct(c, peakCore(1))} |`);
    }
  });
}
for (const b of builds) await b.pool.dispose();
