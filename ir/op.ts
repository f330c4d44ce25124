// The op registry: one definition per op with its operands, attribute schema, symbolic type
// inference and reference semantics (plain TypeScript on host tensors, the oracle for every backend),
// and its interfaces, read by passes and code generators instead of lists of op names: the
// projection trait (a weight matrix at an operand), unary functions (the expressions every target
// computes) and the targets that do not lower it. Target expressions are data here: ir/ imports
// nothing of the code generators.
import type { Attrs, AttrSchema, AttrValue } from './attrs.js';
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
 * [out, in] (nn.Linear's layout), so `y[..., n] = Σ_k x[..., k] · w[n, k]`. The passes that
 * rewrite weights or fuse into projections (quantize, rmsnorm-matmul, fuse-elementwise) ask this;
 * the code generators' projection kernels read w at operand 1, which test/ir/op-traits.test.ts
 * holds every projection op to.
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
 * How the program language (ir/ops/program.ts) writes a unary function: a call `name(x, lit…)`
 * whose literal arguments become the op's attributes, or one of the language's own operators
 * (`-x`; `x * factor` with the attribute as a literal), which round exactly as the op does.
 */
export type ProgramSpelling =
  | { readonly call: string; readonly literals?: readonly string[] }
  | { readonly negate: true }
  | { readonly multiplyBy: string };

/**
 * The unary-function interface: an elementwise function of one operand described once, from
 * which the op's reference, the program language, the fusion pass and both code generators take
 * what they need. Target expressions are text over the argument `v` (a whole word: an f32 in WGSL,
 * an f32x4 local in AssemblyScript) with `{name}` holes, each filled by the target's own literal
 * for the attribute or constant of that name. WGSL helpers are named by their function name in
 * codegen/wgsl/math.ts; the AssemblyScript prelude (codegen/wasm/prelude.ts) is always there.
 */
export interface UnaryFunction {
  /** Attribute values that select this variant (gelu's approximate = 'tanh'); absent = every value. */
  readonly when?: Readonly<Record<string, string>>;
  /** y = f(x, attrs) for one element, in f64 (the op rounds the result to f32 once). */
  readonly reference: (x: number, attrs: Attrs) => number;
  readonly program: ProgramSpelling;
  /** Numbers the target expressions name as holes besides attributes (gelu_tanh's √(2/π)). */
  readonly constants?: Readonly<Record<string, number>>;
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
   * every pipeline"). A target not named here must have a kernel, and one named must not:
   * test/ir/op-traits.test.ts enforces both.
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

/** A function of the program language: the op and variant it stands for. */
export interface ProgramFunction {
  readonly name: string;
  readonly op: string;
  /** The variant's attributes (its `when`); the call's literal arguments add the rest. */
  readonly attrs: Attrs;
  /** Attribute names of the literal arguments after the tensor argument, in order. */
  readonly literals: readonly string[];
  readonly fn: UnaryFunction;
}

const programFunctions = new Map<string, ProgramFunction>();

export function registerOp(def: OpDef): OpDef {
  if (registry.has(def.name)) throw new Error(`op '${def.name}' is registered twice`);
  const calls = def.unaryFunctions ? checkUnaryFunctions(def, def.unaryFunctions) : [];
  registry.set(def.name, def);
  for (const f of calls) programFunctions.set(f.name, f);
  return def;
}

/** The program functions an op's unary rows declare; throws on a row that cannot be used. */
function checkUnaryFunctions(def: OpDef, rows: readonly UnaryFunction[]): ProgramFunction[] {
  const bad = (what: string): never => { throw new Error(`op '${def.name}': ${what}`); };
  if (def.operands.length !== 1 || operandArity(def)[0] !== 1) bad('unaryFunctions need exactly one operand');
  const attr = (name: string, where: string) => { if (!(name in def.attrs)) bad(`${where} names '${name}', which is not an attribute`); };
  const calls: ProgramFunction[] = [];
  for (const f of rows) {
    for (const k of Object.keys(f.when ?? {})) attr(k, 'when');
    const p = f.program;
    const literals = 'call' in p ? (p.literals ?? []) : 'multiplyBy' in p ? [p.multiplyBy] : [];
    for (const k of literals) attr(k, 'a program literal');
    for (const expr of [f.wgsl.expr, f.wasm.expr]) {
      for (const [, k] of expr.matchAll(/\{(\w+)\}/g)) if (!(k in (f.constants ?? {}))) attr(k, `the expression ${JSON.stringify(expr)}`);
    }
    if (!('call' in p)) continue;
    if (programFunctions.has(p.call) || calls.some((c) => c.name === p.call)) bad(`program function '${p.call}' is already defined`);
    calls.push({ name: p.call, op: def.name, attrs: f.when ?? {}, literals, fn: f });
  }
  return calls;
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

/** True when code generator `target` lowers the op (it does not declare the target unsupported). */
export function lowersOn(def: OpDef, target: CodegenTarget): boolean {
  return def.unsupported?.[target] === undefined;
}

/** The projection trait of op `op`, or undefined when it reads no weight matrix (or is unknown). */
export function projectionOf(op: string): ProjectionTrait | undefined {
  return registry.get(op)?.projection;
}

/**
 * The unary function op `op` computes for these attributes (the row whose `when` they meet, absent
 * attributes taking their defaults), or undefined when the op declares none.
 */
export function unaryFunctionOf(op: string, attrs: Attrs): UnaryFunction | undefined {
  const def = registry.get(op);
  return def?.unaryFunctions?.find((f) => Object.entries(f.when ?? {}).every(([k, v]) => (attrs[k] ?? def.attrs[k]?.default) === v));
}

/** True when op `op` declares unary functions (it is an elementwise function of one operand). */
export function hasUnaryFunctions(op: string): boolean {
  return (registry.get(op)?.unaryFunctions?.length ?? 0) > 0;
}

/** The program function called `name`, or undefined. */
export function findProgramFunction(name: string): ProgramFunction | undefined {
  return programFunctions.get(name);
}

/** Every program function's name, sorted. */
export function programFunctionNames(): string[] {
  return [...programFunctions.keys()].sort();
}

/**
 * A target expression with each `{name}` hole replaced by `literal(values[name])`; throws for a
 * hole whose value is missing or not a number.
 */
export function fillHoles(expr: string, values: Readonly<Record<string, AttrValue>>, literal: (x: number) => string): string {
  return expr.replace(/\{(\w+)\}/g, (_, name: string) => {
    const v = values[name];
    if (typeof v !== 'number') throw new Error(`expression ${JSON.stringify(expr)}: '${name}' has no numeric value`);
    return literal(v);
  });
}
