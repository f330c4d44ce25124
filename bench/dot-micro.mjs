#!/usr/bin/env node
// Micro-benchmark of the quantized GEMV's dot kernel alone (one activation row, 1 thread): a
// matmul graph of one weight type compiled into its own module, timed over a weight matrix that
// fits in L2 ("warm": the same copy every call) and over copies of a large one that come from
// memory ("cold": ≥ 256 MiB cycled). Prints GB/s of weights read and ns per 32 weights (a Q4_0
// block's worth; a K-quant super-block is 8 of them), best of several trials (a shared machine).
//
// --asm prints the inner loops of the kernel as V8 compiled them (TurboFan x64, from a child
// `node --print-wasm-code`): instructions per loop trip, so a change can be counted exactly even on
// a loaded machine. --dist DIR (repeatable) times other builds of Tessera too, interleaved with
// this one (`npx tsc -p tsconfig.json --outDir ab-old-dist` at the old commit; delete it after).
//
//   npx tsc -p tsconfig.json
//   node bench/dot-micro.mjs [--dtypes q4_0,q8_0,q4_k,q6_k] [--k 2048] [--seconds 1] [--asm] [--dist DIR]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const at = argv.indexOf(name);
  return at >= 0 ? argv[at + 1] : dflt;
};
const all = (name) => argv.flatMap((a, i) => (a === name ? [argv[i + 1]] : []));
const dtypes = opt('--dtypes', 'q4_0,q8_0,q4_k,q6_k').split(',');
const K = Number(opt('--k', 2048));
const seconds = Number(opt('--seconds', 1));
const here = resolve(new URL('..', import.meta.url).pathname, 'dist');
const builds = [here, ...all('--dist').map((d) => resolve(d))];

/** Warm: ~128 KiB of q4_0 weights (L2 holds them); cold: copies of a 2048-row matrix cycled past 256 MiB. */
const WARM_ROWS = 128, COLD_ROWS = 2048, COLD_BYTES = 256 << 20, TRIALS = 8;

async function load(dist) {
  const imp = (p) => import(pathToFileURL(join(dist, p)).href);
  const [emit, mod, builder, dim, tensor, dtype, runner, memory, threads, draw] = await Promise.all([
    imp('codegen/wasm/emit.js'), imp('codegen/wasm/module.js'), imp('ir/builder.js'), imp('ir/dim.js'),
    imp('ir/tensor.js'), imp('ir/dtype.js'), imp('runtime/wasm/graph-runner.js'), imp('runtime/wasm/memory.js'),
    imp('runtime/wasm/threads.js'), imp('src/ops-check/draw.js'), imp('ir/ops/index.js'),
  ]);
  return { emit, mod, builder, dim, tensor, dtype, runner, memory, threads, draw };
}

function graphOf(L, dtype, n) {
  const b = new L.builder.GraphBuilder(`gemv_${dtype}_${n}x${K}`, ['S']);
  const x = b.input('x', 'f32', [L.dim.sym('S'), K]);
  const w = b.param('w', dtype, [n, K], 'w');
  b.output('y', b.op('matmul', [x, w]));
  return L.emit.emitGraphKernels(b.finish());
}

/** Random valid blocks of `dtype` (every type, including those Tessera cannot encode). */
const weights = (L, dtype, n) => L.draw.randomTensor(dtype, [n, K], 7, 0.5);

/** One build's timed cases: per dtype a warm and a cold plan on a 1-thread pool. */
async function prepare(dist) {
  const L = await load(dist);
  const graphs = dtypes.flatMap((d) => [[d, 'warm', WARM_ROWS], [d, 'cold', COLD_ROWS]].map(([dtype, regime, n]) => ({ dtype, regime, n, g: graphOf(L, dtype, n) })));
  const module = await L.mod.compileModule(L.emit.allKernels(graphs.map((c) => c.g)));
  const pool = await L.threads.ThreadPool.create(module.module, new L.memory.WasmMemory(COLD_BYTES + (64 << 20)), { threads: 1 });
  const x = L.tensor.f32([1, K], Array.from({ length: K }, (_, i) => Math.sin(i)));
  const cases = graphs.map((c) => {
    const bytes = L.dtype.storageBytes(c.dtype, [c.n, K]);
    const copies = c.regime === 'cold' ? Math.ceil(COLD_BYTES / bytes) : 1;
    const w = weights(L, c.dtype, c.n);
    const plans = Array.from({ length: copies }, () => L.runner.bindGraph(pool, module, c.g, { inputs: { x }, params: { w } }).plan);
    return { ...c, bytes, plans };
  });
  return { dist, module, pool, cases };
}

/** Seconds per call: the best of TRIALS trials of seconds/TRIALS each. */
function time(pool, plans) {
  const trial = (ms) => {
    const t0 = performance.now();
    let calls = 0, el = 0;
    do {
      for (const p of plans) pool.run(p, 1);
      calls += plans.length;
      el = performance.now() - t0;
    } while (el < ms);
    return el / 1000 / calls;
  };
  trial((seconds * 250) / TRIALS);
  let best = Infinity;
  for (let t = 0; t < TRIALS; t++) best = Math.min(best, trial((seconds * 1000) / TRIALS));
  return best;
}

/**
 * The matmul kernels' loops as V8 compiled them: a child node prints the module's TurboFan code;
 * every backward branch closes a loop, whose instructions (target to branch) are counted.
 */
function asmLoops(binary, kernels) {
  const dir = mkdtempSync(join(tmpdir(), 'dot-micro-'));
  try {
    const file = join(dir, 'm.wasm');
    writeFileSync(file, binary);
    const child = `new WebAssembly.Module(require('fs').readFileSync(${JSON.stringify(file)}))`;
    const r = spawnSync(process.execPath, ['--experimental-wasm-relaxed-simd', '--no-liftoff', '--no-wasm-lazy-compilation', '--print-wasm-code', '-e', child], { encoding: 'utf8', maxBuffer: 1 << 30 });
    if (r.status !== 0) throw new Error(`node --print-wasm-code failed: ${r.stderr}`);
    const names = exportedFunctions(binary);
    const out = [];
    for (const fn of r.stdout.split('--- WebAssembly code ---').slice(1)) {
      const index = Number(/index: (\d+)/.exec(fn)?.[1]);
      const name = names.get(index);
      if (!name || !kernels.some((k) => name === k)) continue;
      const ins = [...fn.matchAll(/^0x([0-9a-f]+)\s+[0-9a-f]+\s+[0-9a-f]+\s+(.*)$/gm)].map((m) => ({ at: parseInt(m[1], 16), text: m[2].trim() }));
      const loops = [];
      ins.forEach((x, i) => {
        const m = /^j\w+\s+.*?(0x[0-9a-f]+)/.exec(x.text);
        const to = m && parseInt(m[1], 16);
        if (to && to <= x.at) loops.push({ from: ins.findIndex((y) => y.at === to), to: i });
      });
      const inner = loops.filter((l) => !loops.some((o) => o !== l && o.from >= l.from && o.to <= l.to));
      out.push({ name, loops: inner.map((l) => ins.slice(l.from, l.to + 1).map((x) => x.text)) });
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Function index → export name, from the binary's export section (imports counted first). */
function exportedFunctions(bin) {
  let p = 8;
  const u32 = () => {
    let v = 0, shift = 0, b;
    do { b = bin[p++]; v |= (b & 0x7f) << shift; shift += 7; } while (b & 0x80);
    return v >>> 0;
  };
  const names = new Map();
  while (p < bin.length) {
    const id = bin[p++], size = u32(), end = p + size;
    if (id === 7) {
      for (let n = u32(); n > 0; n--) {
        const len = u32();
        const name = new TextDecoder().decode(bin.subarray(p, p + len));
        p += len;
        const kind = bin[p++], index = u32();
        if (kind === 0) names.set(index, name);
      }
    }
    p = end;
  }
  return names;
}

const prepared = [];
for (const dist of builds) prepared.push(await prepare(dist));
const perBlock = (c, sec) => (sec * 1e9) / ((c.n * K) / 32);
try {
  console.log(`1 thread, K = ${K}; warm: ${WARM_ROWS} rows (one copy, from L2), cold: ${COLD_ROWS} rows cycled over ≥ ${COLD_BYTES >> 20} MiB; best of ${TRIALS}`);
  for (let i = 0; i < prepared[0].cases.length; i++) {
    // Builds interleaved per case, so the machine's drift lands on each alike.
    for (const b of prepared) {
      const c = b.cases[i];
      const sec = time(b.pool, c.plans);
      const tag = prepared.length > 1 ? ` ${b.dist === here ? 'this' : b.dist}` : '';
      console.log(`${c.dtype.padEnd(6)} ${c.regime} [1,${K}]x[${c.n},${K}] ${(sec * 1e6).toFixed(1).padStart(8)} µs ${(c.bytes / sec / 1e9).toFixed(2).padStart(6)} GB/s ${perBlock(c, sec).toFixed(2).padStart(6)} ns/32 weights${tag}`);
    }
  }
  if (argv.includes('--asm')) {
    for (const b of prepared) {
      const kernels = b.module.kernels.map((k) => k.name).filter((k) => k.startsWith('matmul'));
      for (const { name, loops } of asmLoops(b.module.binary, kernels)) {
        console.log(`\n${name}${prepared.length > 1 ? ` (${b.dist})` : ''}: innermost loops, instructions per trip`);
        for (const l of loops) {
          const count = (re) => l.filter((t) => re.test(t)).length;
          console.log(`  ${String(l.length).padStart(4)} instructions: ${count(/^v/)} vector, ${count(/^vpmaddubsw/)} byte dots, ${count(/\[rbp[+-]/)} stack (spills)`);
          if (argv.includes('--asm-full')) console.log(l.map((t) => `      ${t}`).join('\n'));
        }
      }
    }
  }
} finally {
  for (const b of prepared) await b.pool.dispose();
}
