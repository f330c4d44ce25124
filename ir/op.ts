// The op registry: one definition per op with its operands, attribute schema, symbolic type
// inference and reference semantics (plain TypeScript on host tensors, the oracle for every backend).
import type { Attrs, AttrSchema } from './attrs.js';
import type { DimBindings } from './dim.js';
import type { HostTensor } from './tensor.js';
import type { TensorType } from './types.js';

export type OpTrait =
  /** Same-shape (or broadcast) map over elements. */
  | 'elementwise'
  /** Operands may be swapped. */
  | 'commutative'
  /** Produced by a fusion pass; stands for several simpler ops. */
  | 'fused'
  /** Only moves or views data (reshape, transpose, slice…). */
  | 'layout';

export interface EvalContext {
  /** Values of the symbolic dims for this run (S, P, …). */
  readonly dims: DimBindings;
}

export interface OpDef {
  readonly name: string;
  readonly summary: string;
  /** Operand names in order; a trailing `?` marks an optional operand, `...` a variadic last one. */
  readonly operands: readonly string[];
  readonly attrs: AttrSchema;
  readonly traits?: readonly OpTrait[];
  /**
   * Result types from operand types and (normalized) attributes. Throws TypeInferenceError with
   * a message that names the operand or attribute at fault.
   */
  infer(operands: readonly TensorType[], attrs: Attrs): TensorType[];
  /** Reference semantics: exact, simple, accumulating in f64 where it matters. */
  evaluate(operands: readonly HostTensor[], attrs: Attrs, ctx: EvalContext): HostTensor[];
}

const registry = new Map<string, OpDef>();

export function registerOp(def: OpDef): OpDef {
  if (registry.has(def.name)) throw new Error(`op '${def.name}' is registered twice`);
  registry.set(def.name, def);
  return def;
}

export function findOp(name: string): OpDef | undefined {
  return registry.get(name);
}

export function getOp(name: string): OpDef {
  const def = registry.get(name);
  if (!def) throw new Error(`unknown op '${name}'`);
  return def;
}

export function listOps(): OpDef[] {
  return [...registry.values()].sort((a, b) => a.name.localeCompare(b.name));
}

export function hasTrait(def: OpDef, trait: OpTrait): boolean {
  return def.traits?.includes(trait) ?? false;
}

/** How many operands an op accepts: [min, max] (max = Infinity when variadic). */
export function operandArity(def: OpDef): [number, number] {
  let min = 0;
  let max = 0;
  for (const o of def.operands) {
    if (o.startsWith('...')) return [min, Infinity];
    max++;
    if (!o.endsWith('?')) min = max;
  }
  return [min, max];
}
