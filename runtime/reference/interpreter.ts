// The reference interpreter: runs any verified graph on host tensors, op by op, with each op's
// reference semantics. It is the oracle every pass and every backend kernel is tested against.
import { type DimBindings, dimToString, evalDim } from '../../ir/dim.js';
import type { Graph, Value } from '../../ir/graph.js';
import { getOp } from '../../ir/op.js';
import '../../ir/ops/index.js';
import type { HostTensor } from '../../ir/tensor.js';
import { typeToString } from '../../ir/types.js';

/** The tensor bound to a parameter. */
export interface ParamResolver {
  (param: Value): HostTensor;
  /**
   * For a parameter whose bytes are stored as they are (no transform, the declared type): its size
   * and a writer that reads them straight into `dest` (a runtime's own memory), skipping the
   * intermediate copy. Undefined for anything else; then call the resolver.
   */
  streamer?(param: Value): { readonly bytes: number; write(dest: Uint8Array): void } | undefined;
  /**
   * Called by a runtime that keeps its own copy of a parameter (wasm memory, a GPU buffer) once it
   * is placed, with a function that overwrites that copy: how parameters that change between
   * requests without recompiling (the run-time LoRA scales, src/lora.ts) reach the runtime.
   */
  placed?(param: Value, rewrite: (bytes: Uint8Array) => void): void;
}

export interface InterpretOptions {
  /** Runtime inputs by name (state inputs included). */
  readonly inputs: Readonly<Record<string, HostTensor>>;
  readonly params: ParamResolver;
  /** Symbol values that cannot be read off input shapes. */
  readonly dims?: DimBindings;
  /** Called with every value as it is computed (for dumps and debugging). */
  readonly observe?: (value: Value, t: HostTensor) => void;
}

export interface InterpretResult {
  readonly outputs: Record<string, HostTensor>;
  /** New state values by state input name. */
  readonly updates: Record<string, HostTensor>;
  readonly dims: DimBindings;
}

/** Binds symbols from the shapes of the inputs (a dim that is a lone symbol binds it), then checks every input dim. */
export function bindDims(g: Graph, inputs: Readonly<Record<string, HostTensor>>, given: DimBindings = {}): DimBindings {
  const env: Record<string, number> = { ...given };
  for (const v of g.inputs) {
    const t = inputs[v.name];
    if (!t) continue;
    v.type.shape.forEach((d, i) => {
      if (typeof d !== 'number' && d.terms.length === 1 && d.terms[0].coeff === 1 && d.terms[0].atoms.length === 1) {
        const atom = d.terms[0].atoms[0];
        if (atom.kind === 'sym' && env[atom.name] === undefined && t.shape[i] !== undefined) env[atom.name] = t.shape[i];
      }
    });
  }
  for (const v of g.inputs) {
    const t = inputs[v.name];
    if (!t) throw new Error(`graph @${g.name}: input %${v.name}: ${typeToString(v.type)} was not given`);
    if (t.dtype !== v.type.dtype) throw new Error(`graph @${g.name}: input %${v.name} must be ${v.type.dtype}, got ${t.dtype}`);
    const want = v.type.shape.map((d) => evalDim(d, env));
    if (want.length !== t.shape.length || want.some((d, i) => d !== t.shape[i])) {
      throw new Error(`graph @${g.name}: input %${v.name}: ${typeToString(v.type)} needs shape [${want.join(', ')}] here, got [${t.shape.join(', ')}]`);
    }
  }
  return env;
}

export function interpret(g: Graph, opts: InterpretOptions): InterpretResult {
  const dims = bindDims(g, opts.inputs, opts.dims);
  const values = new Map<Value, HostTensor>();
  for (const v of g.inputs) values.set(v, opts.inputs[v.name]);
  for (const p of g.params) {
    const t = opts.params(p);
    const want = p.type.shape as number[];
    if (t.dtype !== p.type.dtype || t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) {
      throw new Error(`param %${p.name}: expected ${typeToString(p.type)}, the weights give ${t.dtype}[${t.shape.join(', ')}]`);
    }
    values.set(p, t);
  }
  // Free each intermediate after its last use: models with long prompts otherwise hold every activation.
  const lastUse = new Map<Value, number>();
  g.nodes.forEach((n, i) => n.inputs.forEach((v) => lastUse.set(v, i)));
  const roots = new Set<Value>([...g.outputs.map((o) => o.value), ...g.updates.map((u) => u.value)]);

  g.nodes.forEach((n, i) => {
    const def = getOp(n.op);
    const operands = n.inputs.map((v) => {
      const t = values.get(v);
      if (!t) throw new Error(`node ${i} (${n.op}): operand %${v.name} has no value`);
      return t;
    });
    let results: HostTensor[];
    try {
      results = def.evaluate(operands, n.attrs, { dims });
    } catch (e) {
      throw new Error(`node ${i} (%${n.outputs.map((v) => v.name).join(', %')} = ${n.op}): ${(e as Error).message}`);
    }
    n.outputs.forEach((v, k) => {
      const t = results[k];
      const want = v.type.shape.map((d) => evalDim(d, dims));
      if (!t || t.dtype !== v.type.dtype || t.shape.length !== want.length || t.shape.some((d, j) => d !== want[j])) {
        const got = t ? `${t.dtype}[${t.shape.join(', ')}]` : 'nothing';
        throw new Error(`node ${i} (${n.op}) produced ${got} for %${v.name}, its type ${typeToString(v.type)} says [${v.type.shape.map((d) => `${dimToString(d)}=${evalDim(d, dims)}`).join(', ')}]`);
      }
      values.set(v, t);
      opts.observe?.(v, t);
    });
    for (const v of n.inputs) if (lastUse.get(v) === i && !roots.has(v) && v.def.kind === 'node') values.delete(v);
  });

  const outputs: Record<string, HostTensor> = {};
  for (const o of g.outputs) outputs[o.name] = values.get(o.value)!;
  const updates: Record<string, HostTensor> = {};
  for (const u of g.updates) updates[u.state.name] = values.get(u.value)!;
  return { outputs, updates, dims };
}
