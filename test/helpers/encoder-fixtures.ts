// Fixtures for the encoder tests: copies of the refs BERT checkpoints under other tensor names
// (a `bert.` prefix, old `gamma`/`beta` LayerNorm names), and a tiny WordPiece tokenizer.json
// whose ids fit the refs' 256-token vocabulary, laid out like the reranker refs ([CLS] = 1, [SEP] = 2).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openSafetensors } from '../../models/formats/safetensors.js';
import { safetensorsBytes } from '../models/writers.js';

/** Writes `to`/model.safetensors with every tensor of `from` renamed, and `to`/config.json (optionally edited). */
export function copyCheckpoint(from: string, to: string, rename: (name: string) => string, editConfig: (c: Record<string, unknown>) => void = () => {}): string {
  mkdirSync(to, { recursive: true });
  const store = openSafetensors(join(from, 'model.safetensors'));
  const tensors = store.names().map((name) => {
    const t = store.read(name);
    return { name: rename(name), dtype: 'F32', shape: [...t.shape], data: t.data };
  });
  writeFileSync(join(to, 'model.safetensors'), safetensorsBytes(tensors));
  const config = JSON.parse(readFileSync(join(from, 'config.json'), 'utf8')) as Record<string, unknown>;
  editConfig(config);
  writeFileSync(join(to, 'config.json'), JSON.stringify(config));
  return to;
}

/** TF-era names: `LayerNorm.weight` → `LayerNorm.gamma`, `LayerNorm.bias` → `LayerNorm.beta`. */
export const gammaBeta = (name: string): string => name.replace(/LayerNorm\.weight$/, 'LayerNorm.gamma').replace(/LayerNorm\.bias$/, 'LayerNorm.beta');

export const TOKENIZER_WORDS = ['the', 'a', 'cat', 'dog', 'sat', 'on', 'mat', 'runs', 'fast', 'slow', 'what', 'where', 'is', 'who', '##s', '.', '?', ','];

/** A BERT-style tokenizer.json (lowercasing, WordPiece, [CLS] a [SEP] b [SEP] template) in `dir`. */
export function writeBertTokenizer(dir: string): string {
  const specials = ['[PAD]', '[CLS]', '[SEP]', '[UNK]', '[MASK]'];
  const vocab: Record<string, number> = {};
  [...specials, ...TOKENIZER_WORDS].forEach((w, i) => (vocab[w] = i));
  const special = (id: string, typeId: number) => ({ SpecialToken: { id, type_id: typeId } });
  const seq = (id: string, typeId: number) => ({ Sequence: { id, type_id: typeId } });
  const json = {
    version: '1.0',
    added_tokens: specials.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [special('[CLS]', 0), seq('A', 0), special('[SEP]', 0)],
      pair: [special('[CLS]', 0), seq('A', 0), special('[SEP]', 0), seq('B', 1), special('[SEP]', 1)],
      special_tokens: { '[CLS]': { id: '[CLS]', ids: [1], tokens: ['[CLS]'] }, '[SEP]': { id: '[SEP]', ids: [2], tokens: ['[SEP]'] } },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
  const path = join(dir, 'tokenizer.json');
  writeFileSync(path, JSON.stringify(json));
  return path;
}
