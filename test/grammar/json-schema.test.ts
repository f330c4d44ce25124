// Schema features at their edges (exact lengths and counts), beyond llama.cpp's cases.
import { expect, it } from 'vitest';
import { GrammarAutomaton } from '../../runtime/grammar/automaton.js';
import { buildGrammar, jsonSchemaToGbnf } from '../../runtime/grammar/index.js';

function accepts(schema: object, text: string): boolean {
  const automaton = new GrammarAutomaton(buildGrammar(jsonSchemaToGbnf(schema)));
  let state = automaton.initial();
  for (const b of new TextEncoder().encode(text)) state = automaton.stepByte(state, b);
  return automaton.accepts(state);
}

it.each([
  [{ type: 'string', minLength: 1, maxLength: 1 }, ['"a"', '"é"', '"\\n"'], ['""', '"ab"']],
  [{ type: 'string', minLength: 0, maxLength: 0 }, ['""'], ['"a"']],
  [{ type: 'string', minLength: 2, maxLength: 2 }, ['"ab"'], ['"a"', '"abc"']],
  [{ type: 'array', items: { type: 'boolean' }, minItems: 1, maxItems: 1 }, ['[true]'], ['[]', '[true,false]']],
  [{ type: 'array', items: { type: 'null' }, minItems: 2 }, ['[null,null]', '[null, null, null]'], ['[null]']],
  [{ type: 'integer', minimum: 0 }, ['0', '9999999999999999'], ['-1', '10000000000000000']],
])('%j', (schema, good, bad) => {
  expect(good.filter((t) => !accepts(schema, t))).toEqual([]);
  expect(bad.filter((t) => accepts(schema, t))).toEqual([]);
});
