// How much linear memory a CPU model needs, worked out from its programs before anything is
// allocated. V8 reserves a shared memory's `maximum` up front (address space, not RAM), so a
// model asks for what its plan needs plus headroom instead of the 4 GiB wasm32 allows: repeated
// opens then fit under an address-space limit (`ulimit -v`), and a model too big for wasm32 is
// refused before its weights are read — and, through `assertFitsWasm32`, before its kernels are
// lowered or compiled, in well under a second.
//
// Beyond 4 GiB (issue 21, measured on Node 20 / V8 11.3): memory64 exists only behind
// --experimental-wasm-memory64 (a flag the embedding application must pass to node; with it V8
// does make memories over 4 GiB), and AssemblyScript 0.28 lists memory64 among the features that
// do nothing yet, so no kernel of ours could address past 4 GiB anyway (and this V8 checks
// memory64 bounds in code rather than with guard pages, a cost to every load; not measured
// here). Weights split across several memories would need multi-memory (flag-only in this V8,
// unsupported by asc) or a module instance per memory with activations copied between them at
// every layer. So a model over 4 GiB is refused, with the ways that work named: quantize it (q8_0
// takes 1.07 bytes a weight, so a 1.1B model needs ~1.2 GiB), use a shorter context, or run it on
// WebGPU. (The TinyLlama-1.1B shape in f32 with its embedding table tied needs 3.85 GiB of
// weights, held once since rmsnorm-matmul stopped folding a copy of the table, so it opens;
// untied it needs 4.1 GiB and is refused.)
import { ARG_SLOT_BYTES, HEAP_START, MAX_PAGES, PAGE_BYTES, PLAN_ENTRY_BYTES, PLAN_HEADER_BYTES } from '../../codegen/wasm/abi.js';
import type { WasmProgram } from '../../codegen/wasm/program.js';
import { type DimBindings, evalDim } from '../../ir/dim.js';
import { storageBytes } from '../../ir/dtype.js';
import type { Graph } from '../../ir/graph.js';
import { formatWeight } from '../../ir/printer.js';
import { formatBytes, scratchLayout, tooBigForWasm } from './memory.js';

/** Room left for what the estimate does not count (alignment, profile buffers), on top of 1/8. */
const HEADROOM_BYTES = 16 << 20;
// Every allocation may be padded to 64 bytes and gets 64 bytes of slack for vector tails.
const PER_ALLOC = 128;

/** The parts of a model's linear memory, in bytes. */
export interface MemoryBudget {
  readonly weights: number;
  readonly states: number;
  readonly arena: number;
  readonly scratch: number;
  /** Argument blocks, launch lists and graph inputs/outputs. */
  readonly perStep: number;
  /** All of the above and the module's reserved low region: what is committed at once. */
  readonly need: number;
  /** `need` and headroom, within wasm32's 4 GiB: the memory's maximum. */
  readonly total: number;
}

/** The budget's parts, for a message. */
export function describeBudget(b: MemoryBudget): string {
  const parts = { weights: b.weights, 'KV cache': b.states, activations: b.arena, scratch: b.scratch, 'per-step data': b.perStep };
  return Object.entries(parts).map(([k, v]) => `${k} ${formatBytes(v)}`).join(', ');
}

/** What `programs` (which share weights, states and one scratch region) need at most, run on `threads` threads. */
export function memoryBudget(programs: readonly WasmProgram[], threads: number): MemoryBudget {
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be a positive integer, got ${threads}`);
  const weights = new Map<string, number>();
  const states = new Map<string, number>();
  let arena = 0;
  let scratch = 0;
  let perStep = 0;
  for (const p of programs) {
    arena = Math.max(arena, p.plan.arenaBytes + PER_ALLOC);
    for (const s of p.plan.storages) {
      const bytes = s.maxBytes + PER_ALLOC;
      if (s.role === 'param') {
        const v = s.owner;
        if (v.def.kind === 'param') weights.set(formatWeight(v.def.source), storageBytes(v.type.dtype, v.type.shape as number[]) + PER_ALLOC);
      } else if (s.role === 'state') states.set(s.owner.name, bytes);
      else if (s.role !== 'activation' && s.role !== 'tail') perStep += bytes;
    }
    let launches = 0;
    for (const { kernels } of p.nodes) {
      scratch = Math.max(scratch, scratchLayout(kernels, p.bounds, threads).bytes + PER_ALLOC);
      for (const k of kernels) perStep += (k.bindings.length + k.dims.length) * ARG_SLOT_BYTES + 16;
      launches += kernels.length;
    }
    // The launch list, and a profile buffer of a timestamp per launch.
    perStep += PLAN_HEADER_BYTES + launches * PLAN_ENTRY_BYTES + (launches + 1) * 8 + 2 * PER_ALLOC;
  }
  const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  const need = HEAP_START + sum(weights) + sum(states) + arena + scratch + perStep;
  return { weights: sum(weights), states: sum(states), arena, scratch, perStep, need, total: Math.min(MAX_PAGES * PAGE_BYTES, Math.ceil(need * 1.125) + HEADROOM_BYTES) };
}

/** The part of a model's memory its graphs alone fix: distinct weights, and the KV cache at `bounds`. */
export interface MemoryFloor {
  readonly weights: number;
  readonly states: number;
}

/**
 * The least linear memory `graphs` (the step graphs of one model, sharing weights and states) can
 * run in at `bounds`: what no plan can avoid, read from the graphs' declared types before anything
 * is lowered, compiled or read from the file.
 */
export function memoryFloor(graphs: readonly Graph[], bounds: DimBindings): MemoryFloor {
  const weights = new Map<string, number>();
  const states = new Map<string, number>();
  for (const g of graphs) {
    for (const p of g.params) {
      if (p.def.kind !== 'param') continue;
      weights.set(formatWeight(p.def.source), storageBytes(p.type.dtype, p.type.shape.map((d) => evalDim(d, bounds))));
    }
    for (const s of g.stateInputs()) states.set(s.name, storageBytes(s.type.dtype, s.type.shape.map((d) => evalDim(d, bounds))));
  }
  const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  return { weights: sum(weights), states: sum(states) };
}

/**
 * Refuses, with a ResourceError naming the sizes and what to do, a model whose weights and KV cache
 * alone exceed wasm32's 4 GiB: called before lowering and compiling, so the refusal is immediate.
 */
export function assertFitsWasm32(graphs: readonly Graph[], bounds: DimBindings): void {
  const f = memoryFloor(graphs, bounds);
  const need = HEAP_START + f.weights + f.states;
  if (need > MAX_PAGES * PAGE_BYTES) throw tooBigForWasm(need, `weights ${formatBytes(f.weights)}, KV cache ${formatBytes(f.states)}`);
}
