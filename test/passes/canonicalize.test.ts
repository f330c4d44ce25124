import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../ir/builder.js';
import { dimAdd, dimFn, dimMul, dimToString, sym } from '../../ir/dim.js';
import { printGraph } from '../../ir/printer.js';
import { parseGraph } from '../../ir/parser.js';
import '../../passes/index.js';
import { runPipeline } from '../../passes/pass-manager.js';
import { simplifyDim } from '../../passes/simplify-dims.js';

/** Parses `body` inside a graph header and runs canonicalize; returns the printed result and stats. */
function canon(header: string, body: string, pipeline = 'canonicalize') {
  const g = parseGraph(`graph @t${header} {\n${body}\n}\n`);
  const run = runPipeline(g, pipeline);
  return { text: printGraph(run.graph), stats: run.records[0].stats, changed: run.changed, graph: run.graph };
}

const lines = (text: string) => text.trim().split('\n').slice(1, -1).map((l) => l.trim());

describe('canonicalize: dead code', () => {
  it('removes nodes that reach no output, and unused params', () => {
    const r = canon('<S>(%x: f32[S, 4])', `
      param %w: f32[2, 4] = "w"
      param %g: f32[4] = "g"
      %a = silu(%x) : f32[S, 4]
      %dead = matmul(%a, %w) : f32[S, 2]
      %dead2 = silu(%dead) : f32[S, 2]
      output y = %a`);
    expect(lines(r.text)).toEqual(['%a = silu(%x) : f32[S, 4]', 'output y = %a']);
    expect(r.stats).toEqual({ 'nodes-removed': 2, 'params-removed': 2 });
  });

  it('keeps what state updates read, and every input', () => {
    const r = canon('<S, P>(%x: f32[S, 2, 4], %unused: f32[S], state %k: f32[P, 2, 4])', `
      %k2 = kv_append(%k, %x) : f32[P+S, 2, 4]
      %dead = silu(%x) : f32[S, 2, 4]
      update %k = %k2`);
    expect(r.text).toContain('state %k: f32[P, 2, 4]');
    expect(r.text).toContain('%unused: f32[S]');
    expect(lines(r.text)).toEqual(['%k2 = kv_append(%k, %x) : f32[P+S, 2, 4]', 'update %k = %k2']);
  });

  it('reports no change on a clean graph', () => {
    const r = canon('<S>(%x: f32[S, 4])', '%a = silu(%x) : f32[S, 4]\n output y = %a');
    expect(r.changed).toBe(false);
    expect(r.stats).toEqual({});
  });
});

describe('canonicalize: common subexpressions', () => {
  it('merges equal nodes and what then becomes equal', () => {
    const r = canon('<S>(%x: f32[S, 4])', `
      param %w: f32[2, 4] = "w"
      %a = silu(%x) : f32[S, 4]
      %b = silu(%x) : f32[S, 4]
      %c = matmul(%a, %w) : f32[S, 2]
      %d = matmul(%b, %w) : f32[S, 2]
      %e = sub(%c, %d) : f32[S, 2]
      output y = %e`);
    expect(lines(r.text)).toEqual(['param %w: f32[2, 4] = "w"', '%a = silu(%x) : f32[S, 4]', '%c = matmul(%a, %w) : f32[S, 2]', '%e = sub(%c, %c) : f32[S, 2]', 'output y = %e']);
    expect(r.stats['nodes-merged']).toBe(2);
  });

  it('does not merge nodes whose attributes differ', () => {
    const r = canon('<S>(%x: f32[S, 4])', `
      param %g: f32[4] = "g"
      %a = rms_norm(%x, %g) {eps = 0.00001} : f32[S, 4]
      %b = rms_norm(%x, %g) {eps = 0.001} : f32[S, 4]
      %c = rms_norm(%x, %g) {eps = 0.001, offset = 1.0} : f32[S, 4]
      %d = add(%a, %b) : f32[S, 4]
      %e = add(%d, %c) : f32[S, 4]
      output y = %e`);
    expect(r.changed).toBe(false);
  });

  it('treats a default written out and left out as equal', () => {
    const r = canon('<S>(%x: f32[S, 4])', `
      param %g: f32[4] = "g"
      %a = rms_norm(%x, %g) : f32[S, 4]
      %b = rms_norm(%x, %g) {eps = 0.000001} : f32[S, 4]
      %d = add(%a, %b) : f32[S, 4]
      output y = %d`);
    expect(r.stats['nodes-merged']).toBe(1);
  });

  it('merges commutative ops with swapped operands, not others', () => {
    const r = canon('<S>(%x: f32[S, 4], %y: f32[S, 4])', `
      %a = add(%x, %y) : f32[S, 4]
      %b = add(%y, %x) : f32[S, 4]
      %c = sub(%x, %y) : f32[S, 4]
      %d = sub(%y, %x) : f32[S, 4]
      output a = %a
      output b = %b
      output c = %c
      output d = %d`);
    expect(lines(r.text)).toEqual([
      '%a = add(%x, %y) : f32[S, 4]', '%c = sub(%x, %y) : f32[S, 4]', '%d = sub(%y, %x) : f32[S, 4]',
      'output a = %a', 'output b = %a', 'output c = %c', 'output d = %d',
    ]);
  });

  it('does not merge nodes whose result types differ', () => {
    // The same reshape attribute cannot give two types, so build two casts to different dtypes.
    const r = canon('<S>(%x: f32[S, 4])', `
      %a = cast(%x) {dtype = "i32"} : i32[S, 4]
      %b = cast(%x) {dtype = "f32"} : f32[S, 4]
      output a = %a
      output b = %b`);
    expect(r.changed).toBe(false);
  });

  it('merges parameters bound to the same source and type', () => {
    const r = canon('<S>(%x: f32[S, 4])', `
      param %w1: f32[4, 4] = "w"
      param %w2: f32[4, 4] = "w"
      param %w3: f16[4, 4] = "w"
      param %w4: f32[4, 4] = transpose("w")
      %a = matmul(%x, %w1) : f32[S, 4]
      %b = matmul(%x, %w2) : f32[S, 4]
      %c = matmul(%x, %w3) : f32[S, 4]
      %d = matmul(%x, %w4) : f32[S, 4]
      output a = %a
      output b = %b
      output c = %c
      output d = %d`);
    expect(r.stats).toEqual({ 'params-merged': 1, 'nodes-merged': 1 });
    expect(r.text).not.toContain('%w2');
    expect(r.text).toContain('output b = %a');
  });
});

describe('canonicalize: layout folding', () => {
  it('removes a reshape to the same shape', () => {
    const r = canon('<S>(%x: f32[S, 4])', '%r = reshape(%x) {shape = [S, 4]} : f32[S, 4]\n output y = %r');
    expect(lines(r.text)).toEqual(['output y = %x']);
    expect(r.stats).toMatchObject({ 'reshapes-removed': 1 });
  });

  it('merges a reshape of a reshape', () => {
    const r = canon('<S>(%x: f32[S, 4])', `
      %a = reshape(%x) {shape = [S, 2, 2]} : f32[S, 2, 2]
      %b = reshape(%a) {shape = [4, S]} : f32[4, S]
      output y = %b`);
    expect(lines(r.text)).toEqual(['%b = reshape(%x) {shape = [4, S]} : f32[4, S]', 'output y = %b']);
    expect(r.stats).toMatchObject({ 'reshapes-merged': 1, 'nodes-removed': 1 });
  });

  it('removes a reshape round trip entirely', () => {
    const r = canon('<S>(%x: f32[S, 4])', `
      %a = reshape(%x) {shape = [4*S]} : f32[4*S]
      %b = reshape(%a) {shape = [S, 4]} : f32[S, 4]
      output y = %b`);
    expect(lines(r.text)).toEqual(['output y = %x']);
  });

  it('removes an identity transpose and merges transposes', () => {
    const r = canon('<S>(%x: f32[S, 3, 4])', `
      %i = transpose(%x) {perm = [0, 1, 2]} : f32[S, 3, 4]
      %a = transpose(%i) {perm = [1, 2, 0]} : f32[3, 4, S]
      %b = transpose(%a) {perm = [1, 0, 2]} : f32[4, 3, S]
      %c = transpose(%a) {perm = [2, 0, 1]} : f32[S, 3, 4]
      output b = %b
      output c = %c`);
    expect(lines(r.text)).toEqual(['%b = transpose(%x) {perm = [2, 1, 0]} : f32[4, 3, S]', 'output b = %b', 'output c = %x']);
    expect(r.stats).toMatchObject({ 'transposes-removed': 2, 'transposes-merged': 2 });
  });

  it('removes a slice that covers its axis, and merges slices', () => {
    const r = canon('<S>(%x: f32[S, 8])', `
      %full = slice(%x) {axis = 0, start = 0, end = S} : f32[S, 8]
      %a = slice(%full) {axis = 1, start = 2, end = 8} : f32[S, 6]
      %b = slice(%a) {axis = -1, start = 1, end = 3} : f32[S, 2]
      %last = slice(%x) {axis = 0, start = S-1, end = S} : f32[1, 8]
      output b = %b
      output last = %last`);
    expect(lines(r.text)).toEqual([
      '%b = slice(%x) {axis = -1, end = 5, start = 3} : f32[S, 2]',
      '%last = slice(%x) {end = S, start = S-1} : f32[1, 8]',
      'output b = %b',
      'output last = %last',
    ]);
    expect(r.stats).toMatchObject({ 'slices-removed': 1, 'slices-merged': 1 });
  });

  it('folds a slice that picks one operand of a concat', () => {
    const r = canon('<S>(%q: f32[S, 4], %k: f32[S, 2], %v: f32[S, 2])', `
      %qkv = concat(%q, %k, %v) {axis = 1} : f32[S, 8]
      %k2 = slice(%qkv) {axis = -1, start = 4, end = 6} : f32[S, 2]
      %kv = slice(%qkv) {axis = 1, start = 4, end = 8} : f32[S, 4]
      output k = %k2
      output kv = %kv`);
    expect(r.text).toContain('output k = %k');
    expect(r.text).toContain('%kv = slice(%qkv)');
    expect(r.stats).toMatchObject({ 'slices-of-concat-folded': 1 });
  });

  it('removes concat and split of a single piece', () => {
    const r = canon('<S>(%x: f32[S, 4])', `
      %c = concat(%x) : f32[S, 4]
      %s = split(%c) {sizes = [4]} : f32[S, 4]
      output y = %s`);
    expect(lines(r.text)).toEqual(['output y = %x']);
    expect(r.stats).toMatchObject({ 'concats-removed': 1, 'splits-removed': 1 });
  });

  it('leaves real layout changes alone', () => {
    const r = canon('<S>(%x: f32[S, 4])', `
      %a = transpose(%x) {perm = [1, 0]} : f32[4, S]
      %b = reshape(%a) {shape = [2, 2, S]} : f32[2, 2, S]
      %c = slice(%b) {start = 0, end = 1} : f32[1, 2, S]
      output y = %c`);
    expect(r.changed).toBe(false);
  });
});

describe('canonicalize: symbolic dims', () => {
  const S = sym('S'), P = sym('P');
  it('simplifies division by a divisor of the symbolic part, and min/max of dims a constant apart', () => {
    expect(dimToString(simplifyDim(dimFn('floordiv', dimAdd(dimMul(2, S), 3), 2)))).toBe('S+1');
    expect(dimToString(simplifyDim(dimFn('ceildiv', dimAdd(dimMul(4, S), 1), 4)))).toBe('S+1');
    expect(dimToString(simplifyDim(dimFn('min', dimAdd(S, 1), S)))).toBe('S');
    expect(dimToString(simplifyDim(dimFn('max', dimAdd(S, 1), S)))).toBe('S+1');
    expect(dimToString(simplifyDim(dimAdd(P, dimFn('floordiv', dimMul(4, S), 2))))).toBe('P+2*S');
    expect(dimToString(simplifyDim(dimFn('ceildiv', dimAdd(S, P), 64)))).toBe('ceildiv(P+S, 64)');
  });

  it('rewrites dims in input types and attributes, and re-infers result types', () => {
    const b = new GraphBuilder('t', ['S']);
    const S = b.sym('S');
    const S2 = dimFn('floordiv', dimMul(2, S), 2);
    const x = b.input('x', 'f32', [S2, 4]);
    const r = b.op('reshape', [x], { shape: [4, S2] });
    const s = b.op('slice', [r], { axis: 1, start: 0, end: dimFn('max', dimAdd(S, -1), dimAdd(S, -2)) });
    b.output('y', b.op('silu', [s]));
    const g = b.finish();
    expect(printGraph(g)).toContain('%silu = silu(%slice) : f32[4, max(S-1, S-2)]');
    const run = runPipeline(g, 'canonicalize');
    expect(printGraph(run.graph)).toBe(`graph @t<S>(%x: f32[S, 4]) {
  %reshape = reshape(%x) {shape = [4, S]} : f32[4, S]
  %slice = slice(%reshape) {axis = 1, end = S-1, start = 0} : f32[4, S-1]
  %silu = silu(%slice) : f32[4, S-1]
  output y = %silu
}
`);
    expect(run.records[0].stats).toMatchObject({ 'dims-simplified': 3 });
  });
});

describe('canonicalize as a whole', () => {
  it('is idempotent', () => {
    const src = `graph @t<S>(%x: f32[S, 4]) {
      param %w: f32[4, 4] = "w"
      param %w.1: f32[4, 4] = "w"
      %a = reshape(%x) {shape = [S, 2, 2]} : f32[S, 2, 2]
      %b = reshape(%a) {shape = [S, 4]} : f32[S, 4]
      %c = matmul(%b, %w) : f32[S, 4]
      %d = matmul(%x, %w.1) : f32[S, 4]
      %e = add(%c, %d) : f32[S, 4]
      %f = transpose(%e) {perm = [1, 0]} : f32[4, S]
      %g = transpose(%f) {perm = [1, 0]} : f32[S, 4]
      output y = %g
    }`;
    const g = parseGraph(src);
    const first = runPipeline(g, 'canonicalize');
    const text = printGraph(first.graph);
    expect(lines(text)).toEqual(['param %w: f32[4, 4] = "w"', '%c = matmul(%x, %w) : f32[S, 4]', '%e = add(%c, %c) : f32[S, 4]', 'output y = %e']);
    const second = runPipeline(first.graph, 'canonicalize');
    expect(second.changed).toBe(false);
    expect(printGraph(second.graph)).toBe(text);
  });

  it('is available as the default pipeline, and dce and cse run alone', () => {
    const src = `graph @t<S>(%x: f32[S, 4]) {
      %a = silu(%x) : f32[S, 4]
      %b = silu(%x) : f32[S, 4]
      %c = add(%a, %b) : f32[S, 4]
      output y = %c
    }`;
    expect(runPipeline(parseGraph(src), 'default').records.map((r) => r.name)).toContain('canonicalize');
    const cse = runPipeline(parseGraph(src), 'cse');
    expect(cse.records[0].stats).toEqual({ 'nodes-merged': 1 });
    const dce = runPipeline(cse.graph, 'dce');
    expect(dce.changed).toBe(false);
  });
});
