// Hand-written cases for the text IR parser, and the corpus of invalid IR in ./invalid.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { dimToString, SymDim } from '../../ir/dim.js';
import { IRError } from '../../ir/errors.js';
import { registerOp } from '../../ir/op.js';
import { parseDim, parseGraph, parseGraphUnverified } from '../../ir/parser.js';
import { printGraph } from '../../ir/printer.js';
import { typeToString } from '../../ir/types.js';

// An op with one attribute of every kind, so these tests do not depend on other ops' schemas.
registerOp({
  name: 'test_attr_kinds',
  summary: 'identity; carries one attribute of each type',
  operands: ['x'],
  attrs: {
    i: { type: 'int' },
    f: { type: 'float' },
    b: { type: 'bool' },
    s: { type: 'string', default: 'none' },
    is: { type: 'ints', default: [] },
    fs: { type: 'floats', default: [] },
    d: { type: 'dim', default: 0 },
    ds: { type: 'dims', default: [] },
  },
  infer: ([x]) => [x],
  evaluate: ([x]) => [x],
});

/** The IRError that parsing `text` throws. */
function parseError(text: string, file?: string): IRError {
  try {
    parseGraph(text, file);
  } catch (e) {
    expect(e).toBeInstanceOf(IRError);
    return e as IRError;
  }
  throw new Error(`expected a parse error for:\n${text}`);
}

const EXAMPLE = `graph @name<S, P>(%x: f32[S, 3], state %k.0: f32[P, 2, 16]) {
  param %w: f32[2, 3] = "layer.weight"
  param %g: f32[3] = "norm.weight"
  param %wqkv: f32[6, 3] = concat("a.weight", slice("b.weight") {axis = 0, end = 2, start = 0}) {axis = 0}
  %n = rms_norm(%x, %g) {eps = 0.00001} : f32[S, 3]
  %y = matmul(%n, %w) : f32[S, 2]
  %silu = silu(%y) : f32[S, 2]
  %k.new = silu(%k.0) : f32[P, 2, 16]
  output y = %silu
  update %k.0 = %k.new
}
`;

describe('parseGraph', () => {
  it('reads the example of the design and prints it back unchanged', () => {
    const g = parseGraph(EXAMPLE);
    expect(g.name).toBe('name');
    expect(g.symbols).toEqual(['S', 'P']);
    expect(g.inputs.map((v) => [v.name, typeToString(v.type), v.def.kind === 'input' && v.def.state])).toEqual([
      ['x', 'f32[S, 3]', false],
      ['k.0', 'f32[P, 2, 16]', true],
    ]);
    expect(g.params.map((p) => p.name)).toEqual(['w', 'g', 'wqkv']);
    expect(g.nodes.map((n) => n.op)).toEqual(['rms_norm', 'matmul', 'silu', 'silu']);
    expect(g.nodes[0].attrs).toEqual({ eps: 0.00001, offset: 0 });
    expect(g.output('y')?.name).toBe('silu');
    expect(g.updates.map((u) => [u.state.name, u.value.name])).toEqual([['k.0', 'k.new']]);
    expect(printGraph(g)).toBe(EXAMPLE);
  });

  it('ignores comments, blank lines, tabs and CRLF line ends', () => {
    const text = [
      '// leading comment',
      'graph @c<S>( // inputs follow',
      '\t%x : f32[ S ,3 ] ) {',
      '',
      '  %y=silu(%x):f32[S,3]   // trailing comment with "quotes" and %names',
      '  // a whole-line comment',
      '  output y = %y',
      '} // after the graph',
      '',
    ].join('\r\n');
    const g = parseGraph(text);
    expect(printGraph(g)).toBe('graph @c<S>(%x: f32[S, 3]) {\n  %y = silu(%x) : f32[S, 3]\n  output y = %y\n}\n');
    expect(g.nodes[0].loc).toEqual({ line: 5, column: 3 });
  });

  it('reads an empty graph with no symbols', () => {
    const g = parseGraph('graph @empty() {}');
    expect(g.symbols).toEqual([]);
    expect(g.inputs).toEqual([]);
    expect(g.nodes).toEqual([]);
    expect(printGraph(g)).toBe('graph @empty() {\n}\n');
    expect(printGraph(parseGraph('graph @e<>() {\n}\n'))).toBe('graph @e() {\n}\n');
  });

  it('reads every attribute kind by its schema', () => {
    const g = parseGraph(`graph @a<S>(%x: f32[S]) {
  %t = test_attr_kinds(%x) {b = true, d = S-1, ds = [2*(S+1), 3, ceildiv(S, 4)], f = 1, fs = [1, -0.5, 1e-5, inf, -inf, nan], i = -3, is = [0, -1, 9007199254740991], s = "tanh\\u00e9\\n"} : f32[S]
  %u = test_attr_kinds(%x) {b = false, f = -inf, i = 0} : f32[S]
  %v = test_attr_kinds(%x) {b = false, f = nan, i = 2} : f32[S]
  %w = test_attr_kinds(%x) {b = false, f = 1e+300, i = 2, d = 7} : f32[S]
}`);
    const [t, u, v, w] = g.nodes.map((n) => n.attrs);
    expect(t.b).toBe(true);
    expect(t.f).toBe(1);
    expect(t.i).toBe(-3);
    expect(t.s).toBe('tanhé\n');
    expect(t.is).toEqual([0, -1, Number.MAX_SAFE_INTEGER]);
    expect(t.fs).toEqual([1, -0.5, 1e-5, Infinity, -Infinity, NaN]);
    expect(t.d).toBeInstanceOf(SymDim);
    expect(dimToString(t.d as SymDim)).toBe('S-1');
    expect((t.ds as SymDim[]).map(dimToString)).toEqual(['2*S+2', '3', 'ceildiv(S, 4)']);
    // Absent attributes get their defaults, as the builder gives them.
    expect(u).toEqual({ b: false, f: -Infinity, i: 0, s: 'none', is: [], fs: [], d: 0, ds: [] });
    expect(v.f).toBeNaN();
    expect(w.f).toBe(1e300);
    expect(w.d).toBe(7);
    // Printing writes floats so that they read back as floats, and omits defaults.
    expect(printGraph(g)).toContain('{b = true, d = S-1, ds = [2*S+2, 3, ceildiv(S, 4)], f = 1.0, fs = [1.0, -0.5, 0.00001, inf, -inf, nan], i = -3, is = [0, -1, 9007199254740991], s = "tanhé\\n"}');
    expect(printGraph(parseGraph(printGraph(g)))).toBe(printGraph(g));
  });

  it('canonicalizes dim expressions in shapes', () => {
    const g = parseGraph(`graph @d<S, P>(%a: f32[ceildiv(P+S, 64), 2*(S+1), S*P, (S), 1-S, P+S-P, max(S, S), floordiv(S, 1), min(S, 8)]) {}`);
    expect(typeToString(g.inputs[0].type)).toBe('f32[ceildiv(P+S, 64), 2*S+2, P*S, S, -S+1, S, S, S, min(S, 8)]');
  });

  it('reads nested weight sources, escapes in tensor names and fills transform defaults', () => {
    const g = parseGraph(`graph @w() {
  param %a: f32[4, 3] = transpose(convert(concat("q\\"uote", "tab\\t", "\\u00e9\\ud83d\\ude00") {axis = 1}) {dtype = "f16"})
  param %b: f32[4, 3] = scale_cols("w", "g")
  param %c: q8_0[4, 32] = convert(reshape("x") {shape = [4, 32]}) {dtype = "q8_0"}
}`);
    const a = g.params[0].def;
    expect(a.kind === 'param' && a.source).toEqual({
      kind: 'call', fn: 'transpose', attrs: {}, args: [{
        kind: 'call', fn: 'convert', attrs: { dtype: 'f16' }, args: [{
          kind: 'call', fn: 'concat', attrs: { axis: 1 }, args: [
            { kind: 'tensor', name: 'q"uote' }, { kind: 'tensor', name: 'tab\t' }, { kind: 'tensor', name: 'é😀' },
          ],
        }],
      }],
    });
    const b = g.params[1].def;
    expect(b.kind === 'param' && b.source.kind === 'call' && b.source.attrs).toEqual({ offset: 0 });
    expect(printGraph(parseGraph(printGraph(g)))).toBe(printGraph(g));
  });

  it('reads multi-result ops', () => {
    registerOnce();
    const g = parseGraph(`graph @m<S>(%x: f32[S, 3]) {
  %a, %b = test_two(%x) : f32[S, 3], f32[S, 3]
  output a = %a
  output b = %b
}`);
    expect(g.nodes[0].outputs.map((v) => v.name)).toEqual(['a', 'b']);
    expect(g.nodes[0].outputs[1].def).toMatchObject({ kind: 'node', index: 1 });
    expect(g.output('b')).toBe(g.nodes[0].outputs[1]);
  });

  it('attaches source locations (with the file) to values and nodes', () => {
    const g = parseGraph(EXAMPLE, 'model.ir');
    expect(g.inputs[1].loc).toEqual({ line: 1, column: 40, file: 'model.ir' });
    expect(g.params[0].loc).toEqual({ line: 2, column: 9, file: 'model.ir' });
    expect(g.nodes[1].loc).toEqual({ line: 6, column: 3, file: 'model.ir' });
    expect(g.nodes[1].outputs[0].loc).toEqual({ line: 6, column: 3, file: 'model.ir' });
  });

  it('lets keywords be names where a name is expected', () => {
    const g = parseGraph('graph @k<state>(%param: f32[state]) {\n  output param = %param\n  output graph.0 = %param\n}\n');
    expect(g.outputs.map((o) => o.name)).toEqual(['param', 'graph.0']);
    expect(printGraph(parseGraph(printGraph(g)))).toBe(printGraph(g));
  });

  it('accepts statements in any order as long as values are defined before use', () => {
    const g = parseGraph(`graph @o<S>(%x: f32[S, 3]) {
  output x = %x
  %y = silu(%x) : f32[S, 3]
  param %w: f32[2, 3] = "w"
  %z = matmul(%y, %w) : f32[S, 2]
}`);
    expect(printGraph(g)).toBe(`graph @o<S>(%x: f32[S, 3]) {
  param %w: f32[2, 3] = "w"
  %y = silu(%x) : f32[S, 3]
  %z = matmul(%y, %w) : f32[S, 2]
  output x = %x
}
`);
  });
});

let twoRegistered = false;
function registerOnce(): void {
  if (twoRegistered) return;
  twoRegistered = true;
  registerOp({ name: 'test_two', summary: 'two copies', operands: ['x'], attrs: {}, infer: ([x]) => [x, x], evaluate: ([x]) => [x, x] });
}

describe('parse errors', () => {
  it('say what was expected, after what, and what was found, at line:column', () => {
    const e = parseError('graph @g<S>(%x: f32[S, 3]) {\n  %y = silu(%x) {} {} : f32[S, 3]\n}\n');
    expect(e.message).toBe("2:20: expected ':' and the result types after '}', found '{'");
    expect(e.loc).toEqual({ line: 2, column: 20 });
  });

  it('prefix the file name', () => {
    const e = parseError('graph @g() {\n  %y = silu(%x) : f32[3]\n}', 'dir/f.ir');
    expect(e.message).toBe('dir/f.ir:2:13: unknown value %x');
    expect(e.loc).toEqual({ line: 2, column: 13, file: 'dir/f.ir' });
  });

  it('from the verifier point at the node and list every issue', () => {
    const e = parseError(`graph @v<S>(%x: f32[S, 3]) {
  %a = silu(%x) : f32[S, 4]
  %b = silu(%x) : f32[S]
}`);
    expect(e.loc).toEqual({ line: 2, column: 3 });
    expect(e.message).toMatch(/^2:3: node 0 \(%a = silu\): result %a is declared f32\[S, 4\] but silu gives f32\[S, 3\]\n {2}3:3: node 1/);
  });

  it('are left to the caller by parseGraphUnverified when only types are wrong', () => {
    const g = parseGraphUnverified('graph @u<S>(%x: f32[S, 3]) {\n  %a = silu(%x) : f32[S, 4]\n}');
    expect(typeToString(g.nodes[0].outputs[0].type)).toBe('f32[S, 4]');
    expect(() => parseGraphUnverified('graph @u() {\n  %a = nope() : f32[]\n}')).toThrow(/unknown op 'nope'/);
  });

  it('name lexing problems precisely', () => {
    expect(parseError('graph @g() {\n  param %w: f32[1] = "a\u0007b"\n}').message).toBe('2:24: control character U+0007 in a string (write it as a \\u escape)');
    expect(parseError('graph @g() {\n  param %w: f32[1] = "\\u12"\n}').message).toMatch(/^2:23: bad \\u escape/);
    expect(parseError('graph @g() { € }').message).toBe("1:14: unexpected character '€' (U+20AC)");
    expect(parseError('graph @g() {\u0000}').message).toBe('1:13: unexpected character U+0000');
  });

  it('refuse undeclared symbols in attributes and absurd dims', () => {
    expect(parseError('graph @g<S>(%x: f32[S]) {\n  %t = test_attr_kinds(%x) {b = true, d = T, f = 1, i = 1} : f32[S]\n}').message).toMatch(/^2:43: undeclared symbol 'T'/);
    expect(parseError('graph @g(%x: f32[99999999999999999999]) {}').message).toMatch(/too large/);
    expect(parseError(`graph @g<S>(%x: f32[${Array(600).fill('S').join('*')}]) {}`).message).toMatch(/^1:21: dimension 'S\*S\*S.*' is too large/);
    expect(parseError(`graph @g<S, P, B, T>(%x: f32[${Array(12).fill('(S+P+B+T+1)').join('*')}]) {}`).message).toMatch(/too large/);
    expect(parseError('graph @g<ceildiv>() {}').message).toMatch(/not a valid symbol name/);
  });

  it('are IRErrors, quickly, for pathological input', () => {
    const deep = `graph @g<S>(%x: f32[${'('.repeat(100_000)}S${')'.repeat(100_000)}]) {}`;
    const t0 = performance.now();
    expect(parseError(deep).message).toMatch(/nest deeper than/);
    expect(typeToString(parseGraph(`graph @g<S>(%x: f32[${'-'.repeat(100_001)}S]) {}`).inputs[0].type)).toBe('f32[-S]');
    expect(parseGraph(`graph @g<S>(%x: f32[${Array(20_000).fill('S').join('+')}-20000*S+1]) {}`).inputs[0].type.shape).toEqual([1]);
    expect(parseError('graph @g() {' + '%a = silu(%a) : f32[1]\n'.repeat(20_000) + '}').message).toMatch(/used before|defined twice/);
    expect(parseError('\u{1F600}'.repeat(1000)).message).toMatch(/unexpected character '😀'/);
    expect(performance.now() - t0).toBeLessThan(5000);
  });
});

describe('parseDim', () => {
  it('gives canonical dims', () => {
    expect(dimToString(parseDim('ceildiv(S+P, 64)'))).toBe('ceildiv(P+S, 64)');
    expect(dimToString(parseDim('2*(S+1)'))).toBe('2*S+2');
    expect(dimToString(parseDim('S - S + 3*4'))).toBe('12');
    expect(parseDim('-(-7)')).toBe(7);
    expect(dimToString(parseDim('max(S,P)*2 - 1', ['S', 'P']))).toBe('2*max(S, P)-1');
  });
  it('checks symbols when given them', () => {
    expect(() => parseDim('S+T', ['S'])).toThrow(/1:3: undeclared symbol 'T'/);
    expect(() => parseDim('S+', ['S'])).toThrow(/expected a number, a name or a dim expression after '\+', found end of input/);
    expect(() => parseDim('S S')).toThrow(/expected end of input after 'S', found 'S'/);
  });
  it('parses a text once per symbol set (stored programs repeat them), still checking symbols', () => {
    const free = parseDim('S+T');
    expect(parseDim('S+T')).toBe(free);
    expect(() => parseDim('S+T', ['S'])).toThrow(/undeclared symbol 'T'/);
    expect(dimToString(parseDim('S+T', ['S', 'T']))).toBe('S+T');
  });
});

describe('invalid IR corpus (test/ir/invalid)', () => {
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'invalid');
  const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Record<string, { line: number; column: number; message: string }>;
  const files = readdirSync(dir).filter((f) => f.endsWith('.ir')).sort();

  it('has an expectation for every file and a file for every expectation (≥ 20)', () => {
    expect(files.length).toBeGreaterThanOrEqual(20);
    expect(Object.keys(expected).sort()).toEqual(files);
  });

  it.each(files)('%s', (file) => {
    const want = expected[file];
    const e = parseError(readFileSync(join(dir, file), 'utf8'), file);
    expect(e.loc).toEqual({ line: want.line, column: want.column, file });
    expect(e.message.startsWith(`${file}:${want.line}:${want.column}: `)).toBe(true);
    expect(e.message).toContain(want.message);
  });
});
