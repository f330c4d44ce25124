// OpenAI response objects: whole answers, streamed chunks, usage, finish reasons.
import { randomUUID } from 'node:crypto';
import type { GenerationStats, StopReason } from '../../runtime/generate.js';

export type Endpoint = 'chat' | 'completion';

export type FinishReason = 'stop' | 'length';

/** eos and stop texts end an answer ('stop'); running out of tokens or context cuts it ('length'). */
export function finishReason(r: StopReason): FinishReason {
  return r === 'eos' || r === 'stop' ? 'stop' : 'length';
}

export function usage(s: GenerationStats) {
  return {
    prompt_tokens: s.promptTokens,
    completion_tokens: s.generatedTokens,
    total_tokens: s.promptTokens + s.generatedTokens,
    prompt_tokens_details: { cached_tokens: s.cachedPromptTokens },
  };
}

/** What every object of one response shares. */
export class ResponseIds {
  readonly id: string;
  readonly created = Math.floor(Date.now() / 1000);
  constructor(readonly endpoint: Endpoint, readonly model: string) {
    this.id = `${endpoint === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomUUID().replaceAll('-', '')}`;
  }

  private head(object: string) {
    return { id: this.id, object, created: this.created, model: this.model };
  }

  whole(text: string, s: GenerationStats) {
    if (this.endpoint === 'chat') {
      return { ...this.head('chat.completion'), choices: [{ index: 0, message: { role: 'assistant', content: text }, logprobs: null, finish_reason: finishReason(s.stopReason) }], usage: usage(s) };
    }
    return { ...this.head('text_completion'), choices: [{ index: 0, text, logprobs: null, finish_reason: finishReason(s.stopReason) }], usage: usage(s) };
  }

  /** A streamed piece of text; the chat stream's first chunk carries the role. */
  chunk(text: string, first = false) {
    if (this.endpoint === 'chat') {
      return { ...this.head('chat.completion.chunk'), choices: [{ index: 0, delta: first ? { role: 'assistant', content: text } : { content: text }, logprobs: null, finish_reason: null }] };
    }
    return { ...this.head('text_completion'), choices: [{ index: 0, text, logprobs: null, finish_reason: null }] };
  }

  /** The last chunk of a choice: empty, with its finish reason. */
  finish(s: GenerationStats) {
    if (this.endpoint === 'chat') return { ...this.head('chat.completion.chunk'), choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: finishReason(s.stopReason) }] };
    return { ...this.head('text_completion'), choices: [{ index: 0, text: '', logprobs: null, finish_reason: finishReason(s.stopReason) }] };
  }

  /** stream_options.include_usage: a chunk with no choices and the usage, after the last. */
  usageChunk(s: GenerationStats) {
    return { ...this.head(this.endpoint === 'chat' ? 'chat.completion.chunk' : 'text_completion'), choices: [], usage: usage(s) };
  }
}
