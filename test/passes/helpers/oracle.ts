// Running graphs before and after a pass on the reference interpreter, and comparing the results.
// Random graphs bind their parameters to random weight sources; `withLeafWeights` rebinds each to
// a checkpoint tensor of its own, so that the sources passes compose (concat, scale_cols, convert,
// fold_bias) evaluate to real data: leaves are filled deterministically from their names.
import { expect } from 'vitest';
import { type DimBindings, evalDim } from '../../../ir/dim.js';
import type { DType } from '../../../ir/dtype.js';
import { CONVERT_DTYPES, isQuantized } from '../../../ir/dtype.js';
import { randomTensor } from '../../../src/ops-check/draw.js';
import { cloneGraph, type Graph } from '../../../ir/graph.js';
import { formatWeight, printGraph } from '../../../ir/printer.js';
import { convertF32, type HostTensor, numel, tensor, toF32 } from '../../../ir/tensor.js';
import { tensorType, type TensorType } from '../../../ir/types.js';
import { evaluateWeight, weightCall, weightTensor } from '../../../ir/weights.js';
import { runPipeline } from '../../../passes/pass-manager.js';
import { interpret, type InterpretResult, type ParamResolver } from '../../../runtime/reference/interpreter.js';

function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Deterministic data: small integers for ids and masks, floats in [-2, 2) otherwise. */
export function fill(key: string, dtype: DType, shape: readonly number[]): HostTensor {
  let s = hash(key) || 7;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const n = numel(shape);
  if (dtype === 'i32') return tensor('i32', shape, Int32Array.from({ length: n }, () => Math.floor(next() * 4)));
  if (dtype === 'u32') return tensor('u32', shape, Uint32Array.from({ length: n }, () => Math.floor(next() * 4)));
  const f = tensor('f32', shape, Float32Array.from({ length: n }, () => next() * 4 - 2));
  if (dtype === 'f32') return f;
  // A type Tessera only reads (no quantizer) gets random valid blocks instead.
  return CONVERT_DTYPES.includes(dtype) ? convertF32(f, dtype) : randomTensor(dtype, shape, s);
}

/** A graph whose parameters each read a leaf `p:<name>` of the parameter's own type. */
export interface LeafGraph {
  readonly graph: Graph;
  readonly leaves: ReadonlyMap<string, TensorType>;
}

export function withLeafWeights(g: Graph): LeafGraph {
  const leaves = new Map<string, TensorType>();
  for (const p of g.params) {
    const name = `p:${p.name}`;
    leaves.set(name, p.type);
    p.def = { kind: 'param', source: weightTensor(name) };
  }
  return { graph: g, leaves };
}

export function leafResolver(leaves: ReadonlyMap<string, TensorType>): ParamResolver {
  const read = (name: string) => {
    const t = leaves.get(name);
    if (!t) throw new Error(`no leaf ${name}`);
    return fill(name, t.dtype, t.shape as number[]);
  };
  return (p) => {
    if (p.def.kind !== 'param') throw new Error(`%${p.name} is not a parameter`);
    return evaluateWeight(p.def.source, read);
  };
}

/** Makes every result that nothing reads an output, so that random graphs have little dead code. */
export function exposeSinks(g: Graph): Graph {
  const read = new Set(g.nodes.flatMap((n) => n.inputs));
  for (const o of g.outputs) read.add(o.value);
  let k = 0;
  for (const n of g.nodes) for (const v of n.outputs) if (!read.has(v)) g.outputs.push({ name: `sink.${k++}`, value: v });
  return g;
}

/** Every dim of every value is ≥ 0 for these symbol values (random dims like S-3 may not be). */
export function shapesValid(g: Graph, dims: DimBindings): boolean {
  const values = [...g.inputs, ...g.nodes.flatMap((n) => n.outputs)];
  try {
    return values.every((v) => v.type.shape.every((d) => evalDim(d, dims) >= 0));
  } catch {
    return false;
  }
}

/**
 * The interpreter's error for a slice whose symbolic bounds (say [S-3, S-2)) fall outside its
 * operand for the drawn symbol values: the one way a graph whose value shapes are all valid
 * (`shapesValid`) can still be unrunnable. Any other error from running a random graph is a bug.
 */
export function isSliceOutOfRange(e: unknown): boolean {
  return e instanceof Error && /^node \d+ \(%[^)]+ = slice\): slice: \[-?\d+, -?\d+\) is outside 0\.\.\d+ on axis \d+$/.test(e.message);
}

/** Runs g with inputs filled from (seed, input name). */
export function runWith(g: Graph, params: ParamResolver, dims: DimBindings, seed: number, given: Record<string, HostTensor> = {}): InterpretResult {
  const inputs: Record<string, HostTensor> = { ...given };
  for (const v of g.inputs) inputs[v.name] ??= fill(`${seed}:${v.name}`, v.type.dtype, v.type.shape.map((d) => evalDim(d, dims)));
  return interpret(g, { inputs, params, dims });
}

/**
 * Same dtype and shape, and every element within `rel` of the reference, relative to the largest
 * finite magnitude of the reference tensor (what "1e-4 relative" means for a tensor), or to 0.01
 * when every value is tinier (then only ill-conditioned ops like gelu far out in its tail can
 * tell rounding differences apart). A non-finite reference element needs a non-finite result.
 */
export function expectClose(want: HostTensor, got: HostTensor, what: string, rel = 1e-4): void {
  expect(got.dtype, what).toBe(want.dtype);
  expect(got.shape, what).toEqual(want.shape);
  const a = toF32(want), b = toF32(got);
  let scale = 0;
  for (const v of a) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
  const tol = rel * Math.max(scale, 1e-2);
  for (let i = 0; i < a.length; i++) {
    if (Object.is(a[i], b[i])) continue;
    if (!Number.isFinite(a[i])) {
      if (Number.isFinite(b[i])) expect.fail(`${what}[${i}]: ${a[i]} before, ${b[i]} after`);
      continue;
    }
    if (!(Math.abs(a[i] - b[i]) <= tol)) expect.fail(`${what}[${i}]: ${a[i]} before, ${b[i]} after (tolerance ${tol})`);
  }
}

export function expectSameResults(want: InterpretResult, got: InterpretResult, what: string, rel = 1e-4): void {
  expect(Object.keys(got.outputs).sort()).toEqual(Object.keys(want.outputs).sort());
  for (const k of Object.keys(want.outputs)) expectClose(want.outputs[k], got.outputs[k], `${what}: output ${k}`, rel);
  for (const k of Object.keys(want.updates)) expectClose(want.updates[k], got.updates[k], `${what}: update ${k}`, rel);
}

/** Runs `pipeline` on a copy (verifying after every pass) and again on the result: it must be a fixed point. */
export function applyTwice(g: Graph, pipeline: string, target?: string, fixpoint = true): { graph: Graph; stats: Record<string, number> } {
  const once = runPipeline(cloneGraph(g), pipeline, { target });
  if (fixpoint) {
    const twice = runPipeline(cloneGraph(once.graph), pipeline, { target });
    expect(printGraph(twice.graph), `${pipeline} is not idempotent on\n${printGraph(g)}`).toBe(printGraph(once.graph));
  }
  const stats: Record<string, number> = {};
  for (const r of once.records) for (const [k, v] of Object.entries(r.stats)) stats[k] = (stats[k] ?? 0) + v;
  return { graph: once.graph, stats };
}

/** `after` with every weight that a quantize pass converted decoded back to f32 (what the matmuls read). */
export function dequantized(before: Graph, after: Graph): Graph {
  const was = new Map(before.params.map((p) => [p.name, p.def.kind === 'param' ? formatWeight(p.def.source) : '']));
  const out = cloneGraph(after);
  for (const p of out.params) {
    if (p.def.kind !== 'param' || !isQuantized(p.type.dtype) || was.get(p.name) === formatWeight(p.def.source)) continue;
    p.def = { kind: 'param', source: weightCall('convert', [p.def.source], { dtype: 'f32' }) };
    p.type = tensorType('f32', p.type.shape);
  }
  return out;
}
