// The op traits of the registry (ir/op.ts) against what reads them: every op has a kernel on each
// code generator or declares why not; the projection trait is exactly what the passes that
// rewrite weights and fuse epilogues act on; unary functions are complete and checked.
import { describe, expect, it } from 'vitest';
import { hasWasmKernel } from '../../codegen/wasm/emit.js';
import { activation } from '../../codegen/wasm/unary.js';
import { wgslOps } from '../../codegen/wgsl/emit.js';
import { unaryFunction } from '../../codegen/wgsl/unary.js';
import { GraphBuilder } from '../../ir/builder.js';
import { sym } from '../../ir/dim.js';
import type { Graph, Value } from '../../ir/graph.js';
import { CODEGEN_TARGETS, type CodegenTarget, findOp, getOp, hasTrait, listOps, lowersOn, type OpDef, operandArity, registerOp, unaryFunctionOf } from '../../ir/op.js';
import '../../ir/ops/index.js';
import { fuseElementwise } from '../../passes/fuse-elementwise.js';
import { quantizeWeights } from '../../passes/quantize.js';
import { foldNorms } from '../../passes/rmsnorm-matmul.js';

const HAS_KERNEL: Readonly<Record<CodegenTarget, (op: string) => boolean>> = {
  wasm: hasWasmKernel,
  webgpu: (op) => wgslOps().includes(op),
};

/** Every way `ops` break the rule "a kernel on each target, or a reason why not, never both". */
function targetGaps(ops: readonly OpDef[]): string[] {
  const gaps: string[] = [];
  for (const def of ops) {
    for (const key of Object.keys(def.unsupported ?? {})) {
      if (!(CODEGEN_TARGETS as readonly string[]).includes(key)) gaps.push(`${def.name}: unsupported names '${key}', which is not a target`);
    }
    for (const t of CODEGEN_TARGETS) {
      const has = HAS_KERNEL[t](def.name);
      const why = def.unsupported?.[t];
      if (lowersOn(def, t) && !has) gaps.push(`${def.name}: no ${t} kernel, and it does not declare ${t} unsupported`);
      if (!lowersOn(def, t) && has) gaps.push(`${def.name}: declares ${t} unsupported (${why}) but has a ${t} kernel`);
      if (why !== undefined && why.trim() === '') gaps.push(`${def.name}: ${t} is unsupported without a reason`);
    }
  }
  return gaps;
}

describe('targets', () => {
  it('every registered op has a kernel on each target or declares it unsupported with a reason', () => {
    expect(targetGaps(listOps())).toEqual([]);
  });

  it('the check finds an op without kernels and an op that declares a target it has', () => {
    const orphan: OpDef = { ...getOp('cast'), name: 'frobnicate' };
    const liar: OpDef = { ...getOp('matmul'), unsupported: { webgpu: 'said in error' } };
    expect(targetGaps([orphan, liar])).toEqual([
      'frobnicate: no wasm kernel, and it does not declare wasm unsupported',
      'frobnicate: no webgpu kernel, and it does not declare webgpu unsupported',
      'matmul: declares webgpu unsupported (said in error) but has a webgpu kernel',
    ]);
  });
});

// ---- the projection trait ----

const S = sym('S');
const K = 64;

/**
 * How to build each projection op over x [S, K] and a weight w [K, K]. A new projection op fails
 * the first test below until it has a row here, so the passes' behaviour is checked for it too.
 */
const PROJECTION_SAMPLES: Readonly<Record<string, (b: GraphBuilder, x: Value, w: Value) => Value>> = {
  matmul: (b, x, w) => b.op('matmul', [x, w]),
  matmul_ep: (b, x, w) => b.op('matmul_ep', [x, w], { epilogue: 'acc0' }),
  norm_matmul: (b, x, w) => b.op('norm_matmul', [x, w], { kind: 'rms', eps: 1e-5 }),
  rope_matmul: (b, x, w) => b.op('rope_matmul', [x, w, b.input('pos', 'i32', [S])], { head_dim: 16, rope_cols: [0, 32], theta: 10000 }),
  matmul_lora: (b, x, w) => b.op('matmul_lora', [x, w, b.param('a', 'f32', [2, K], 'a'), b.param('b', 'f32', [K, 2], 'b'), b.param('s', 'f32', [1], 's')], { ranks: [2], slots: [0], factors: [1] }),
};

const projectionOps = () => listOps().filter((d) => d.projection);

/** A graph computing `tail(op(head(x), w))` for projection op `op`; `w` is the parameter named "w". */
function projectionGraph(op: string, head: (b: GraphBuilder, x: Value) => Value = (_, x) => x, tail: (b: GraphBuilder, y: Value) => Value = (_, y) => y): Graph {
  const b = new GraphBuilder('t', ['S']);
  const x = b.input('x', 'f32', [S, K]);
  const w = b.param('w', 'f32', [K, K], 'w');
  b.output('y', tail(b, PROJECTION_SAMPLES[op](b, head(b, x), w)));
  return b.finish();
}

const weightOf = (g: Graph) => g.params.find((p) => p.name === 'w');
const quiet = { stat: () => {}, options: {} };

describe('projection trait', () => {
  it('is declared by exactly the ops sampled here, each reading w [out, in] at operand 1', () => {
    expect(projectionOps().map((d) => d.name)).toEqual(Object.keys(PROJECTION_SAMPLES).sort());
    for (const def of projectionOps()) {
      expect(def.projection, def.name).toMatchObject({ weight: 1, layout: 'out_in' });
      expect(def.operands[1], def.name).toBe('w');
    }
  });

  it('is what quantize takes for a weight reader: each projection op gets its weight quantized', () => {
    for (const def of projectionOps()) {
      const g = projectionGraph(def.name);
      expect(quantizeWeights(g, { ...quiet, options: { dtype: 'q8_0', heads: true } }), def.name).toBe(true);
      expect(weightOf(g)?.type.dtype, def.name).toBe('q8_0');
    }
    // A 2-D parameter read by an op without the trait (an embedding table) stays as it is.
    const b = new GraphBuilder('t', ['S']);
    b.output('y', b.op('embedding', [b.param('w', 'f32', [K, K], 'w'), b.input('ids', 'i32', [S])]));
    const g = b.finish();
    expect(quantizeWeights(g, { ...quiet, options: { dtype: 'q8_0', heads: true } })).toBe(false);
  });

  it('is what rmsnorm-matmul folds into: exactly the ops that say normFoldable', () => {
    for (const def of projectionOps()) {
      const g = projectionGraph(def.name, (b, x) => b.op('rms_norm', [x, b.param('g', 'f32', [K], 'g')], { eps: 1e-6 }));
      expect(foldNorms(g, quiet), def.name).toBe(def.projection!.normFoldable);
      expect(g.nodes.some((n) => n.op === 'rms_norm'), def.name).toBe(!def.projection!.normFoldable);
    }
  });

  it('is what fuse-elementwise puts epilogues on: exactly the ops that say epilogue', () => {
    for (const def of projectionOps()) {
      const g = projectionGraph(def.name, undefined, (b, y) => b.op('silu', [y]));
      expect(fuseElementwise(g, quiet), def.name).toBe(def.projection!.epilogue);
      expect(g.nodes.some((n) => n.op === 'silu'), def.name).toBe(!def.projection!.epilogue);
    }
  });
});

// ---- the unary-function descriptor ----

/** Every attribute combination a row's `when` can be asked about: each oneOf value of those attributes. */
function variants(def: OpDef): Record<string, string>[] {
  const keys = [...new Set((def.unaryFunctions ?? []).flatMap((f) => Object.keys(f.when ?? {})))];
  return keys.reduce<Record<string, string>[]>((acc, k) => acc.flatMap((a) => (def.attrs[k].oneOf ?? []).map((v) => ({ ...a, [k]: v }))), [{}]);
}

/** Numeric attributes a kernel needs: 1.5 for every float attribute. */
const numbers = (def: OpDef) => Object.fromEntries(Object.entries(def.attrs).filter(([, s]) => s.type === 'float').map(([k]) => [k, 1.5]));

describe('unary functions', () => {
  const unaryOps = () => listOps().filter((d) => d.unaryFunctions);

  it('cover every value of the attributes that select them, exactly once', () => {
    // Every one-operand elementwise op declares its function, except cast (it changes the dtype).
    expect(listOps().filter((d) => hasTrait(d, 'elementwise') && operandArity(d).join() === '1,1' && !d.unaryFunctions).map((d) => d.name)).toEqual(['cast']);
    for (const def of unaryOps()) {
      for (const v of variants(def)) {
        const rows = def.unaryFunctions!.filter((f) => Object.entries(f.when ?? {}).every(([k, x]) => v[k] === x));
        expect(rows, `${def.name} ${JSON.stringify(v)}`).toHaveLength(1);
        expect(unaryFunctionOf(def.name, v), def.name).toBe(rows[0]);
      }
    }
  });

  it('give each code generator an expression with every hole filled and every helper known', () => {
    for (const def of unaryOps()) {
      for (const v of variants(def)) {
        const a = { ...v, ...numbers(def) };
        const wgsl = /^fn f\(v: f32\) -> f32 \{ return (.*); \}$/.exec(unaryFunction('f', def.name, a).fn);
        expect(wgsl?.[1], def.name).toMatch(/^[^{}]+$/);
        expect(activation(def.name, a, '_e7'), def.name).not.toMatch(/[{}]|\bv\b/);
      }
    }
  });

  it('are checked when registered', () => {
    const base: OpDef = { ...getOp('tanh'), name: 'tanh2' };
    const row = base.unaryFunctions![0];
    expect(() => registerOp({ ...base, unaryFunctions: [row] })).toThrow("op 'tanh2': program function 'tanh' is already defined");
    expect(() => registerOp({ ...base, unaryFunctions: [{ ...row, program: { call: 'tanh2' }, wgsl: { expr: 'v * {k}' } }] }))
      .toThrow(`op 'tanh2': the expression "v * {k}" names 'k', which is not an attribute`);
    expect(() => registerOp({ ...base, unaryFunctions: [{ ...row, program: { call: 'tanh2', literals: ['cap'] } }] }))
      .toThrow("op 'tanh2': a program literal names 'cap', which is not an attribute");
    expect(() => registerOp({ ...base, operands: ['x', 'y'], unaryFunctions: [{ ...row, program: { call: 'tanh2' } }] }))
      .toThrow("op 'tanh2': unaryFunctions need exactly one operand");
    expect(findOp('tanh2')).toBeUndefined();
  });
});
