// The llama.cpp test-backend-ops idea for the CPU target: every case is a one-node graph built with
// GraphBuilder over drawn shapes and inputs; the reference interpreter evaluates it; the wasm
// kernels run it at 1 and at 2 threads; the results must agree.
//
// asc dominates the cost (seconds per module), so a test file draws all of its cases first,
// compiles ONE module holding every case's kernels, then runs them all against one thread pool.
//
// Comparison metric for f32 results (`closeF32`): element i passes when
//     |got_i − want_i| ≤ rtol · max(|want_i|, mean_j |want_j|)
// i.e. relative error rtol (1e-4 by default), except that elements far smaller than the tensor's
// typical magnitude are measured against that magnitude, since their relative error is dominated
// by cancellation in sums (matmul, norms), not by the kernel. NaN never passes, so results are
// poisoned with NaN before each run to catch elements a kernel forgot to write.
import type { WasmFeature } from '../../../codegen/wasm/features.js';
import fc from 'fast-check';
import { expect } from 'vitest';
import { allKernels, emitGraphKernels, type GraphKernels } from '../../../codegen/wasm/emit.js';
import { compileModule, type CompiledModule } from '../../../codegen/wasm/module.js';
import type { Graph } from '../../../ir/graph.js';
import { type AttrValue, type Dim, GraphBuilder, type HostTensor, sym, tensor, toF32 } from '../../../ir/index.js';
import { interpret } from '../../../runtime/reference/interpreter.js';
import { runGraph } from '../../../runtime/wasm/graph-runner.js';
import { WasmMemory } from '../../../runtime/wasm/memory.js';
import { ThreadPool } from '../../../runtime/wasm/threads.js';
import { rng } from '../../../src/ops-check/draw.js';

export const SYMBOLS = ['B', 'S', 'P', 'T', 'N'] as const;
export const S = sym('S'), P = sym('P'), T = sym('T'), B = sym('B'), N = sym('N');

/** One operand: its value, and optionally the (symbolic) shape the graph declares for it. */
export interface Operand {
  readonly t: HostTensor;
  readonly shape?: readonly Dim[];
}

/** Custom comparison of one result; returns a message when it fails. */
export type Check = (got: HostTensor, want: HostTensor, operands: readonly HostTensor[]) => string | undefined;

export interface OpCase {
  /** Printed when the case fails: op, shapes, attributes. */
  readonly label: string;
  readonly op: string;
  readonly operands: readonly Operand[];
  readonly attrs: Record<string, AttrValue>;
  readonly dims?: Readonly<Record<string, number>>;
  readonly check?: Check;
  /** rtol for closeF32 (default 1e-4). */
  readonly rtol?: number;
}

interface Built {
  readonly c: OpCase;
  readonly prepared: GraphKernels;
  readonly graph: Graph;
}

function build(c: OpCase): Built {
  const b = new GraphBuilder('t', [...SYMBOLS]);
  const ins = c.operands.map((o, i) => b.input(`x${i}`, o.t.dtype, o.shape ?? o.t.shape));
  b.ops(c.op, ins, c.attrs).forEach((v, i) => b.output(`y${i}`, v));
  const graph = b.finish();
  return { c, graph, prepared: emitGraphKernels(graph) };
}

export interface Suite {
  readonly module: CompiledModule;
  readonly pool: ThreadPool;
  readonly built: readonly Built[];
}

/**
 * Builds every case, compiles one module for all of them, starts a 2-thread pool. The module uses
 * the engine's optional features (relaxed SIMD's fused multiply-add where available) unless
 * `features` says otherwise.
 */
export async function setupSuite(cases: readonly OpCase[], features?: readonly WasmFeature[]): Promise<Suite> {
  const built = cases.map((c) => {
    try {
      return build(c);
    } catch (e) {
      throw new Error(`${c.label}: ${(e as Error).message}`);
    }
  });
  const module = await compileModule(allKernels(built.map((x) => x.prepared)), features ? { features } : {});
  const pool = await ThreadPool.create(module.module, new WasmMemory(64 << 20), { threads: 2 });
  return { module, pool, built };
}

/**
 * Runs every case at 1 thread twice, then at 2 threads, and expects every result to match the
 * reference: a kernel's state across launches (the work counters of projections) must start
 * afresh each time, whatever the thread count.
 */
export function checkAll(suite: Suite): void {
  const failures: string[] = [];
  for (const { c, prepared, graph } of suite.built) {
    const inputs = Object.fromEntries(c.operands.map((o, i) => [`x${i}`, o.t]));
    const want = interpret(graph, { inputs, params: () => { throw new Error('no params'); }, dims: c.dims }).outputs;
    for (const nthreads of [1, 1, 2]) {
      let got: Record<string, HostTensor>;
      try {
        got = runGraph(suite.pool, suite.module, prepared, { inputs, dims: c.dims, nthreads }).outputs;
      } catch (e) {
        failures.push(`${c.label} @${nthreads}t: ${(e as Error).message}`);
        continue;
      }
      for (const name of Object.keys(want)) {
        const msg = compare(got[name], want[name], c, c.operands.map((o) => o.t));
        if (msg) failures.push(`${c.label} @${nthreads}t ${name}: ${msg}`);
      }
    }
  }
  expect(failures.slice(0, 8).join('\n'), `${failures.length} of ${suite.built.length * 3} runs failed`).toBe('');
}

function compare(got: HostTensor, want: HostTensor, c: OpCase, operands: readonly HostTensor[]): string | undefined {
  if (got.dtype !== want.dtype || got.shape.join() !== want.shape.join()) {
    return `got ${got.dtype}[${got.shape}] want ${want.dtype}[${want.shape}]`;
  }
  if (c.check) return c.check(got, want, operands);
  if (want.dtype === 'f32') return closeF32(got.data as Float32Array, want.data as Float32Array, c.rtol ?? 1e-4);
  const g = got.data as ArrayLike<number>, w = want.data as ArrayLike<number>;
  for (let i = 0; i < w.length; i++) if (g[i] !== w[i]) return `element ${i}: got ${g[i]}, want ${w[i]}`;
  return undefined;
}

/**
 * Per product element [r, j] of x[rows, k] · w[n, k]ᵀ with Q8_0/Q4_0 weights: how far the CPU's
 * integer-dot result may be from the reference (dequantize, multiply in f64). The kernel rounds each
 * 32-block of an activation row to 8 bits with scale d = max|x|/127, so |x_i − x̂_i| ≤ d/2 (f32
 * rounding of x·(127/max) may push a value that sits on .5 one step further: we allow d·0.501).
 * Everything else is exact (integer dots) or an f32 rounding (scales d_w·d_x, per-block
 * accumulation: relative ≤ (blocks + 2)·2⁻²³ of Σ|x·w|). So the bound is
 *     Σ_blocks d_x/2·1.002 · Σ_{i in block} |w_i|  +  (blocks + 4)·1.2e-7 · Σ_i |x_i·w_i|.
 * `xs` are the activations the kernel quantizes (normalised first when the op normalises).
 */
export function quantizedProductBounds(xs: Float32Array, w: HostTensor): Float64Array {
  const [n, k] = w.shape;
  const ws = toF32(w);
  const rows = xs.length / k, blocks = Math.ceil(k / 32);
  const out = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) {
    const dx: number[] = [];
    for (let b = 0; b < blocks; b++) {
      let m = 0;
      for (let i = b * 32; i < Math.min(k, b * 32 + 32); i++) m = Math.max(m, Math.abs(xs[r * k + i]));
      dx.push(m / 127);
    }
    for (let j = 0; j < n; j++) {
      let bound = 0, mag = 0;
      for (let i = 0; i < k; i++) {
        bound += (dx[i >> 5] / 2) * 1.002 * Math.abs(ws[j * k + i]);
        mag += Math.abs(xs[r * k + i] * ws[j * k + i]);
      }
      out[r * n + j] = bound + (blocks + 4) * 1.2e-7 * mag + 1e-30;
    }
  }
  return out;
}

/** The metric described at the top of this file; returns a message for the worst element. */
export function closeF32(got: Float32Array, want: Float32Array, rtol = 1e-4): string | undefined {
  let mean = 0;
  for (const v of want) mean += Math.abs(v);
  mean /= Math.max(want.length, 1);
  for (let i = 0; i < want.length; i++) {
    const tol = rtol * Math.max(Math.abs(want[i]), mean);
    if (!(Math.abs(got[i] - want[i]) <= tol)) return `element ${i}: got ${got[i]}, want ${want[i]} (|Δ| ${Math.abs(got[i] - want[i]).toExponential(2)} > ${tol.toExponential(2)})`;
  }
  return undefined;
}

// ---- drawing inputs ----------------------------------------------------------------------------

/** A small deterministic PRNG for tensor contents (fast-check draws the shapes and the seed). */
/** The op table's seeded generator: one for every kernel test. */
export { rng };

/** Uniform values in ±scale, never exactly zero (a zero hides sign and scale bugs). */
export function randomF32(shape: readonly number[], seed: number, scale = 1): HostTensor {
  const r = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = r() * 2 - 1;
    data[i] = (u === 0 ? 0.5 : u) * scale;
  }
  return tensor('f32', shape, data);
}

export function randomI32(shape: readonly number[], seed: number, lo: number, hi: number): HostTensor {
  const r = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return tensor('i32', shape, Int32Array.from({ length: n }, () => lo + Math.floor(r() * (hi - lo))));
}

/** Draws `n` values of `arb` reproducibly (cases are drawn up front so one module serves them all). */
export function draw<T>(arb: fc.Arbitrary<T>, n: number, seed: number): T[] {
  return fc.sample(arb, { numRuns: n, seed });
}

/** fast-check's fc re-exported so test files import one harness. */
export { fc };
