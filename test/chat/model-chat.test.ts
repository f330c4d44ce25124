// Model.chat(): templates from a file or the model, end-of-generation stops, and the KV cache
// kept across turns giving exactly the tokens a fresh model gives.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelBusyError } from '../../src/lifecycle.js';
import { compile } from '../../src/compile.js';
import { Model } from '../../src/model.js';
import type { ChatMessage } from '../../src/chat/messages.js';
import type { ChatOptions } from '../../src/chat/session.js';
import { MissingChatTemplateError } from '../../src/chat/session.js';
import type { GenerationStats } from '../../runtime/generate.js';
import { hasShared, sharedPath } from '../helpers/shared.js';
import { ggufWithMetadata } from './gguf-with-template.js';

const TEMPLATE = readFileSync(new URL('./fixtures/tinystories.jinja', import.meta.url), 'utf8');

async function answer(model: Model, messages: readonly ChatMessage[], opts: ChatOptions = {}): Promise<{ text: string; ids: number[]; stats: GenerationStats }> {
  const stream = model.chat(messages, { chatTemplate: TEMPLATE, maxTokens: 24, ...opts });
  let text = '';
  const ids: number[] = [];
  for (;;) {
    const r = await stream.next();
    if (r.done) return { text, ids, stats: r.value };
    text += r.value.text;
    if (r.value.id >= 0) ids.push(r.value.id);
  }
}

/** The answer from an empty cache: generate() always starts over. */
async function fromScratch(model: Model, messages: readonly ChatMessage[]): Promise<number[]> {
  const ids: number[] = [];
  for await (const t of model.generate(model.chatPromptIds(messages, TEMPLATE), { maxTokens: 24 })) if (t.id >= 0) ids.push(t.id);
  return ids;
}

describe.runIf(hasShared('models', 'tinystories-656k'))('Model.chat on TinyStories', () => {
  const dir = sharedPath('models', 'tinystories-656k');
  let tmp: string;
  beforeAll(() => { tmp = mkdtempSync(join(tmpdir(), 'tessera-chat-')); });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('a turn that extends the last conversation prefills only its new tokens and answers as a fresh model does', async () => {
    const model = Model.load(dir);
    const fresh = Model.load(dir);
    try {
      const messages: ChatMessage[] = [{ role: 'system', content: 'Once upon a time there was a dog.' }, { role: 'user', content: 'The dog' }];
      const first = await answer(model, messages);
      expect(first.stats.cachedPromptTokens).toBe(0);
      expect(first.ids.length).toBeGreaterThan(0);
      messages.push({ role: 'assistant', content: first.text }, { role: 'user', content: 'Then the cat' });
      const second = await answer(model, messages);
      // The cache held the whole first prompt and answer (less the answer's last token, never run).
      expect(second.stats.cachedPromptTokens).toBe(first.stats.promptTokens + first.ids.length - 1);
      expect(second.stats.promptTokens).toBe(model.chatPromptIds(messages, TEMPLATE).length);
      expect(second.ids).toEqual(await fromScratch(fresh, messages));
      // An edited earlier turn keeps only the common prefix (the system prompt) and still agrees.
      const edited: ChatMessage[] = [messages[0], { role: 'user', content: 'The bird' }];
      const third = await answer(model, edited);
      expect(third.stats.cachedPromptTokens).toBeGreaterThan(0);
      expect(third.stats.cachedPromptTokens).toBeLessThan(second.stats.promptTokens);
      expect(third.ids).toEqual(await fromScratch(fresh, edited));
    } finally {
      await model.dispose();
      await fresh.dispose();
    }
  });

  it('generate() in between resets the cache; chat starts over and still agrees', async () => {
    const model = Model.load(dir);
    try {
      const messages: ChatMessage[] = [{ role: 'user', content: 'Lily' }];
      const a = await answer(model, messages);
      for await (const _ of model.generate('A frog', { maxTokens: 5 })) { /* drain */ }
      const b = await answer(model, messages);
      expect(b.stats.cachedPromptTokens).toBe(0);
      expect(b.ids).toEqual(a.ids);
    } finally {
      await model.dispose();
    }
  });

  it('stops at the end-of-generation token, honours the abort signal, and refuses a second stream', async () => {
    const model = Model.load(dir);
    try {
      const long = await answer(model, [{ role: 'user', content: 'Tom had a red ball.' }], { maxTokens: 400 });
      expect(long.stats.stopReason).toBe('eos');
      expect(model.eogIds).toContain(2);
      const ctl = new AbortController();
      const stream = model.chat([{ role: 'user', content: 'Sam' }], { chatTemplate: TEMPLATE, maxTokens: 50, signal: ctl.signal });
      await stream.next();
      expect(() => model.chat([{ role: 'user', content: 'x' }], { chatTemplate: TEMPLATE })).toThrow(ModelBusyError);
      ctl.abort();
      let r = await stream.next();
      while (!r.done) r = await stream.next();
      expect(r.value.stopReason).toBe('aborted');
    } finally {
      await model.dispose();
    }
  });

  it('a model without a template and none given is a MissingChatTemplateError saying what to pass', async () => {
    const model = Model.load(dir);
    try {
      expect(() => model.chat([{ role: 'user', content: 'Hi' }])).toThrow(MissingChatTemplateError);
      expect(() => model.chat([{ role: 'user', content: 'Hi' }])).toThrow(/--chat-template FILE/);
    } finally {
      await model.dispose();
    }
  });

  it('a compiled artifact carries chat_template.jinja and generation_config.json beside its tokenizer', async () => {
    const model = join(tmp, 'with-jinja');
    mkdirSync(model);
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(dir, f), join(model, f));
    writeFileSync(join(model, 'chat_template.jinja'), TEMPLATE);
    writeFileSync(join(model, 'generation_config.json'), JSON.stringify({ eos_token_id: [2, 5] }));
    await compile(model, { out: join(tmp, 'artifact'), targets: [] });
    const source = Model.load(model);
    const compiled = Model.load(join(tmp, 'artifact'));
    try {
      const messages: ChatMessage[] = [{ role: 'user', content: 'Once upon a time' }, { role: 'assistant', content: 'a cat.' }, { role: 'user', content: 'The cat' }];
      expect(compiled.chatPromptIds(messages)).toEqual(source.chatPromptIds(messages));
      expect(compiled.chatPromptIds(messages)).toEqual(source.chatPromptIds(messages, TEMPLATE));
      expect(compiled.eogIds).toEqual([2, 5]);
    } finally {
      await source.dispose();
      await compiled.dispose();
    }
  });

  it('a GGUF carrying tokenizer.chat_template chats with it; special tokens in the prompt become their ids', async () => {
    const path = join(tmp, 'with-template.gguf');
    writeFileSync(path, ggufWithMetadata(join(dir, 'TinyStories-656K.f16.gguf'), { 'tokenizer.chat_template': TEMPLATE }));
    const model = Model.load(path);
    try {
      const messages: ChatMessage[] = [{ role: 'user', content: 'Once upon a time' }, { role: 'assistant', content: 'there was a cat.' }, { role: 'user', content: 'The cat' }];
      const ids = model.chatPromptIds(messages);
      expect(ids[0]).toBe(1); // bos_token <|start_story|>
      expect(ids).toContain(2); // eos_token <|end_story|> after the assistant turn, as its id
      expect(ids.filter((id) => id === 2)).toHaveLength(1);
      const first = await answer(model, messages, { chatTemplate: undefined });
      expect(first.ids.length).toBeGreaterThan(0);
      messages.push({ role: 'assistant', content: first.text }, { role: 'user', content: 'Then' });
      const second = await answer(model, messages, { chatTemplate: undefined });
      expect(second.stats.cachedPromptTokens).toBeGreaterThan(first.stats.promptTokens);
    } finally {
      await model.dispose();
    }
  });
});
