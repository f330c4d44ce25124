// Launch lists in linear memory: argument blocks (addresses, then run-time dims) and the plan that
// step() walks. Layouts are defined in codegen/wasm/abi.ts.
import { ARG_SLOT_BYTES, PLAN_ENTRY_BYTES, PLAN_HEADER_BYTES, PLAN_NO_BARRIER } from '../../codegen/wasm/abi.js';
import type { WasmKernel } from '../../codegen/wasm/kernel.js';
import { type DimBindings, evalDim } from '../../ir/dim.js';
import type { WasmMemory } from './memory.js';

export interface Launch {
  /** The kernel's index in its module (CompiledModule.indexOf). */
  readonly kernel: number;
  /** The argument block's words: one address per binding, then the dims. */
  readonly args: readonly number[];
  /** False when the next launch does not read what this one writes (skips the barrier). */
  readonly barrier?: boolean;
}

/** The argument words of `kernel`: `addresses` in binding order, then its dims evaluated in `env`. */
export function kernelArgs(kernel: WasmKernel, addresses: readonly number[], env: DimBindings): number[] {
  if (addresses.length !== kernel.bindings.length) {
    throw new Error(`kernel ${kernel.name} takes ${kernel.bindings.length} addresses, got ${addresses.length}`);
  }
  const dims = kernel.dims.map((d) => {
    const v = evalDim(d, env);
    if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff) throw new Error(`kernel ${kernel.name}: dim ${String(d)} = ${v} does not fit in i32`);
    return v;
  });
  return [...addresses, ...dims];
}

/** Writes the argument blocks and the launch list into memory; returns the plan's address. */
export function writePlan(mem: WasmMemory, launches: readonly Launch[]): number {
  const blocks = launches.map((l) => {
    const at = mem.alloc(Math.max(l.args.length, 1) * ARG_SLOT_BYTES, 16, 'argument block');
    const words = mem.u32(at, l.args.length);
    l.args.forEach((v, i) => { words[i] = v >>> 0; });
    return at;
  });
  const plan = mem.alloc(PLAN_HEADER_BYTES + launches.length * PLAN_ENTRY_BYTES, 64, 'plan');
  const words = mem.u32(plan, (PLAN_HEADER_BYTES + launches.length * PLAN_ENTRY_BYTES) / 4);
  words[0] = launches.length;
  launches.forEach((l, i) => {
    const w = (PLAN_HEADER_BYTES + i * PLAN_ENTRY_BYTES) / 4;
    if (l.kernel < 0 || l.kernel >= PLAN_NO_BARRIER) throw new RangeError(`kernel index ${l.kernel}`);
    words[w] = (l.kernel | (l.barrier === false ? PLAN_NO_BARRIER : 0)) >>> 0;
    words[w + 1] = blocks[i];
  });
  return plan;
}
