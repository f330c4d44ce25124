// Generation under a grammar with a scripted model: the grammar overrides what the logits
// prefer (greedy included: the on-device argmax is never used), generation ends when only EOS may
// follow, and bad options are refused when generate() is called.
import { describe, expect, it } from 'vitest';
import { generateTokens, type GenerateParams, type GenerationModel } from '../../runtime/generate.js';
import type { Executor } from '../../runtime/executor.js';
import { GrammarError } from '../../runtime/grammar/errors.js';
import { OptionError } from '../../runtime/options.js';
import type { Tokenizer } from '../../models/tokenizers/tokenizer.js';

const PIECES = ['<eos>', 'a', 'b', '{', '}', '"', ':', ' ', '1', ',', 'z', 'ab', '"a', '<0xC3>', '<0xA9>'];
const EOS = 0;
const bytesOf = (p: string): Uint8Array => (p === '<eos>' ? new Uint8Array(0) : /^<0x/.test(p) ? Uint8Array.of(parseInt(p.slice(3, 5), 16)) : new TextEncoder().encode(p));

const tokenizer: Tokenizer = {
  vocabSize: PIECES.length,
  eosId: EOS,
  encode: (text) => [...text].map((c) => PIECES.indexOf(c)),
  decode: (ids) => new TextDecoder().decode(Uint8Array.from(ids.flatMap((id) => [...bytesOf(PIECES[id])]))),
  tokenText: (id) => PIECES[id],
  decodeStep: (_prev, id) => new TextDecoder().decode(bytesOf(PIECES[id])),
  tokenBytes: (id) => bytesOf(PIECES[id]),
};

/** Logits that always prefer 'z', then EOS: the grammar alone makes the output valid. */
function scriptedModel(): GenerationModel & { greedyCalls: number } {
  let position = 0;
  const state = { greedyCalls: 0 };
  const logits = () => Float32Array.from(PIECES, (p) => (p === 'z' ? 10 : p === '<eos>' ? 5 : Math.random()));
  const executor: Executor = {
    backend: 'scripted', contextLength: 64, vocabSize: PIECES.length,
    get position() { return position; },
    async forward(tokens) { position += tokens.length; return logits(); },
    async forwardGreedy(tokens) { position += tokens.length; state.greedyCalls++; return 10; },
    truncate(n) { position = n; },
    reset() { position = 0; },
    async dispose() {},
  };
  return Object.assign(state, { executor, tokenizer, eosIds: [EOS] });
}

async function run(model: GenerationModel, params: GenerateParams) {
  const gen = generateTokens(model, [1], params);
  let text = '';
  for (;;) {
    const r = await gen.next();
    if (r.done) return { text, stop: r.value.stopReason };
    text += r.value.text;
  }
}

describe('generation under a grammar', () => {
  it('greedy follows the grammar against the logits, without the on-device argmax, and stops when only EOS may follow', async () => {
    const model = scriptedModel();
    expect(await run(model, { grammar: 'root ::= "ab" [0-9] "é"' })).toEqual({ text: 'ab1é', stop: 'eos' });
    expect(model.greedyCalls).toBe(0);
    const free = scriptedModel();
    expect((await run(free, { maxTokens: 3 })).text).toBe('zzz');
    expect(free.greedyCalls).toBe(3);
  });

  it('EOS is taken once the grammar accepts; sampling respects the mask at any temperature', async () => {
    // Prefers EOS over everything but z: after "a" the grammar accepts, so EOS ends it.
    expect(await run(scriptedModel(), { grammar: 'root ::= "a"+', temperature: 0 })).toEqual({ text: 'a', stop: 'eos' });
    for (let seed = 0; seed < 20; seed++) {
      const { text } = await run(scriptedModel(), { jsonSchema: { type: 'object', properties: { a: { type: 'integer', minimum: 0, maximum: 1 } }, required: ['a'] }, temperature: 5, seed, maxTokens: 40 });
      expect(JSON.parse(text)).toEqual({ a: 1 });
    }
  });

  it('refuses bad options when called, before any step', () => {
    const model = scriptedModel();
    expect(() => generateTokens(model, [1], { grammar: 'root ::= "a" |(' })).toThrow(GrammarError);
    expect(() => generateTokens(model, [1], { grammar: 'root ::= "a" |(' })).toThrow(/^grammar 1:16: /);
    expect(() => generateTokens(model, [1], { json: true, grammar: 'root ::= "a"' })).toThrow(OptionError);
    expect(() => generateTokens(model, [1], { grammar: 3 as unknown as string })).toThrow(/generate: grammar must be GBNF grammar text/);
    expect(() => generateTokens(model, [1], { jsonSchema: { type: 'wat' } })).toThrow(/JSON schema at '\/type'/);
    expect(() => generateTokens({ ...model, tokenizer: undefined }, [1], { json: true })).toThrow(/need a tokenizer/);
  });

  it('a grammar the vocabulary cannot spell fails with a GrammarError naming the output so far', async () => {
    await expect(run(scriptedModel(), { grammar: 'root ::= "a" "Q"' })).rejects.toThrow(/no token of the vocabulary can continue the output ending "a"/);
  });
});
