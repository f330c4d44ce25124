// A rendered chat prompt → token ids. The template writes BOS itself where the model wants it,
// so the tokenizer adds none (transformers tokenizes it with add_special_tokens=False); special
// tokens written as text become their ids.
import type { Tokenizer } from '../../models/tokenizers/tokenizer.js';

/**
 * Encodes `text`; each occurrence of a key of `specials` (longest first) becomes its id and the
 * text between is encoded on its own, as llama.cpp splits a prompt on special tokens.
 */
export function encodeChatPrompt(tokenizer: Pick<Tokenizer, 'encode'>, text: string, specials: ReadonlyMap<string, number>): number[] {
  if (specials.size === 0) return tokenizer.encode(text, { addBos: false, addEos: false });
  const texts = [...specials.keys()].sort((a, b) => b.length - a.length);
  const firsts = new Set(texts.map((s) => s[0]));
  const ids: number[] = [];
  let plain = '';
  const flush = () => {
    if (plain) ids.push(...tokenizer.encode(plain, { addBos: false, addEos: false }));
    plain = '';
  };
  for (let at = 0; at < text.length;) {
    const hit = firsts.has(text[at]) ? texts.find((s) => text.startsWith(s, at)) : undefined;
    if (hit === undefined) {
      plain += text[at++];
      continue;
    }
    flush();
    ids.push(specials.get(hit)!);
    at += hit.length;
  }
  flush();
  return ids;
}
