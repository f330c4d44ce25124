// Picks the tokenizer for a path: a model directory, tokenizer.json, tokenizer.bin or a GGUF file.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { GGUF_MAGIC } from '../formats/gguf.js';
import { LLAMA2C_MAGIC } from '../formats/llama2c.js';
import { FileSource } from '../formats/source.js';
import { FormatError } from '../formats/store.js';
import { ggufTokenizer } from './gguf.js';
import { readHfTokenizer } from './hf.js';
import { readLlama2cTokenizer } from './llama2c.js';
import { type Tokenizer } from './tokenizer.js';

export interface LoadTokenizerOptions {
  /** For llama2.c tokenizer.bin, which does not record its size: the model's vocab_size. */
  vocabSize?: number;
}

/**
 * A directory is searched for tokenizer.json, then tokenizer.bin, then a single *.gguf.
 * A file is recognised by its content: GGUF magic, JSON, or else a llama2.c tokenizer.bin.
 */
export function loadTokenizer(pathOrDir: string, opts: LoadTokenizerOptions = {}): Tokenizer {
  if (statSync(pathOrDir).isDirectory()) return loadTokenizer(findInDir(pathOrDir), opts);
  const src = new FileSource(pathOrDir);
  const head = src.read(0, Math.min(4, src.size), 'file start');
  const magic = head.length === 4 ? new DataView(head.buffer).getUint32(0, true) : undefined;
  if (magic === GGUF_MAGIC) return ggufTokenizer(src);
  if (magic === LLAMA2C_MAGIC) throw new FormatError(pathOrDir, 'this is a llama2.c model checkpoint, not a tokenizer');
  if (head[0] === 0x7b /* { */) return readHfTokenizer(pathOrDir);
  return readLlama2cTokenizer(src, opts.vocabSize);
}

function findInDir(dir: string): string {
  for (const name of ['tokenizer.json', 'tokenizer.bin']) {
    if (existsSync(join(dir, name))) return join(dir, name);
  }
  const ggufs = readdirSync(dir).filter((f) => f.endsWith('.gguf'));
  if (ggufs.length === 1) return join(dir, ggufs[0]);
  const why = ggufs.length > 1 ? `several GGUF files (${ggufs.join(', ')}): name one` : 'no tokenizer.json, tokenizer.bin or .gguf file';
  throw new FormatError(dir, `cannot pick a tokenizer: ${why}`);
}
