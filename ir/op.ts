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

/** The code generators a model can be lowered by. */
export const CODEGEN_TARGETS = ['wasm', 'webgpu'] as const;
export type CodegenTarget = (typeof CODEGEN_TARGETS)[number];

/**
 * The projection interface: the op reads a weight matrix at operand `weight`, stored
 * [out, in] (nn.Linear's layout), so `y[..., n] = Σ_k x[..., k] · w[n, k]`. Passes that rewrite
 * weights (quantize, rmsnorm-matmul, fuse-elementwise) and both code generators ask this.
 */
export interface ProjectionTrait {
  /** Operand index of the weight. */
  readonly weight: number;
  readonly layout: 'out_in';
  /** The result can take an elementwise epilogue (fuse-elementwise folds into it). */
  readonly epilogue: boolean;
  /** A norm feeding operand 0 may fold into the weight (rmsnorm-matmul). */
  readonly normFoldable: boolean;
}

/**
 * An elementwise unary function described once: its name in the program language, the per-element
 * reference, and the expression each code generator emits. Target expressions are text over the
 * argument `v` (an f32 in WGSL, an f32x4 local in AssemblyScript) with `{attr}` holes filled by
 * the op's attributes; helpers are named from the generators' own helper libraries.
 */
export interface UnaryFunction {
  /** Attribute values that select a variant (gelu's approximate = 'tanh'); absent = every value. */
  readonly when?: Readonly<Record<string, string>>;
  /** The function's name in the program language (ir/ops/program.ts). */
  readonly programName: string;
  /** Literal arguments after the tensor argument that become attributes, in order. */
  readonly literals?: readonly string[];
  readonly wgsl: { readonly expr: string; readonly helpers?: readonly string[] };
  readonly wasm: { readonly expr: string };
}

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
  /** Set when the op reads a weight matrix (see ProjectionTrait). */
  readonly projection?: ProjectionTrait;
  /** Set on elementwise unary ops: one row per variant (see UnaryFunction). */
  readonly unaryFunctions?: readonly UnaryFunction[];
  /**
   * Targets that do not lower this op, each with the reason (e.g. "removed by flash-attention in
   * every pipeline"). A target not named here must have a kernel; the op table test enforces it.
   */
  readonly unsupported?: Partial<Readonly<Record<CodegenTarget, string>>>;
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
