// llama.cpp's grammar test cases, ported as data (test/grammar/data/*.json, extracted from
// tests/test-grammar-integration.cpp and tests/test-json-schema-to-grammar.cpp of the commit named
// in each file): grammars and schemas with strings they must accept and reject, grammars that must
// fail to build, and the grammars llama.cpp's converter writes for its schema cases.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { GrammarAutomaton } from '../../runtime/grammar/automaton.js';
import { buildGrammar, GrammarError, jsonSchemaToGbnf, SchemaError } from '../../runtime/grammar/index.js';

const DATA = join(dirname(fileURLToPath(import.meta.url)), 'data');
type Piece = string | { readonly token: number };
type Input = string | readonly Piece[];
interface MatchCase { readonly name: string; readonly grammar?: string; readonly schema?: unknown; readonly pass: readonly Input[]; readonly fail: readonly Input[] }
interface BuildCase { readonly name: string; readonly grammar: string; readonly root?: string }
const integration = JSON.parse(readFileSync(join(DATA, 'llama-cpp-grammar-integration.json'), 'utf8')) as { cases: MatchCase[]; buildFails: BuildCase[]; builds: BuildCase[] };

const encoder = new TextEncoder();

/**
 * Feeds the input as llama.cpp's test does: each code point of text as token 0 with that text,
 * each token(N) as token N with the text "<[N]>"; true when the grammar accepts at the end.
 */
function matches(grammar: string, input: Input): boolean {
  const automaton = new GrammarAutomaton(buildGrammar(grammar));
  let state = automaton.initial();
  const pieces = typeof input === 'string' ? [input] : input;
  for (const piece of pieces) {
    const steps = typeof piece === 'string' ? [...piece].map((ch) => ({ id: 0, bytes: encoder.encode(ch) })) : [{ id: piece.token, bytes: encoder.encode(`<[${piece.token}]>`) }];
    for (const { id, bytes } of steps) {
      state = automaton.stepToken(state, id, bytes);
      if (state === 0) return false;
    }
  }
  return automaton.accepts(state);
}

const show = (input: Input) => (typeof input === 'string' ? JSON.stringify(input) : input.map((p) => (typeof p === 'string' ? JSON.stringify(p) : `<[${p.token}]>`)).join(' '));

describe('llama.cpp test-grammar-integration: strings each grammar and schema must accept and reject', () => {
  it.each(integration.cases.map((c, i) => [`${i}: ${c.name || '(unnamed)'}${c.schema !== undefined ? ' (schema)' : ''}`, c] as const))('%s', (_, c) => {
    const grammar = c.grammar ?? jsonSchemaToGbnf(c.schema);
    const wrong = [
      ...c.pass.filter((s) => !matches(grammar, s)).map((s) => `should accept ${show(s)}`),
      ...c.fail.filter((s) => matches(grammar, s)).map((s) => `should reject ${show(s)}`),
    ];
    expect(wrong, grammar).toEqual([]);
  });

  it.each(integration.buildFails.map((c) => [c.name, c] as const))('fails to build: %s', (_, c) => {
    expect(() => buildGrammar(c.grammar, { root: c.root })).toThrow(GrammarError);
  });

  it.each(integration.builds.map((c) => [c.name, c] as const))('builds: %s', (_, c) => {
    expect(() => buildGrammar(c.grammar, { root: c.root })).not.toThrow();
  });
});

interface SchemaCase { readonly status: 'SUCCESS' | 'FAILURE'; readonly name: string; readonly schema: string; readonly grammar: string }
const schemaCases = (JSON.parse(readFileSync(join(DATA, 'llama-cpp-json-schema-to-grammar.json'), 'utf8')) as { cases: SchemaCase[] }).cases;

describe('llama.cpp test-json-schema-to-grammar: schemas and the grammars llama.cpp writes for them', () => {
  it.each(schemaCases.filter((c) => c.status === 'SUCCESS').map((c, i) => [`${i}: ${c.name}`, c] as const))('%s: converts, and llama.cpp\'s grammar parses here', (_, c) => {
    expect(() => buildGrammar(jsonSchemaToGbnf(JSON.parse(c.schema)))).not.toThrow();
    expect(() => buildGrammar(c.grammar)).not.toThrow();
  });

  it.each(schemaCases.filter((c) => c.status === 'FAILURE').map((c) => [c.name, c] as const))('%s: refused', (_, c) => {
    expect(() => jsonSchemaToGbnf(JSON.parse(c.schema))).toThrow(SchemaError);
  });
});
