// Kernels that give each row of the last axis (or any strided row) one workgroup: norms, softmax,
// l2_normalize, argmax. The invocations stride over the row, then reduce across the workgroup.
import type { Dim } from '../../ir/dim.js';
import { FLAT_WORKGROUP, floorPow2, grid1d, type KernelBuilder } from './builder.js';
import { workgroupReduceFn, type ReduceOp } from './reduce-wg.js';
import type { WgslTarget } from './target.js';

/** Invocations per row: enough for the row (when its length is known), a power of two, ≤ 256. */
export function rowWorkgroupSize(len: Dim, target: WgslTarget): number {
  const cap = floorPow2(Math.min(256, target.maxInvocations));
  if (typeof len !== 'number') return cap;
  return Math.min(cap, Math.max(32, 2 ** Math.ceil(Math.log2(Math.max(1, len)))));
}

/** `fn <name>(v: f32, li: u32) -> f32`, reducing over the row's workgroup. */
export function rowReduce(k: KernelBuilder, name: string, op: ReduceOp, wg: number): string {
  if (k.target.subgroups) k.enable('subgroups');
  return workgroupReduceFn({ name, op, type: 'f32', wg, subgroups: k.target.subgroups, bound: (n) => k.dim(n) });
}

/** The entry point: one workgroup per row (`row` < rows), invocation index `li`. */
export function rowEntry(name: string, wg: number, rows: string, body: string): string {
  return `@compute @workgroup_size(${wg})
fn ${name}(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let row = ${FLAT_WORKGROUP};
  if (row >= ${rows}) { return; }
${body}
}`;
}

export function rowGrid(rows: Dim, target: WgslTarget): [Dim, Dim, Dim] {
  return grid1d(rows, target);
}
