// What a bad grammar, schema or option says: the kind of error, and where (line:column in GBNF,
// a JSON pointer in a schema, the option's name).
import { describe, expect, it } from 'vitest';
import { buildGrammar, GrammarAutomaton, GrammarError, jsonSchemaToGbnf, SchemaError } from '../../runtime/grammar/index.js';

describe('GBNF errors name line:column', () => {
  it.each([
    ['root ::= "abc', /^grammar 1:10: the string never ends/],
    ['root ::= [a-', /^grammar 1:10: the character class never ends/],
    ['root = "a"', /^grammar 1:6: expecting '::=' after the rule name 'root'/],
    ['root ::= foo', /^grammar 1:10: rule 'foo' is used here but never defined/],
    ['root ::= "a"\nroot ::= "b"', /^grammar 2:1: rule 'root' is defined twice \(first at 1:1\)/],
    ['root ::= "\\q"', /^grammar 1:11: unknown escape \\q/],
    ['root ::= "\\x4"', /^grammar 1:11: \\x needs 2 hex digits/],
    ['root ::= "a"{3,1}', /^grammar 1:18: the repetition \{3,1\} has its maximum below its minimum/],
    ['root ::= *', /^grammar 1:10: '\*' must follow an item to repeat/],
    ['root ::= [z-a]', /^grammar 1:11: the range z-a runs backwards/],
    ['root ::= "a" )', /^grammar 1:14: expecting the end of the line after rule 'root', found '\)'/],
    ['root ::= <foo>', /^grammar 1:10: a token is written <\[id\]>/],
    ['\n\nroot ::= ("a"\n  "b"', /^grammar 4:6: expecting '\)' to close the group opened at 3:10, found the end of the grammar/],
    ['root ::= x\nx ::= x "a" | "b"', /^grammar 2:1: rule 'x' is left-recursive/],
    ['# only a comment\n', /^grammar 1:1: the grammar defines no rules/],
    ['start ::= "a"', /^grammar: the grammar has no rule 'root' to start from; its rules are start/],
  ])('%j', (text, message) => {
    expect(() => buildGrammar(text)).toThrow(GrammarError);
    expect(() => buildGrammar(text)).toThrow(message);
  });

  it('names the file when given one', () => {
    expect(() => buildGrammar('root ::= (', { file: 'g.gbnf' })).toThrow(/^grammar g\.gbnf:1:11: /);
  });

  it('accepts comments, newlines inside groups and after |, escapes, {,n} and a custom root', () => {
    const g = buildGrammar('# c\nstart ::= ( "a" # inside\n  |\n "\\x41\\u00e9\\U0001F600" ) [^\\]a-]{,3} . # end\n', { root: 'start' });
    const automaton = new GrammarAutomaton(g);
    const accepts = (text: string) => {
      let state = automaton.initial();
      for (const b of new TextEncoder().encode(text)) state = automaton.stepByte(state, b);
      return automaton.accepts(state);
    };
    expect([accepts('Aé😀xyz.'), accepts('a€'), accepts('a]x'), accepts('aaa'), accepts('a-'), accepts('a--')]).toEqual([true, true, false, false, true, false]);
  });
});

describe('JSON schema errors name the JSON pointer', () => {
  it.each([
    [{ type: 'foo' }, "'/type'", /unknown type "foo"/],
    [{ properties: { a: { not: {} } } }, "'/properties/a'", /'not' is not supported/],
    [{ type: 'string', pattern: '^(a)\\1$' }, "'/pattern'", /backreferences are not regular/],
    [{ type: 'string', format: 'email' }, "'/format'", /format "email" is not supported; the formats are date, time, date-time, uuid/],
    [{ $ref: '#/definitions/missing' }, "'/\\$ref'", /leads nowhere/],
    [{ type: 'array', minItems: 3, maxItems: 1 }, 'the root', /maxItems 1 is below minItems 3/],
    [false, 'the root', /allows no value/],
  ])('%j', (schema, where, message) => {
    expect(() => jsonSchemaToGbnf(schema)).toThrow(SchemaError);
    expect(() => jsonSchemaToGbnf(schema)).toThrow(new RegExp(`^JSON schema at ${where}`));
    expect(() => jsonSchemaToGbnf(schema)).toThrow(message);
  });
});
