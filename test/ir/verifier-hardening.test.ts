// The verifier's value and completeness rules (issue 18, item 12): eps and attention scale in
// range, update mismatches located, and — for a graph that is to run — outputs present and every
// state updated. The located text cases live in ./invalid (checked by parser.test.ts).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseGraph, parseGraphUnverified } from '../../ir/parser.js';
import { verifyGraph, verifyIssues } from '../../ir/verifier.js';

const norm = (eps: string) => `graph @g<S>(%x: f32[S, 4]) {
  param %g: f32[4] = "norm.weight"
  %n = rms_norm(%x, %g) {eps = ${eps}} : f32[S, 4]
  output n = %n
}`;

const attention = (scale: string) => `graph @g<S>(%q: f32[S, 2, 4], %k: f32[S, 2, 4], %v: f32[S, 2, 4]) {
  %a = attention(%q, %k, %v) {scale = ${scale}} : f32[S, 2, 4]
  output a = %a
}`;

const messages = (text: string, complete = false) => verifyIssues(parseGraphUnverified(text, 'g.ir'), { complete }).map((i) => i.message);

describe('verifier: attribute ranges', () => {
  it.each(['-1e-5', 'nan', 'inf', '-inf'])('rejects eps = %s, located at the node', (eps) => {
    expect(() => parseGraph(norm(eps), 'g.ir')).toThrow(/^g\.ir:3:3: node 0 \(%n = rms_norm\): attribute 'eps' is .*; it must be a finite number ≥ 0/);
  });

  it('accepts eps 0 in a fragment but not in a graph that is to run', () => {
    expect(messages(norm('0'))).toEqual([]);
    expect(messages(norm('0'), true)).toEqual([expect.stringMatching(/attribute 'eps' is 0; it must be a finite number > 0/)]);
    expect(messages(norm('1e-6'), true)).toEqual([]);
  });

  it.each(['0', 'nan', 'inf', '-0'])('rejects attention scale = %s', (scale) => {
    expect(() => parseGraph(attention(scale), 'g.ir')).toThrow(/g\.ir:2:3: .*attribute 'scale' is .*; it must be a finite non-zero number/);
  });

  it('accepts any finite non-zero scale and any finite eps > 0 (property)', () => {
    fc.assert(fc.property(
      fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }).filter((v) => v !== 0),
      fc.double({ noNaN: true, noDefaultInfinity: true, min: 1e-12, max: 1 }),
      (scale, eps) => {
        expect(messages(attention(String(scale)), true)).toEqual([]);
        expect(messages(norm(String(eps)), true)).toEqual([]);
      },
    ));
  });
});

describe('verifier: state updates and outputs', () => {
  it('locates an update whose value does not fit its state at the update statement', () => {
    const text = `graph @g<S, P>(%x: f32[S, 4], state %k: f32[P, 8]) {
  %y = silu(%x) : f32[S, 4]
  update %k = %y
  output y = %y
}`;
    const issues = verifyIssues(parseGraphUnverified(text, 'u.ir'));
    expect(issues).toHaveLength(1);
    expect(issues[0].loc).toEqual({ line: 3, column: 10, file: 'u.ir' });
    expect(issues[0].message).toMatch(/update %k: new value %y: f32\[S, 4\] does not fit state f32\[P, 8\]/);
  });

  it('requires outputs in a graph that is to run', () => {
    const text = 'graph @g<S>(%x: f32[S, 4]) {\n  %y = silu(%x) : f32[S, 4]\n}';
    expect(messages(text)).toEqual([]);
    const issues = verifyIssues(parseGraphUnverified(text, 'o.ir'), { complete: true });
    expect(issues.map((i) => i.message)).toEqual(['graph @g has no outputs (add \'output name = %value\')']);
    expect(issues[0].loc).toEqual({ line: 1, column: 13, file: 'o.ir' });
    expect(() => verifyGraph(parseGraphUnverified(text), { complete: true })).toThrow(/has no outputs/);
  });

  it('requires an update for every state input of a graph that is to run', () => {
    const text = `graph @g<S, P>(%x: f32[S, 4], state %k: f32[P, 4], state %v: f32[P, 4]) {
  %y = silu(%x) : f32[S, 4]
  update %k = %y
  output y = %y
}`;
    expect(messages(text)).toEqual([]);
    const issues = verifyIssues(parseGraphUnverified(text, 's.ir'), { complete: true });
    expect(issues.map((i) => i.message)).toEqual(["state input %v has no update (add 'update %v = %new_value')"]);
    expect(issues[0].loc).toEqual({ line: 1, column: 58, file: 's.ir' });
  });
});
