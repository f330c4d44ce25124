// fast-check arbitraries of small JSON schemas whose instances are short (bounded strings,
// arrays and integers), so constrained generation completes within a few hundred tokens.
import fc from 'fast-check';
import type { TestSchema } from './json-validate.js';

/** Scalars only: what a vocabulary without { and [ (TinyStories-656K's) can still write. */
export const leafSchema: fc.Arbitrary<TestSchema> = fc.oneof(
  fc.constant({ type: 'boolean' }),
  fc.constant({ type: 'null' }),
  fc.record({ type: fc.constant('string'), maxLength: fc.integer({ min: 0, max: 6 }) }).chain((s) => fc.integer({ min: 0, max: s.maxLength }).map((minLength) => ({ ...s, minLength }))),
  fc.tuple(fc.integer({ min: -50, max: 50 }), fc.integer({ min: 0, max: 200 })).map(([min, span]) => ({ type: 'integer', minimum: min, maximum: min + span })),
  fc.uniqueArray(fc.oneof(fc.stringMatching(/^[a-z ]{0,4}$/), fc.integer({ min: -9, max: 99 }), fc.boolean()), { minLength: 1, maxLength: 4, selector: (v) => JSON.stringify(v) }).map((e) => ({ enum: e })),
  fc.constantFrom({ type: 'string', pattern: '^[a-c]{1,3}-[0-9]$' }, { type: 'string', format: 'date' }, { type: 'string', format: 'uuid' }),
);

const key = fc.stringMatching(/^[a-z_]{1,6}$/);

export const smallSchema: fc.Arbitrary<TestSchema> = fc.letrec<{ node: TestSchema }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leafSchema,
    fc.record({ type: fc.constant('array'), items: tie('node'), maxItems: fc.integer({ min: 0, max: 3 }) }),
    fc.uniqueArray(fc.tuple(key, tie('node')), { minLength: 1, maxLength: 3, selector: ([k]) => k }).chain((entries) =>
      fc.subarray(entries.map(([k]) => k)).map((required) => ({ type: 'object', properties: Object.fromEntries(entries), required, additionalProperties: false }))),
    fc.tuple(leafSchema, leafSchema).map(([a, b]) => ({ anyOf: [a, b] })),
  ),
})).node;
