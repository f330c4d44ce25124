// Greedy generation as the end-to-end tests check it: the token ids (without the prompt) and the text.
import type { Model } from '../../src/model.js';

export async function greedy(model: Model, prompt: string | readonly number[], maxTokens: number, stopAtEos = true): Promise<{ ids: number[]; text: string }> {
  const ids: number[] = [];
  let text = '';
  for await (const t of model.generate(prompt, { maxTokens, stopAtEos })) {
    if (t.id >= 0) ids.push(t.id);
    text += t.text;
  }
  return { ids, text };
}
