// Micro-benchmark of the CPU matmul kernels at the shapes of stories15M and stories110M, for f32,
// f16, q8_0 and q4_0 weights at 1 and 2 threads: the GEMV (S = 1, the decode step's cost), or with
// --rows N a prefill-sized product of N activation rows. Reports weight bytes read per second and
// GFLOP/s (2·rows·N·K per call), to compare with the ~12 GB/s one core
// reads from memory. Each case cycles through enough copies of its weights (≥ 64 MiB in all) that
// they come from memory, not from cache, as a model's weights do.
//
// Runs from the compiled tree (`node dist/runtime/wasm/bench-kernels.js [--seconds 0.5] [--rows 128]`), or
// through benchGemv() (e.g. for `tessera bench`).
import { pathToFileURL } from 'node:url';
import { allKernels, emitGraphKernels, type GraphKernels } from '../../codegen/wasm/emit.js';
import { compileModule } from '../../codegen/wasm/module.js';
import { type DType, storageBytes } from '../../ir/dtype.js';
import { GraphBuilder } from '../../ir/builder.js';
import { sym } from '../../ir/dim.js';
import '../../ir/ops/index.js';
import { convertF32, f32, type HostTensor } from '../../ir/tensor.js';
import { bindGraph } from './graph-runner.js';
import { WasmMemory } from './memory.js';
import { ThreadPool } from './threads.js';

export interface GemvShape {
  readonly label: string;
  /** In-features (the activation length). */
  readonly k: number;
  /** Out-features (weight rows). */
  readonly n: number;
}

export const GEMV_SHAPES: readonly GemvShape[] = [
  { label: 'stories15M wq', k: 288, n: 288 },
  { label: 'stories15M w1', k: 288, n: 768 },
  { label: 'stories15M w2', k: 768, n: 288 },
  { label: 'stories15M cls', k: 288, n: 32000 },
  { label: 'stories110M wq', k: 768, n: 768 },
  { label: 'stories110M w1', k: 768, n: 2048 },
  { label: 'stories110M w2', k: 2048, n: 768 },
  { label: 'stories110M cls', k: 768, n: 32000 },
];

export type Regime = 'cold' | 'warm';

export interface GemvResult {
  readonly shape: GemvShape;
  readonly dtype: DType;
  readonly threads: number;
  readonly regime: Regime;
  readonly usPerCall: number;
  /** Weight bytes per second, GB = 1e9. */
  readonly gbPerS: number;
  readonly gflopPerS: number;
}

export interface GemvBenchOptions {
  readonly shapes?: readonly GemvShape[];
  readonly dtypes?: readonly DType[];
  readonly threads?: readonly number[];
  readonly regimes?: readonly Regime[];
  /** Activation rows per call (default 1: a GEMV). */
  readonly rows?: number;
  /** Timed seconds per measurement, in 8 trials of which the best counts (after a warm-up of a quarter of that). */
  readonly seconds?: number;
  readonly log?: (line: string) => void;
}

const COLD_BYTES = 512 << 20;
const TRIALS = 8;

function gemvGraph(k: number, n: number, dtype: DType): GraphKernels {
  const b = new GraphBuilder(`gemv_${dtype}_${n}x${k}`, ['S']);
  const x = b.input('x', 'f32', [sym('S'), k]);
  const w = b.param('w', dtype, [n, k], 'w');
  b.output('y', b.op('matmul', [x, w]));
  return emitGraphKernels(b.finish());
}

function randomWeights(k: number, n: number, dtype: DType): HostTensor {
  const data = new Float32Array(n * k);
  let s = 0x9e3779b9;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = (s / 2 ** 32 - 0.5) * 0.1;
  }
  const t = f32([n, k], data);
  return dtype === 'f32' ? t : convertF32(t, dtype);
}

export async function benchGemv(opts: GemvBenchOptions = {}): Promise<GemvResult[]> {
  const shapes = opts.shapes ?? GEMV_SHAPES;
  const dtypes = opts.dtypes ?? ['f32', 'f16', 'q8_0', 'q4_0'];
  const threadCounts = opts.threads ?? [1, 2];
  const regimes = opts.regimes ?? ['cold', 'warm'];
  const seconds = opts.seconds ?? 0.5;
  const rows = opts.rows ?? 1;
  const log = opts.log ?? (() => undefined);

  const graphs = new Map<string, GraphKernels>();
  for (const s of shapes) for (const d of dtypes) graphs.set(`${s.label}/${d}`, gemvGraph(s.k, s.n, d));
  const module = await compileModule(allKernels([...graphs.values()]));
  log(`compiled ${module.kernels.length} kernels in ${module.compileMs.toFixed(0)} ms`);
  const pool = await ThreadPool.create(module.module, new WasmMemory(COLD_BYTES + (64 << 20)), { threads: Math.max(...threadCounts) });
  const results: GemvResult[] = [];
  try {
    for (const shape of shapes) {
      for (const dtype of dtypes) {
        const g = graphs.get(`${shape.label}/${dtype}`)!;
        const bytes = storageBytes(dtype, [shape.n, shape.k]);
        const copies = Math.max(1, Math.ceil(COLD_BYTES / bytes));
        const w = randomWeights(shape.k, shape.n, dtype);
        const x = f32([rows, shape.k], Array.from({ length: rows * shape.k }, (_, i) => Math.sin(i)));
        const mark = pool.memory.mark();
        try {
          const all = Array.from({ length: regimes.includes('cold') ? copies : 1 }, () => bindGraph(pool, module, g, { inputs: { x }, params: { w } }).plan);
          for (const regime of regimes) {
            const plans = regime === 'cold' ? all : all.slice(0, 1);
            for (const threads of threadCounts) {
              // Best of several short trials: the machine is shared, and a trial that lost a
              // core to another process says nothing about the kernel.
              const trial = (budgetMs: number): number => {
                const t0 = performance.now();
                let calls = 0;
                let ms = 0;
                do {
                  for (const plan of plans) pool.run(plan, threads);
                  calls += plans.length;
                  ms = performance.now() - t0;
                } while (ms < budgetMs);
                return ms / 1000 / calls;
              };
              trial(seconds * 250);
              let sec = Infinity;
              for (let t = 0; t < TRIALS; t++) sec = Math.min(sec, trial((seconds * 1000) / TRIALS));
              const r: GemvResult = { shape, dtype, threads, regime, usPerCall: sec * 1e6, gbPerS: bytes / sec / 1e9, gflopPerS: (2 * rows * shape.n * shape.k) / sec / 1e9 };
              results.push(r);
              log(`${shape.label.padEnd(16)} [${rows},${shape.k}]x[${shape.n},${shape.k}] ${dtype.padEnd(5)} ${regime} ${threads}T ${r.usPerCall.toFixed(1).padStart(8)} µs ${r.gbPerS.toFixed(2).padStart(6)} GB/s ${r.gflopPerS.toFixed(2).padStart(6)} GFLOP/s`);
            }
          }
        } finally {
          pool.memory.release(mark);
        }
      }
    }
  } finally {
    await pool.dispose();
  }
  return results;
}

async function main(argv: readonly string[]): Promise<void> {
  const arg = (name: string) => {
    const at = argv.indexOf(name);
    return at >= 0 ? argv[at + 1] : undefined;
  };
  const seconds = Number(arg('--seconds') ?? 0.5);
  const dtypes = arg('--dtypes')?.split(',') as DType[] | undefined;
  const regimes = arg('--regimes')?.split(',') as Regime[] | undefined;
  const shapes = arg('--shapes') ? GEMV_SHAPES.filter((s) => s.label.includes(arg('--shapes')!)) : undefined;
  const rows = Number(arg('--rows') ?? 1);
  if (!Number.isInteger(rows) || rows < 1) throw new RangeError(`--rows must be a positive integer, got ${arg('--rows')}`);
  await benchGemv({ seconds, dtypes, regimes, shapes, rows, log: (line) => console.log(line) });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  });
}
