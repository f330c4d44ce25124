// Fuzzing the parser with mutations of valid printed graphs: whatever the input, parseGraph returns
// a verified graph (which then round-trips) or throws an IRError, and it does so quickly.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IRError } from '../../ir/errors.js';
import { parseGraph } from '../../ir/parser.js';
import { printGraph } from '../../ir/printer.js';
import { randomGraph } from '../helpers/random-graph.js';

/** Characters that matter to the lexer and grammar, plus a few that never should. */
const SPLICE_CHARS = [...'%@"\\{}()[]<>,:=+-*/. \n\t\r0123456789eSPxfinatu_', '\u0000', '\u00e9', '\ud83d', '\u2028', '\ufeff', '😀'];
const arbSplice = fc.string({ unit: fc.constantFrom(...SPLICE_CHARS), minLength: 1, maxLength: 4 });

/** Rough tokens (not the real lexer, so that it splits invalid text too); whitespace is kept. */
const TOKEN = /%[\w.]+|@[\w.-]+|"(?:[^"\\\n]|\\.)*"|\d+(?:\.\d+)?(?:e[+-]?\d+)?|[A-Za-z_][\w.]*|\s+|[^]/gu;

type Edit = { kind: string; at: number; to: number; text: string };
const arbEdits = (kinds: readonly string[]) =>
  fc.array(fc.record({ kind: fc.constantFrom(...kinds), at: fc.nat(), to: fc.nat(), text: arbSplice }), { minLength: 1, maxLength: 4 });

function mutateChars(text: string, edits: readonly Edit[]): string {
  let s = text;
  for (const e of edits) {
    const i = e.at % (s.length + 1), j = Math.min(s.length, i + (e.to % 8));
    switch (e.kind) {
      case 'replace': s = s.slice(0, i) + e.text + s.slice(i + 1); break;
      case 'insert': s = s.slice(0, i) + e.text + s.slice(i); break;
      case 'delete': s = s.slice(0, i) + s.slice(j); break;
      case 'duplicate': s = s.slice(0, j) + s.slice(i, j) + s.slice(j); break;
    }
  }
  return s;
}

function mutateTokens(text: string, edits: readonly Edit[]): string {
  const toks = text.match(TOKEN) ?? [];
  for (const e of edits) {
    if (toks.length === 0) break;
    const i = e.at % toks.length, j = e.to % toks.length;
    switch (e.kind) {
      case 'delete': toks.splice(i, 1); break;
      case 'duplicate': toks.splice(i, 0, toks[i]); break;
      case 'swap': [toks[i], toks[j]] = [toks[j], toks[i]]; break;
      case 'copy': toks[i] = toks[j]; break;
      case 'splice': toks.splice(i, 0, e.text); break;
    }
  }
  return toks.join('');
}

const LIMIT_MS = 1000;

/** The parser's contract on one input; returns whether it parsed. */
function checkInput(text: string): boolean {
  const t0 = performance.now();
  let parsed = false;
  try {
    const g = parseGraph(text);
    parsed = true;
    const printed = printGraph(g);
    expect(printGraph(parseGraph(printed))).toBe(printed);
  } catch (e) {
    if (!(e instanceof IRError)) throw e;
    expect(e.message).not.toMatch(/internal parser error/);
  }
  const ms = performance.now() - t0;
  if (ms > LIMIT_MS) expect.fail(`parsing took ${ms.toFixed(0)} ms (limit ${LIMIT_MS}) on:\n${text}`);
  return parsed;
}

describe('parser fuzzing', () => {
  const graphs = randomGraph({ maxOps: 8 });

  it('survives character mutations of printed graphs', () => {
    let ok = 0;
    fc.assert(
      fc.property(graphs, arbEdits(['replace', 'insert', 'delete', 'duplicate']), (g, edits) => {
        if (checkInput(mutateChars(printGraph(g), edits))) ok++;
      }),
      { numRuns: 600 },
    );
    // Some mutations (in names, numbers, comments) still give valid graphs; most do not.
    expect(ok).toBeLessThan(600);
  });

  it('survives token mutations: delete, duplicate, swap, copy, splice', () => {
    fc.assert(
      fc.property(graphs, arbEdits(['delete', 'duplicate', 'swap', 'copy', 'splice']), (g, edits) => {
        checkInput(mutateTokens(printGraph(g), edits));
      }),
      { numRuns: 600 },
    );
  });

  it('survives arbitrary strings and truncations', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => {
        checkInput(s);
        checkInput(`graph @g<S>(%x: f32[S]) {\n${s}\n}`);
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(graphs, fc.nat(), (g, n) => {
        const text = printGraph(g);
        checkInput(text.slice(0, n % (text.length + 1)));
      }),
      { numRuns: 200 },
    );
  });
});
