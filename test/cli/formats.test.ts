// The graph output formats of `tessera dump`: JSON (round trip) and Graphviz DOT.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { graphToDot } from '../../ir/dot.js';
import { graphFromJSON, graphToJSON, parseGraphJSON, printGraphJSON } from '../../ir/json.js';
import { registerOp } from '../../ir/op.js';
import { parseGraph } from '../../ir/parser.js';
import { printGraph } from '../../ir/printer.js';
import { randomGraph } from '../helpers/random-graph.js';

registerOp({
  name: 'test_fused_mlp',
  summary: 'a fused op, for drawing',
  operands: ['x'],
  attrs: { act: { type: 'string', default: 'silu' } },
  traits: ['fused'],
  infer: ([x]) => [x],
  evaluate: ([x]) => [x],
});

const SRC = `graph @t<S, P>(%x: f32[S, 4], state %k: f32[P, 2, 2]) {
  param %w: f32[4, 4] = transpose("a \\"quoted\\" name")
  %y = matmul(%x, %w) : f32[S, 4]
  %r = reshape(%y) {shape = [S, 2, 2]} : f32[S, 2, 2]
  %p0, %p1 = split(%y) {sizes = [1, 3]} : f32[S, 1], f32[S, 3]
  %s = slice(%y) {end = S, start = S-1} : f32[1, 4]
  %f = test_fused_mlp(%y) {act = "gelu"} : f32[S, 4]
  %k2 = kv_append(%k, %r) : f32[P+S, 2, 2]
  %m = scale(%f) {factor = -inf} : f32[S, 4]
  output y = %m
  output last = %s
  output parts = %p1
  update %k = %k2
}
`;

describe('JSON form', () => {
  it('round-trips random graphs exactly', () => {
    fc.assert(
      fc.property(randomGraph(), (g) => {
        const text = printGraphJSON(g);
        const back = parseGraphJSON(text);
        expect(printGraph(back)).toBe(printGraph(g));
        expect(printGraphJSON(back)).toBe(text);
      }),
      { numRuns: 200 },
    );
  });

  it('tags dims and non-finite floats, and keeps keys in a fixed order', () => {
    const g = parseGraph(SRC);
    const j = graphToJSON(g);
    expect(Object.keys(j)).toEqual(['format', 'version', 'name', 'symbols', 'inputs', 'params', 'nodes', 'outputs', 'updates']);
    expect(j.inputs[1]).toEqual({ name: 'k', type: { dtype: 'f32', shape: ['P', 2, 2] }, state: true });
    expect(j.params[0].source).toEqual({ fn: 'transpose', args: [{ tensor: 'a "quoted" name' }], attrs: {} });
    expect(j.nodes.find((n) => n.op === 'slice')!.attrs).toEqual({ axis: 0, end: { dim: 'S' }, start: { dim: 'S-1' } });
    expect(j.nodes.find((n) => n.op === 'scale')!.attrs).toEqual({ factor: { float: '-inf' } });
    expect(j.nodes.find((n) => n.op === 'reshape')!.attrs).toEqual({ shape: [{ dim: 'S' }, 2, 2] });
    expect(printGraph(graphFromJSON(JSON.parse(JSON.stringify(j))))).toBe(printGraph(g));
  });

  it('names the JSON path of what is wrong', () => {
    const good = graphToJSON(parseGraph(SRC));
    const bad = (edit: (j: any) => void) => {
      const j = JSON.parse(JSON.stringify(good));
      edit(j);
      return () => graphFromJSON(j);
    };
    expect(bad((j) => (j.format = 'onnx'))).toThrow(/\$\.format: expected "tessera\.graph"/);
    expect(bad((j) => (j.version = 9))).toThrow(/\$\.version: version 9 is not supported/);
    expect(bad((j) => (j.nodes[0].inputs[1] = 'nope'))).toThrow(/\$\.nodes\[0\]\.inputs\[1\]: %nope is not defined/);
    expect(bad((j) => (j.inputs[0].type.dtype = 'f64'))).toThrow(/\$\.inputs\[0\]\.type\.dtype: unknown dtype 'f64'/);
    expect(bad((j) => (j.inputs[0].type.shape[0] = 'S+'))).toThrow(/\$\.inputs\[0\]\.type\.shape\[0\]/);
    expect(bad((j) => (j.nodes[1].results = 3))).toThrow(/\$\.nodes\[1\]\.results: expected an array/);
    expect(bad((j) => (j.params[0].name = 'x'))).toThrow(/\$\.params\[0\]: %x is defined twice/);
    expect(() => parseGraphJSON('{"format": ', 'g.json')).toThrow(/^g\.json: invalid JSON/);
  });
});

describe('DOT form', () => {
  const dot = graphToDot(parseGraph(SRC));

  it('labels nodes with op, non-default attributes and result types', () => {
    expect(dot).toMatch(/^digraph "t" \{\n/);
    expect(dot).toContain('n0 [fillcolor="#e7f5ff", color="#1c7ed6", label="matmul\\n%y: f32[S, 4]"];');
    expect(dot).toContain('label="slice\\nend=S\\nstart=S-1\\n%s: f32[1, 4]"');
    expect(dot).toMatch(/label="split\\nsizes=\[1, 3\]\\n%p0: f32\[S, 1\]\\n%p1: f32\[S, 3\]"/);
    // The default act=silu would be left out; gelu is shown.
    expect(dot).toContain('act=\\"gelu\\"');
  });

  it('draws params as small boxes, inputs as ellipses, outputs and updates as houses', () => {
    expect(dot).toMatch(/p0 \[shape=box, [^\n]*height=0\.2[^\n]*label="%w: f32\[4, 4\]\\ntranspose\(\\"a \\\\\\"quoted\\\\\\" name\\"\)"\];/);
    expect(dot).toMatch(/in0 \[shape=ellipse[^\n]*label="%x\\nf32\[S, 4\]"\]/);
    expect(dot).toMatch(/in1 \[shape=ellipse[^\n]*label="state %k\\nf32\[P, 2, 2\]"\]/);
    expect(dot).toContain('out0 [shape=house, style=filled, fillcolor="#d3f9d8", label="output y"];');
    expect(dot).toContain('upd0 [shape=house, style=filled, fillcolor="#fff3bf", label="update %k"];');
    expect(dot).toContain('n6 -> out0;');
    expect(dot).toContain('n5 -> upd0;');
  });

  it('frames and colors fused ops', () => {
    expect(dot).toMatch(/subgraph cluster_fused_4 \{ label="fused";[^\n]* n4 \[fillcolor="#ffd8a8", color="#e8590c", penwidth=2, label="test_fused_mlp\\nact=\\"gelu\\"\\n%f: f32\[S, 4\]"\]; \}/);
  });

  it('connects values to their users, naming which result of a multi-result node', () => {
    expect(dot).toContain('in0 -> n0;');
    expect(dot).toContain('p0 -> n0;');
    expect(dot).toContain('n2 -> out2 [label="%p1"];');
    expect(dot.trimEnd().endsWith('}')).toBe(true);
  });
});
