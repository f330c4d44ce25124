// Chat templates: rendering of well-known families as transformers' apply_chat_template defines
// it (outputs worked out by hand), where a model keeps its template, multi-turn prefix round
// trips, end-of-generation ids, and special tokens in prompts.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { InputError } from '../../ir/errors.js';
import { endOfGenerationIds } from '../../models/chat/eog.js';
import { ChatTemplateError, findChatTemplate, type ChatTemplateSource } from '../../models/chat/template-source.js';
import { openModel } from '../../models/open.js';
import { loadTokenizer } from '../../models/tokenizers/load.js';
import type { Tokenizer } from '../../models/tokenizers/tokenizer.js';
import type { ChatMessage } from '../../src/chat/messages.js';
import { encodeChatPrompt } from '../../src/chat/prompt.js';
import { ChatTemplate } from '../../src/chat/template.js';
import { hasShared, sharedPath } from '../helpers/shared.js';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const template = (name: string, specials: Record<string, string>) => new ChatTemplate({ text: fixture(name), origin: name, specials });

const LLAMA3 = { bos_token: '<|begin_of_text|>', eos_token: '<|eot_id|>' };
const QWEN2 = { eos_token: '<|im_end|>', pad_token: '<|endoftext|>' };
const GEMMA = { bos_token: '<bos>', eos_token: '<eos>' };

describe('well-known chat templates render as transformers renders them', () => {
  it('Llama-3: BOS once, header per turn, content trimmed, assistant header last', () => {
    const t = template('llama3.jinja', LLAMA3);
    const out = t.render([{ role: 'system', content: 'You are helpful.' }, { role: 'user', content: '  Hi \n' }]);
    expect(out).toBe(
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are helpful.<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>' +
        '<|start_header_id|>assistant<|end_header_id|>\n\n',
    );
    expect(t.render([{ role: 'user', content: 'Hi' }], { addGenerationPrompt: false })).toBe('<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>');
  });

  it('ChatML (Qwen2): a default system turn when none is given', () => {
    const t = template('chatml-qwen2.jinja', QWEN2);
    expect(t.render([{ role: 'user', content: 'Hi' }])).toBe('<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n');
    expect(t.render([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello!' }], { addGenerationPrompt: false })).toBe(
      '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n',
    );
  });

  it('Gemma: assistant is "model", roles must alternate, no system role (raise_exception → InputError)', () => {
    const t = template('gemma.jinja', GEMMA);
    expect(t.render([{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello!' }, { role: 'user', content: 'How are you?' }])).toBe(
      '<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nHello!<end_of_turn>\n<start_of_turn>user\nHow are you?<end_of_turn>\n<start_of_turn>model\n',
    );
    expect(() => t.render([{ role: 'system', content: 'x' }, { role: 'user', content: 'Hi' }])).toThrow(InputError);
    expect(() => t.render([{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }])).toThrow(/roles must alternate/);
  });

  it('a multi-line template: trim_blocks and lstrip_blocks, no trailing newline (Zephyr)', () => {
    const t = template('zephyr.jinja', { eos_token: '</s>' });
    expect(t.render([{ role: 'system', content: 'S' }, { role: 'user', content: 'Hi' }])).toBe('<|system|>\nS</s>\n<|user|>\nHi</s>\n<|assistant|>\n');
  });

  it('text parts are joined; malformed messages are InputErrors naming the message and field', () => {
    const t = template('chatml-qwen2.jinja', QWEN2);
    expect(t.render([{ role: 'system', content: [{ type: 'text', text: 'A' }, { type: 'text', text: 'B' }] }], { addGenerationPrompt: false })).toBe('<|im_start|>system\nAB<|im_end|>\n');
    expect(() => t.render([])).toThrow(/messages is empty/);
    expect(() => t.render([{ role: 'user' } as unknown as ChatMessage])).toThrow(/messages\[0\]\.content must be a string/);
    expect(() => t.render([{ role: 'user', content: 'a' }, { role: 7, content: 'b' } as unknown as ChatMessage])).toThrow(/messages\[1\]\.role/);
    expect(() => t.render([{ role: 'user', content: [{ type: 'image_url' }] }])).toThrow(/messages\[0\]\.content\[0\]/);
  });

  it('a template that does not parse is a ChatTemplateError naming where it came from', () => {
    expect(() => new ChatTemplate({ text: '{% for m in messages %}{{ m.content }}', origin: 'my.jinja', specials: {} })).toThrow(ChatTemplateError);
    expect(() => new ChatTemplate({ text: '{% if %}', origin: 'my.jinja', specials: {} })).toThrow(/my\.jinja: not a valid Jinja template/);
  });

  // What KV reuse across turns relies on: the prompt of turn k, followed by the answer, is a
  // prefix of the prompt of turn k+1.
  it('multi-turn round trip: each turn\'s prompt + answer is a prefix of the next turn\'s prompt', () => {
    const families: [string, Record<string, string>, string][] = [
      ['llama3.jinja', LLAMA3, '<|eot_id|>'],
      ['chatml-qwen2.jinja', QWEN2, '<|im_end|>\n'],
      ['gemma.jinja', GEMMA, '<end_of_turn>\n'],
    ];
    const text = fc.string({ minLength: 1, maxLength: 12 }).map((s) => s.replace(/\s/g, 'x'));
    fc.assert(fc.property(fc.array(fc.tuple(text, text), { minLength: 1, maxLength: 4 }), (turns) => {
      for (const [file, specials, endOfTurn] of families) {
        const t = template(file, specials);
        const messages: ChatMessage[] = [];
        for (const [user, answer] of turns) {
          messages.push({ role: 'user', content: user });
          const prompt = t.render(messages);
          messages.push({ role: 'assistant', content: answer });
          const closed = t.render(messages, { addGenerationPrompt: false });
          expect(closed.startsWith(prompt + answer + endOfTurn)).toBe(true);
        }
      }
    }), { numRuns: 30 });
  });
});

describe('where a model keeps its chat template', () => {
  const dirs: string[] = [];
  afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
  const hfDir = (files: Record<string, string>) => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-chat-'));
    dirs.push(dir);
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return { path: dir, tokenizerPath: join(dir, 'tokenizer.json') } as unknown as Parameters<typeof findChatTemplate>[0];
  };

  it('tokenizer_config.json chat_template as a string, with the special-token texts', () => {
    const src = hfDir({ 'tokenizer_config.json': JSON.stringify({ chat_template: 'T', bos_token: { content: '<s>' }, eos_token: '</s>', pad_token: null }) });
    const found = findChatTemplate(src) as ChatTemplateSource;
    expect(found.text).toBe('T');
    expect(found.origin).toMatch(/tokenizer_config\.json chat_template$/);
    expect(found.specials).toEqual({ bos_token: '<s>', eos_token: '</s>' });
  });

  it('a list of named templates: "default" unless one is named; a missing name lists the names', () => {
    const src = hfDir({ 'tokenizer_config.json': JSON.stringify({ chat_template: [{ name: 'default', template: 'D' }, { name: 'tool_use', template: 'U' }] }) });
    expect(findChatTemplate(src)?.text).toBe('D');
    expect(findChatTemplate(src, 'tool_use')?.text).toBe('U');
    expect(() => findChatTemplate(src, 'rag')).toThrow(/no template named "rag" \(named templates: default, tool_use\)/);
    const bad = hfDir({ 'tokenizer_config.json': JSON.stringify({ chat_template: [{ name: 'default' }] }) });
    expect(() => findChatTemplate(bad)).toThrow(/chat_template\[0\] must be/);
  });

  it('chat_template.jinja beside the tokenizer comes first; no template at all is undefined', () => {
    const src = hfDir({ 'tokenizer_config.json': JSON.stringify({ chat_template: 'old' }), 'chat_template.jinja': 'new' });
    expect(findChatTemplate(src)?.text).toBe('new');
    expect(findChatTemplate(hfDir({ 'tokenizer_config.json': '{}' }))).toBeUndefined();
    expect(() => findChatTemplate(hfDir({ 'tokenizer_config.json': '{' }))).toThrow(/not valid JSON/);
  });
});

/** A tokenizer of single characters (ids = code points), to watch how a prompt is split. */
const charTokenizer: Pick<Tokenizer, 'vocabSize' | 'encode' | 'tokenText'> = {
  vocabSize: 1000,
  encode: (text, opts) => [...(opts?.addBos ? [999] : []), ...[...text].map((c) => c.codePointAt(0)!)],
  tokenText: (id) => String.fromCodePoint(id),
};

describe('chat prompts become ids', () => {
  it('special tokens written as text become their ids, longest first; no BOS is added', () => {
    const specials = new Map([['<|im_start|>', 900], ['<|im_end|>', 901], ['<|im', 902]]);
    expect(encodeChatPrompt(charTokenizer, '<|im_start|>ab<|im_end|>\n<|i', specials)).toEqual([900, 97, 98, 901, 10, 60, 124, 105]);
    expect(encodeChatPrompt(charTokenizer, 'ab', new Map())).toEqual([97, 98]);
  });
});

describe.runIf(hasShared('models', 'tinystories-656k'))('end-of-generation ids of the shared models', () => {
  it('TinyStories: the EOS <|end_story|> (id 2) from config, tokenizer and GGUF alike', () => {
    const dir = sharedPath('models', 'tinystories-656k');
    const hf = openModel(dir);
    expect(endOfGenerationIds(hf, undefined)).toEqual([2]);
    const gguf = openModel(join(dir, 'TinyStories-656K.f16.gguf'));
    expect(endOfGenerationIds(gguf, undefined)).toEqual([2]);
    expect(findChatTemplate(hf)).toBeUndefined();
    expect(findChatTemplate(gguf)).toBeUndefined();
  });

  it.runIf(hasShared('models', 'stories260K'))('llama2.c stops at BOS only, also from an artifact carrying its tokenizer.bin (its EOS is no end)', () => {
    const src = openModel(sharedPath('models', 'stories260K', 'stories260K.bin'));
    const tok = loadTokenizer(src.tokenizerPath!, { vocabSize: src.config.vocabSize });
    expect(tok.eosId).toBe(2); // the tokenizer's EOS, which run.c does not stop at
    expect(endOfGenerationIds(src, tok)).toEqual([1]);
    expect(endOfGenerationIds({ ...src, format: 'artifact' }, tok)).toEqual([1]);
  });

  it('generation_config.json lists and the vocabulary\'s end-of-turn tokens are added', () => {
    const base = openModel(sharedPath('models', 'tinystories-656k'));
    const dir = mkdtempSync(join(tmpdir(), 'tessera-eog-'));
    try {
      writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: [2, 7] }));
      const src = { ...base, path: dir, tokenizerPath: undefined };
      const vocab = { ...charTokenizer, vocabSize: 20, tokenText: (id: number) => (id === 11 ? '<|im_end|>' : id === 12 ? '<end_of_turn>' : `t${id}`) };
      expect(endOfGenerationIds(src, vocab)).toEqual([2, 7, 11, 12]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
