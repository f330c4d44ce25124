// Reductions across one workgroup, as WGSL helper functions. Every invocation must call them, in
// uniform control flow, with its own local index; every invocation gets the result.
//
// Without subgroups: a tree in workgroup memory (log2(wg) barriers, deterministic).
// With subgroups: subgroupAdd/Max inside each subgroup, then one slot per subgroup in workgroup
// memory. WGSL promises no relation between local_invocation_index and subgroups, so slots are
// handed out by an atomic counter. For max that order is irrelevant; for sums the order of the
// (at most wg/4) partial sums may vary between runs, i.e. the last bits may: pick the tree form
// where bitwise reproducibility matters.

export type ReduceOp = 'sum' | 'max';
export type ReduceType = 'f32' | 'vec4f';

export interface ReduceSpec {
  readonly name: string;
  readonly op: ReduceOp;
  readonly type: ReduceType;
  /** Workgroup size, a power of two. */
  readonly wg: number;
  readonly subgroups: boolean;
  /** Loop bounds as WGSL (KernelBuilder.dim), so targets that roll loops keep these rolled. */
  readonly bound: (n: number) => string;
}

/** `fn <name>(v: T, li: u32) -> T`. Uses one workgroup array (`<name>_buf`) of its own. */
export function workgroupReduceFn(s: ReduceSpec): string {
  if (s.wg & (s.wg - 1)) throw new Error(`workgroup reduction needs a power-of-two size, got ${s.wg}`);
  const combine = (a: string, b: string) => (s.op === 'sum' ? `${a} + ${b}` : `max(${a}, ${b})`);
  if (!s.subgroups) {
    return `var<workgroup> ${s.name}_buf: array<${s.type}, ${s.wg}>;
fn ${s.name}(v: ${s.type}, li: u32) -> ${s.type} {
  ${s.name}_buf[li] = v;
  workgroupBarrier();
  for (var half = ${s.bound(s.wg >> 1)}; half > 0u; half >>= 1u) {
    if (li < half) { ${s.name}_buf[li] = ${combine(`${s.name}_buf[li]`, `${s.name}_buf[li + half]`)}; }
    workgroupBarrier();
  }
  let r = ${s.name}_buf[0];
  workgroupBarrier();
  return r;
}`;
  }
  // Subgroups have at least 4 invocations (WebGPU's minimum subgroup size).
  const slots = Math.max(1, s.wg >> 2);
  const sg = s.op === 'sum' ? 'subgroupAdd' : 'subgroupMax';
  return `var<workgroup> ${s.name}_buf: array<${s.type}, ${slots}>;
var<workgroup> ${s.name}_count: atomic<u32>;
fn ${s.name}(v: ${s.type}, li: u32) -> ${s.type} {
  if (li == 0u) { atomicStore(&${s.name}_count, 0u); }
  workgroupBarrier();
  let part = ${sg}(v);
  if (subgroupElect()) { ${s.name}_buf[atomicAdd(&${s.name}_count, 1u)] = part; }
  workgroupBarrier();
  let n = atomicLoad(&${s.name}_count);
  var r = ${s.name}_buf[0];
  for (var i = 1u; i < n; i++) { r = ${combine('r', `${s.name}_buf[i]`)}; }
  workgroupBarrier();
  return r;
}`;
}
