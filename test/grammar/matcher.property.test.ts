// The matcher's mask against brute force: for random grammars (printed as GBNF and parsed),
// random vocabularies (whole and split characters, stray bytes, multi-character tokens) and
// random token walks, token t is allowed exactly when the text so far plus t's bytes is still a
// prefix of some sentence (GrammarOracle, which reads the expression tree directly), and EOS
// exactly when the text is a sentence.
import fc from 'fast-check';
import { afterAll, expect, it } from 'vitest';
import { buildGrammar } from '../../runtime/grammar/index.js';
import { GrammarConstraint, GrammarMatcher, maskHas } from '../../runtime/grammar/matcher.js';
import { vocabularyFromBytes } from '../../runtime/grammar/vocabulary.js';
import { GrammarOracle } from './helpers/grammar-oracle.js';
import { ALPHABET, printGrammar, randomGrammar } from './helpers/random-grammar.js';
import { sentenceSampler } from './helpers/sentences.js';
import { GrammarAutomaton } from '../../runtime/grammar/automaton.js';

const utf8 = (cps: readonly number[]) => new TextEncoder().encode(String.fromCodePoint(...cps));

/** Tokens: 1–3 characters of the alphabet, some cut inside a character, some single raw bytes. */
const token = fc.oneof(
  fc.array(fc.constantFrom(...ALPHABET), { minLength: 1, maxLength: 3 }).map(utf8),
  fc.tuple(fc.array(fc.constantFrom(...ALPHABET), { minLength: 1, maxLength: 2 }), fc.nat()).map(([cps, cut]) => {
    const b = utf8(cps);
    return b.subarray(0, 1 + (cut % b.length));
  }),
  fc.integer({ min: 0, max: 255 }).map((b) => Uint8Array.of(b)),
);
const vocabulary = fc.array(token, { minLength: 8, maxLength: 40 }).map((tokens) => [...tokens, new Uint8Array(0)]); // last id: EOS (no bytes)

let decisions = { allowed: 0, forbidden: 0, eosAllowed: 0 };

it('mask == brute-force byte check of every token, along random walks (at the start of a text, a leading space dropped)', () => {
  fc.assert(fc.property(randomGrammar, vocabulary, fc.array(fc.nat(), { minLength: 1, maxLength: 8 }), fc.boolean(), (g, tokens, picks, atTextStart) => {
    const text = printGrammar(g);
    const vocab = vocabularyFromBytes(tokens);
    const eos = tokens.length - 1;
    const matcher = new GrammarMatcher(new GrammarConstraint(buildGrammar(text), vocab, [eos]), atTextStart);
    const oracle = new GrammarOracle(g);
    let prefix: number[] = [];
    for (const [step, pick] of picks.entries()) {
      const mask = matcher.mask();
      const allowed: number[] = [];
      const written = (id: number) => (atTextStart && step === 0 && tokens[id][0] === 0x20 ? tokens[id].subarray(1) : tokens[id]);
      for (let id = 0; id < eos; id++) {
        const bytes = Uint8Array.from([...prefix, ...written(id)]);
        const expected = written(id).length > 0 && oracle.viable(bytes);
        if (maskHas(mask, id) !== expected) expect.fail(`${text}after ${JSON.stringify(prefix)}: token ${id} ${JSON.stringify([...tokens[id]])} ${expected ? 'should' : 'should not'} be allowed`);
        if (expected) allowed.push(id);
        decisions[expected ? 'allowed' : 'forbidden']++;
      }
      expect(maskHas(mask, eos), `${text}EOS after ${JSON.stringify(prefix)}`).toBe(oracle.complete(Uint8Array.from(prefix)));
      if (maskHas(mask, eos)) decisions.eosAllowed++;
      if (allowed.length === 0) break;
      const next = allowed[pick % allowed.length];
      matcher.accept(next);
      prefix = [...prefix, ...written(next)];
    }
  }), { numRuns: 300 });
});

it('every sentence the compiled rules derive is accepted by the automaton and by the recognizer', () => {
  fc.assert(fc.property(randomGrammar, fc.integer(), (g, seed) => {
    const compiled = buildGrammar(printGrammar(g));
    const automaton = new GrammarAutomaton(compiled);
    const oracle = new GrammarOracle(g);
    let s = seed >>> 0;
    const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    const sample = sentenceSampler(compiled);
    for (let i = 0; i < 5; i++) {
      const bytes = sample(rand);
      let state = automaton.initial();
      for (const b of bytes) state = automaton.stepByte(state, b);
      expect(automaton.accepts(state), JSON.stringify([...bytes])).toBe(true);
      expect(oracle.complete(bytes), JSON.stringify([...bytes])).toBe(true);
    }
  }), { numRuns: 200 });
});

afterAll(() => {
  // Not vacuous: both answers were exercised many times.
  expect(decisions.allowed).toBeGreaterThan(500);
  expect(decisions.forbidden).toBeGreaterThan(500);
  expect(decisions.eosAllowed).toBeGreaterThan(20);
  decisions = { allowed: 0, forbidden: 0, eosAllowed: 0 };
});
