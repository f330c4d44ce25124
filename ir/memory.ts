// Memory planning: which values share storage (views, in-place KV appends), how long each
// activation lives, and where it sits in one reusable arena. Target-agnostic: backends turn the
// plan into linear-memory offsets (WebAssembly) or buffer ranges (WebGPU).
import { type Dim, dimAdd, dimFn, dimMul, dimToString, type DimBindings, evalDim } from './dim.js';
import { storageBytes, dtypeInfo } from './dtype.js';
import type { Graph, Node, Value } from './graph.js';

/** Upper bounds of the symbolic dims the plan must serve (e.g. S ≤ prefill chunk, P ≤ context − 1). */
export type DimBounds = DimBindings;

/**
 * 'tail': the rows P…P+S−1 of a state (`tailOf`) that a KV append would add, computed there in
 * place (`PlanOptions.appendAtTail`); its address moves with P, so a backend sets it every step.
 */
export type StorageRole = 'param' | 'input' | 'state' | 'activation' | 'output' | 'tail';

export interface Storage {
  readonly id: number;
  readonly role: StorageRole;
  /** The value that owns the storage (views and in-place results point here). */
  readonly owner: Value;
  /** Bytes as a function of the dims. */
  readonly bytes: Dim;
  /** Bytes at the bounds. */
  readonly maxBytes: number;
  /** Activations only: offset in the shared arena, and the node interval it is live in. */
  offset?: number;
  readonly firstDef: number;
  lastUse: number;
  /** Role 'tail' only: the id of the state storage whose new rows this is. */
  readonly tailOf?: number;
}

export interface PlanOptions {
  /**
   * When a value is read by nothing but an in-place KV append (through views), give it the
   * state's new rows as storage (role 'tail'): its producer then writes them straight into the
   * cache and the append moves nothing. The backend must place the storage at row P of the state
   * every step. Off by default (a backend opts in when it handles 'tail').
   */
  readonly appendAtTail?: boolean;
}

export interface MemoryPlan {
  readonly storages: Storage[];
  /** Every value (inputs, params, results) → its storage. */
  readonly storageOf: Map<Value, Storage>;
  /** Bytes of the activation arena at the bounds. */
  readonly arenaBytes: number;
  /** Largest live activation total as a function of the dims (max over program points). */
  readonly peakActivationBytes: Dim;
  /** Sum of activation sizes without reuse, at the bounds (to show what reuse saved). */
  readonly unsharedActivationBytes: number;
}

/** Ops whose result is the operand's storage under another shape. */
const VIEW_OPS = new Set(['reshape']);
/** Ops whose result extends or writes a state operand in place (the KV cache append, the paged pool write). */
const IN_PLACE_STATE_OPS = new Set(['kv_append', 'paged_kv_write']);

export function valueBytes(v: Value): Dim {
  const info = dtypeInfo(v.type.dtype);
  if (info.blockSize === 1) return dimMul(v.type.shape.reduce<Dim>((a, d) => dimMul(a, d), 1), info.blockBytes);
  // Quantized values only appear as parameters, which have static shapes.
  return storageBytes(v.type.dtype, v.type.shape as number[]);
}

const ALIGN = 256;
const align = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

export function planMemory(g: Graph, bounds: DimBounds, opts: PlanOptions = {}): MemoryPlan {
  const storages: Storage[] = [];
  const storageOf = new Map<Value, Storage>();
  const outputs = new Set(g.outputs.map((o) => o.value));
  const make = (owner: Value, role: StorageRole, firstDef: number, bytes: Dim = valueBytes(owner)): Storage => {
    const s: Storage = { id: storages.length, role, owner, bytes, maxBytes: evalDim(bytes, bounds), firstDef, lastUse: firstDef };
    storages.push(s);
    storageOf.set(owner, s);
    return s;
  };
  for (const v of g.params) make(v, 'param', -1);
  for (const v of g.inputs) {
    const state = v.def.kind === 'input' && v.def.state;
    // A state grows along its first axis up to the bound of its successor's length.
    const update = g.updates.find((u) => u.state === v);
    make(v, state ? 'state' : 'input', -1, state && update ? valueBytes(update.value) : valueBytes(v));
  }
  g.nodes.forEach((n, i) => {
    n.inputs.forEach((v) => {
      const s = storageOf.get(v);
      if (s) s.lastUse = Math.max(s.lastUse, i);
    });
    if (VIEW_OPS.has(n.op) || IN_PLACE_STATE_OPS.has(n.op)) {
      const src = storageOf.get(n.inputs[0])!;
      if (!IN_PLACE_STATE_OPS.has(n.op) || src.role === 'state') {
        storageOf.set(n.outputs[0], src);
        return;
      }
    }
    for (const v of n.outputs) make(v, outputs.has(v) ? 'output' : 'activation', i);
  });
  // Values read after the last node (outputs, state updates) stay live to the end.
  const end = g.nodes.length;
  for (const v of [...outputs, ...g.updates.map((u) => u.value)]) {
    const s = storageOf.get(v);
    if (s) s.lastUse = end;
  }
  // Results that alias a state through a view must keep the state's role; an output that is a
  // view of an activation keeps that activation alive to the end (handled above by lastUse).
  if (opts.appendAtTail) computeAppendsInPlace(g, storages, storageOf);

  const activations = storages.filter((s) => s.role === 'activation');
  const arenaBytes = assignOffsets(activations);
  return {
    storages,
    storageOf,
    arenaBytes,
    peakActivationBytes: symbolicPeak(activations, end),
    unsharedActivationBytes: activations.reduce((a, s) => a + align(s.maxBytes), 0),
  };
}

/**
 * Turns the activation that an in-place KV append adds to its state into that state's tail, when
 * nothing but views of it and the append read it (PlanOptions.appendAtTail).
 */
function computeAppendsInPlace(g: Graph, storages: Storage[], storageOf: Map<Value, Storage>): void {
  const readers = new Map<Value, { node: Node; index: number }[]>();
  for (const node of g.nodes) node.inputs.forEach((v, index) => readers.set(v, [...(readers.get(v) ?? []), { node, index }]));
  for (const n of g.nodes) {
    if (!IN_PLACE_STATE_OPS.has(n.op)) continue;
    const [past, rows] = n.inputs;
    const state = storageOf.get(past);
    const added = storageOf.get(rows);
    if (state?.role !== 'state' || storageOf.get(n.outputs[0]) !== state || added?.role !== 'activation') continue;
    // Only a cache whose first axis is the sequence has its new rows in one piece at row P.
    if (past.type.shape.length !== 3) continue;
    const members = [...storageOf].filter(([, s]) => s === added).map(([v]) => v);
    const onlyAppended = members.every((v) => (readers.get(v) ?? []).every(({ node, index }) =>
      (node === n && index === 1) || (VIEW_OPS.has(node.op) && storageOf.get(node.outputs[0]) === added)));
    if (!onlyAppended) continue;
    const tail: Storage = { id: added.id, role: 'tail', owner: added.owner, bytes: added.bytes, maxBytes: added.maxBytes, firstDef: added.firstDef, lastUse: added.lastUse, tailOf: state.id };
    storages[added.id] = tail;
    for (const v of members) storageOf.set(v, tail);
  }
}

/** Greedy first-fit by decreasing size over live intervals (the classic offset assignment). */
function assignOffsets(items: Storage[]): number {
  const placed: Storage[] = [];
  let top = 0;
  for (const s of [...items].sort((a, b) => b.maxBytes - a.maxBytes || a.firstDef - b.firstDef)) {
    const size = align(Math.max(s.maxBytes, 1));
    const overlapping = placed
      .filter((p) => p.firstDef <= s.lastUse && s.firstDef <= p.lastUse)
      .sort((a, b) => a.offset! - b.offset!);
    let offset = 0;
    for (const p of overlapping) {
      if (offset + size <= p.offset!) break;
      offset = Math.max(offset, p.offset! + align(Math.max(p.maxBytes, 1)));
    }
    s.offset = offset;
    placed.push(s);
    top = Math.max(top, offset + size);
  }
  return top;
}

/** max over program points of the bytes live there, as a symbolic expression. */
function symbolicPeak(items: readonly Storage[], end: number): Dim {
  let peak: Dim = 0;
  const seen = new Set<string>();
  for (let i = 0; i <= end; i++) {
    const live = items.filter((s) => s.firstDef <= i && i <= s.lastUse);
    const total = live.reduce<Dim>((a, s) => dimAdd(a, s.bytes), 0);
    const key = dimToString(total);
    if (seen.has(key)) continue;
    seen.add(key);
    peak = peak === 0 ? total : dimFn('max', peak, total);
  }
  return simplifyMax(peak);
}

/** Drops max() arguments that are dominated term by term (all coefficients ≥, same monomials). */
function simplifyMax(d: Dim): Dim {
  if (typeof d === 'number') return d;
  const args: Dim[] = [];
  const collect = (x: Dim) => {
    if (typeof x !== 'number' && x.terms.length === 1 && x.terms[0].coeff === 1 && x.terms[0].atoms.length === 1) {
      const a = x.terms[0].atoms[0];
      if (a.kind === 'fn' && a.fn === 'max') { collect(a.args[0]); collect(a.args[1]); return; }
    }
    args.push(x);
  };
  collect(d);
  const coeffs = (x: Dim) => new Map((typeof x === 'number' ? [{ key: '', coeff: x }] : x.terms).map((t) => [t.key, t.coeff]));
  const dominated = (a: Dim, b: Dim) => {
    const ca = coeffs(a), cb = coeffs(b);
    for (const [k, v] of ca) if ((cb.get(k) ?? 0) < v) return false;
    for (const v of cb.values()) if (v < 0) return false;
    return true;
  };
  const kept = args.filter((a, i) => !args.some((b, j) => j !== i && dominated(a, b) && (!dominated(b, a) || j < i)));
  return kept.reduce<Dim>((acc, x, i) => (i === 0 ? x : dimFn('max', acc, x)), 0);
}

/** For tools: each node's inputs and results with their storage ids. */
export function describeStorage(plan: MemoryPlan, n: Node): string {
  const id = (v: Value) => `s${plan.storageOf.get(v)?.id ?? '?'}`;
  return `${n.outputs.map(id).join(', ')} = ${n.op}(${n.inputs.map(id).join(', ')})`;
}
