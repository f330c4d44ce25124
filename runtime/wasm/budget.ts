// How much linear memory a CPU model needs, worked out from its programs before anything is
// allocated. V8 reserves a shared memory's `maximum` up front (address space, not RAM), so a
// model asks for what its plan needs plus headroom instead of the 4 GiB wasm32 allows: repeated
// opens then fit under an address-space limit (`ulimit -v`), and a model too big for wasm32 is
// refused before its weights are read.
import { ARG_SLOT_BYTES, HEAP_START, MAX_PAGES, PAGE_BYTES, PLAN_ENTRY_BYTES, PLAN_HEADER_BYTES } from '../../codegen/wasm/abi.js';
import type { WasmProgram } from '../../codegen/wasm/program.js';
import { storageBytes } from '../../ir/dtype.js';
import { formatWeight } from '../../ir/printer.js';
import { formatBytes, scratchLayout } from './memory.js';

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
