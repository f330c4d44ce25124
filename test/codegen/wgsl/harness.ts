// Runs one node's WGSL kernels on a real device, on both code paths (static dims baked in, as a
// hardware GPU runs them, and read from the uniform, as a software one does), and compares with
// the reference interpreter.
// Each test file opens one device (openGpu at module level), registers the adapter check
// (fails under CI without a device, warns loudly elsewhere) and closes it in afterAll.
import { expect, it } from 'vitest';
import { type AttrValue, type Dim, type DType, GraphBuilder, type HostTensor, type Node, convertF32, f32, tensor } from '../../../ir/index.js';
import { interpret } from '../../../runtime/reference/interpreter.js';
import { destroyGpu, type GpuContext, probeGpu } from '../../../runtime/webgpu/device.js';
import { emitWgslKernel } from '../../../codegen/wgsl/emit.js';
import { isCI } from '../../helpers/shared.js';
import { runNodeOnGpu } from '../../../src/ops-check/webgpu.js';
import { codePathName, otherCodePath, type WgslTarget, wgslTargetFor } from '../../../codegen/wgsl/target.js';
import type { WgslLowering } from '../../../codegen/wgsl/types.js';
import { rng } from '../../../src/ops-check/draw.js';


export interface Gpu {
  readonly ctx?: GpuContext;
  readonly target?: WgslTarget;
  readonly reason?: string;
}

/** Opens the file's device (call once, at module level, with top-level await). */
export async function openGpu(): Promise<Gpu> {
  const p = await probeGpu();
  if (!p.ok) return { reason: p.reason };
  return { ctx: p.ctx, target: wgslTargetFor(p.ctx.features, p.ctx.limits, p.ctx.adapterInfo.isSoftware) };
}

/** The adapter check every GPU test file carries: an error under CI, a loud warning elsewhere. */
export function expectAdapter(gpu: Gpu): void {
  it('finds a WebGPU adapter (required under CI)', () => {
    if (gpu.ctx) return;
    if (isCI()) throw new Error(`no WebGPU device under CI: ${gpu.reason}`);
    console.warn(`\n${'!'.repeat(78)}\n[tessera tests] SKIPPING WGSL KERNEL TESTS: ${gpu.reason}\n${'!'.repeat(78)}\n`);
  });
}

export async function closeGpu(gpu: Gpu): Promise<void> {
  if (gpu.ctx) await destroyGpu(gpu.ctx);
}

// ---- building and evaluating one-node graphs ----

/** An operand: its data, and optionally a symbolic declared shape (e.g. [S, 64]). */
export interface Operand {
  readonly t: HostTensor;
  readonly shape?: readonly Dim[];
}

export interface OpCase {
  readonly op: string;
  readonly operands: readonly Operand[];
  readonly attrs?: Record<string, AttrValue>;
  /** Values of the symbols the declared shapes use (S, P, T, …). */
  readonly dims?: Readonly<Record<string, number>>;
}

export const SYMBOLS = ['B', 'S', 'P', 'T', 'N'] as const;

/** The node (in a verified one-node graph) and the reference results. */
export function referenceRun(c: OpCase): { node: Node; want: HostTensor[] } {
  const b = new GraphBuilder('k', [...SYMBOLS]);
  const ins = c.operands.map((o, i) => b.input(`x${i}`, o.t.dtype, o.shape ?? o.t.shape));
  const outs = b.ops(c.op, ins, c.attrs ?? {});
  outs.forEach((v, i) => b.output(`y${i}`, v));
  const g = b.finish();
  const res = interpret(g, {
    inputs: Object.fromEntries(c.operands.map((o, i) => [`x${i}`, o.t])),
    params: () => { throw new Error('one-node graphs have no params'); },
    dims: c.dims,
  });
  return { node: g.nodes[0], want: outs.map((_, i) => res.outputs[`y${i}`]) };
}

// ---- running kernels on the device ----

/** A node's kernels run over host operands, results read back (the op table's runner). */
export const runNode = runNodeOnGpu;

// ---- comparing ----

/**
 * The error metric for float results: max_i |got_i − want_i| / max(1, max_i |want_i|). Relative
 * to the tensor's scale where values are large, absolute (1 = unit scale) where they are small,
 * so results near zero are not held to a relative bound they cannot meet in f32. NaN anywhere
 * (e.g. an unwritten, poisoned element) gives Infinity.
 */
export function relError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let scale = 1, diff = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (!(d <= diff)) diff = Number.isNaN(d) ? Infinity : d;
  }
  return diff / scale;
}

/** Index and values of the first element that differs most (for failure messages). */
function worst(got: ArrayLike<number>, want: ArrayLike<number>): string {
  let at = 0, d = -1;
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i] - want[i]);
    if (Number.isNaN(e) || e > d) { at = i; d = Number.isNaN(e) ? Infinity : e; if (!Number.isFinite(d)) break; }
  }
  return `element ${at}: got ${got[at]}, want ${want[at]}`;
}

/** Float results within `tol` by relError; integer and 16-bit results bit-exact. */
export function expectMatches(got: HostTensor, want: HostTensor, tol = 1e-4, what = ''): void {
  expect(got.dtype, `${what} dtype`).toBe(want.dtype);
  expect(got.shape, `${what} shape`).toEqual(want.shape);
  const g = got.data as ArrayLike<number>, w = want.data as ArrayLike<number>;
  if (got.dtype === 'f32' && tol > 0) {
    const e = relError(g, w);
    if (!(e <= tol)) throw new Error(`${what} relative error ${e} > ${tol} (${worst(g, w)})`);
  } else {
    for (let i = 0; i < w.length; i++) {
      if (!Object.is(g[i], w[i]) && g[i] !== w[i]) throw new Error(`${what} element ${i}: got ${g[i]}, want ${w[i]} (exact comparison)`);
    }
  }
}

// ---- both code paths ----

/** Ops of this file already run on the other path. */
const crossChecked = new Set<string>();
/**
 * Larger cases wait for a smaller one: baked, every row range of a split weight is a shader of
 * its own (rolled, they share one), and long constant loops unroll; either takes seconds to
 * compile on lavapipe.
 */
const CROSS_CHECK = { kernels: 3, elements: 1024 };

export interface PathRun {
  readonly path: string;
  readonly lowering: WgslLowering;
  readonly got: HostTensor[];
}

/**
 * Lowers `node` for `target` and runs it; for the first small case (CROSS_CHECK) of each op in a
 * file, on the other path too. Not every case: on a software device the
 * baked path compiles a shader per static shape, and unrolling its constant loops takes seconds a
 * shader. A symbolic row count or query length lowers to every variant at once (GEMV and GEMM;
 * split-K and flash attention), so that first case runs them all.
 */
export async function runPaths(gpu: Gpu, node: Node, lower: (t: WgslTarget) => WgslLowering, inputs: readonly HostTensor[], dims: Readonly<Record<string, number>>, target = gpu.target!): Promise<PathRun[]> {
  const lowering = lower(target);
  const runs: PathRun[] = [{ path: codePathName(target), lowering, got: await runNode(gpu.ctx!, node, lowering, inputs, dims) }];
  const elements = inputs.reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
  if (!crossChecked.has(node.op) && lowering.kernels.length <= CROSS_CHECK.kernels && elements <= CROSS_CHECK.elements) {
    crossChecked.add(node.op);
    const other = otherCodePath(target);
    const l = lower(other);
    runs.push({ path: codePathName(other), lowering: l, got: await runNode(gpu.ctx!, node, l, inputs, dims) });
  }
  return runs;
}

/** Emits, runs and compares one op case on both code paths (runPaths); returns the device path's lowering. */
export async function checkOp(gpu: Gpu, c: OpCase, opts: { tol?: number; target?: WgslTarget; lower?: (node: Node, target: WgslTarget) => WgslLowering } = {}): Promise<WgslLowering> {
  const { node, want } = referenceRun(c);
  const lower = opts.lower ?? emitWgslKernel;
  const runs = await runPaths(gpu, node, (t) => lower(node, t), c.operands.map((o) => o.t), c.dims ?? {}, opts.target);
  for (const { path, got } of runs) got.forEach((t, i) => expectMatches(t, want[i], opts.tol, `${c.op} result ${i}, ${path}:`));
  return runs[0].lowering;
}

// ---- random data ----

/** A small deterministic PRNG (mulberry32) so fast-check's seed fixes the data. */
/** The op table's seeded generator: one for every kernel test. */
export { rng };

/** Values with magnitude in [lo, hi] and random sign: never zero, so nothing multiplies away. */
export function randomValues(n: number, seed: number, lo = 0.1, hi = 1): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => (r() < 0.5 ? -1 : 1) * (lo + (hi - lo) * r()));
}

/** A random tensor of a float or quantized dtype (values drawn in f32, then converted). */
export function randomTensor(dtype: DType, shape: readonly number[], seed: number, lo = 0.1, hi = 1): HostTensor {
  const t = f32(shape, randomValues(shape.reduce((a, b) => a * b, 1), seed, lo, hi));
  return dtype === 'f32' ? t : convertF32(t, dtype);
}

export function randomInts(shape: readonly number[], seed: number, lo: number, hi: number): HostTensor {
  const r = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return tensor('i32', shape, Int32Array.from({ length: n }, () => lo + Math.floor(r() * (hi - lo))));
}
