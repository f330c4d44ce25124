import { describe, expect, it } from 'vitest';
import { GraphBuilder, f32, i32, printGraph, verifyIssues, dimAdd, dimMul, dimSub, dimFn, sym, evalDim, dimToString, dimEquals, substituteDim, IRError } from '../../ir/index.js';
import { interpret } from '../../runtime/reference/interpreter.js';

describe('symbolic dims', () => {
  const S = sym('S'), P = sym('P');
  it('are canonical polynomials', () => {
    expect(dimToString(dimAdd(S, P))).toBe('P+S');
    expect(dimEquals(dimAdd(S, P), dimAdd(P, S))).toBe(true);
    expect(dimSub(dimAdd(S, P), P)).toEqual(S);
    expect(dimSub(S, S)).toBe(0);
    expect(dimToString(dimMul(dimAdd(S, 1), 2))).toBe('2*S+2');
    expect(dimToString(dimSub(1, S))).toBe('-S+1');
    expect(dimToString(dimMul(S, P))).toBe('P*S');
  });
  it('evaluate with bindings, including functions', () => {
    const d = dimFn('ceildiv', dimAdd(S, P), 64);
    expect(dimToString(d)).toBe('ceildiv(P+S, 64)');
    expect(evalDim(d, { S: 1, P: 64 })).toBe(2);
    expect(evalDim(dimFn('min', S, 8), { S: 3 })).toBe(3);
    expect(() => evalDim(S, {})).toThrow(/'S' is not bound/);
    expect(dimFn('max', 3, 7)).toBe(7);
  });
  it('substitute symbols', () => {
    expect(dimToString(substituteDim(dimAdd(P, 1), { P: dimAdd(P, S) }))).toBe('P+S+1');
  });
});

describe('builder, printer, interpreter', () => {
  function tiny() {
    const b = new GraphBuilder('tiny', ['S']);
    const x = b.input('x', 'f32', [b.sym('S'), 3]);
    const w = b.param('w', 'f32', [2, 3], 'layer.weight');
    const g = b.param('g', 'f32', [3], 'norm.weight');
    const n = b.op('rms_norm', [x, g], { eps: 1e-5 });
    const y = b.op('matmul', [n, w], {}, 'y');
    b.output('y', b.op('silu', [y]));
    return b.finish();
  }
  it('prints one op per line with types and attrs', () => {
    expect(printGraph(tiny())).toBe(`graph @tiny<S>(%x: f32[S, 3]) {
  param %w: f32[2, 3] = "layer.weight"
  param %g: f32[3] = "norm.weight"
  %rms_norm = rms_norm(%x, %g) {eps = 0.00001} : f32[S, 3]
  %y = matmul(%rms_norm, %w) : f32[S, 2]
  %silu = silu(%y) : f32[S, 2]
  output y = %silu
}
`);
  });
  it('runs on host tensors', () => {
    const weights: Record<string, ReturnType<typeof f32>> = {
      'layer.weight': f32([2, 3], [1, 0, 0, 0, 1, 1]),
      'norm.weight': f32([3], [1, 1, 1]),
    };
    const g = tiny();
    const res = interpret(g, {
      inputs: { x: f32([1, 3], [1, 2, 2]) },
      params: (p) => weights[(p.def as { source: { name: string } }).source.name],
    });
    // rms = sqrt((1+4+4)/3 + 1e-5) = sqrt(3); normalized = [1,2,2]/sqrt(3); y = [1/√3, 4/√3]
    const s = Math.sqrt(3 + 1e-5);
    const silu = (v: number) => v / (1 + Math.exp(-v));
    expect(res.outputs.y.shape).toEqual([1, 2]);
    expect(res.outputs.y.data[0]).toBeCloseTo(silu(1 / s), 6);
    expect(res.outputs.y.data[1]).toBeCloseTo(silu(4 / s), 6);
  });
  it('rejects shape errors at the line that made them', () => {
    const b = new GraphBuilder('bad', ['S']);
    const x = b.input('x', 'f32', [b.sym('S'), 3]);
    const w = b.param('w', 'f32', [2, 4], 'w');
    expect(() => b.op('matmul', [x, w])).toThrow(IRError);
    expect(() => b.op('matmul', [x, w])).toThrow(/last dim must equal w's in-features/);
  });
  it('verifier reports use-before-def and undeclared symbols', () => {
    const g = tiny();
    g.nodes.reverse();
    const msgs = verifyIssues(g).map((i) => i.message).join('\n');
    expect(msgs).toMatch(/used before it is defined/);
  });
  it('binds symbols from input shapes and checks them', () => {
    const g = tiny();
    expect(() => interpret(g, { inputs: { x: i32([1, 3]) }, params: () => f32([1]) })).toThrow(/must be f32/);
  });
});
