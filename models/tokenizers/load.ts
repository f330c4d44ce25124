// Picks the tokenizer for a path: a model directory, tokenizer.json, tokenizer.bin or a GGUF file.
import { GGUF_MAGIC } from '../formats/gguf.js';
import { LLAMA2C_MAGIC } from '../formats/llama2c.js';
import { FileSource } from '../formats/source.js';
import { ModelFormatError } from '../../ir/errors.js';
import { FormatError } from '../formats/store.js';
import { nodeBuiltin } from '../../runtime/platform/node-builtin.js';
import { ggufTokenizer } from './gguf.js';
import { readHfTokenizer } from './hf.js';
import { readLlama2cTokenizer } from './llama2c.js';
import { type Tokenizer } from './tokenizer.js';

export interface LoadTokenizerOptions {
  /**
   * The model's vocab_size (its embedding rows). A tokenizer with more ids than this, or fewer
   * beyond padding, is refused; a llama2.c tokenizer.bin, which does not record its size, is read
   * to exactly this many entries.
   */
  vocabSize?: number;
  /** The model the tokenizer serves: named in errors, and its special ids compared with the tokenizer's. */
  model?: { readonly path: string; readonly bosId?: number; readonly eosIds?: readonly number[] };
  /** Where a disagreement on special ids is reported (default console.warn). */
  warn?: (message: string) => void;
}

/**
 * Checkpoints pad the embedding past the tokenizer's last id to a multiple of 32 or more (Phi-3:
 * 32011 ids, 32064 rows; Qwen2: 151665 ids, 151936 rows); a larger gap means another vocabulary.
 */
const MAX_PADDING = 1024;

/** Throws unless the tokenizer's ids fit the model's embedding; warns when special ids differ. */
export function checkTokenizerFits(tok: Tokenizer, file: string, opts: LoadTokenizerOptions): void {
  const rows = opts.vocabSize;
  const model = opts.model ? ` (${opts.model.path})` : '';
  if (rows !== undefined) {
    const padded = tok.vocabSize <= rows && rows - tok.vocabSize < MAX_PADDING && rows % 32 === 0;
    if (tok.vocabSize !== rows && !padded) {
      throw new ModelFormatError(`${file}: the tokenizer has ${tok.vocabSize} tokens but the model${model} has ${rows} (its vocab_size, the embedding's rows); it belongs to another model, so pass the tokenizer that came with this one`);
    }
  }
  if (!opts.model) return;
  const warn = opts.warn ?? console.warn;
  const { bosId, eosIds = [] } = opts.model;
  if (bosId !== undefined && tok.bosId !== undefined && bosId !== tok.bosId) {
    warn(`${file}: the tokenizer's BOS id is ${tok.bosId} but the model${model} says ${bosId}; check that they belong together`);
  }
  if (eosIds.length && tok.eosId !== undefined && !eosIds.includes(tok.eosId)) {
    warn(`${file}: the tokenizer's EOS id is ${tok.eosId} but the model${model} stops at ${eosIds.join(', ')}; check that they belong together`);
  }
}

/**
 * A directory is searched for tokenizer.json, then tokenizer.bin, then a single *.gguf.
 * A file is recognised by its content: GGUF magic, JSON, or else a llama2.c tokenizer.bin.
 */
export function loadTokenizer(pathOrDir: string, opts: LoadTokenizerOptions = {}): Tokenizer {
  if (fs().statSync(pathOrDir).isDirectory()) return loadTokenizer(findInDir(pathOrDir), opts);
  const tok = readTokenizer(pathOrDir, opts.vocabSize);
  checkTokenizerFits(tok, pathOrDir, opts);
  return tok;
}

function readTokenizer(path: string, vocabSize: number | undefined): Tokenizer {
  const src = new FileSource(path);
  const head = src.read(0, Math.min(4, src.size), 'file start');
  const magic = head.length === 4 ? new DataView(head.buffer).getUint32(0, true) : undefined;
  if (magic === GGUF_MAGIC) return ggufTokenizer(src);
  if (magic === LLAMA2C_MAGIC) throw new FormatError(path, 'this is a llama2.c model checkpoint, not a tokenizer');
  if (head[0] === 0x7b /* { */) return readHfTokenizer(path);
  return readLlama2cTokenizer(src, vocabSize);
}

/** Node's file modules: loading a tokenizer by path needs them (a browser builds one from bytes). */
const fs = () => nodeBuiltin<typeof import('node:fs')>('node:fs', 'loading a tokenizer by path');
const join = (...parts: string[]) => nodeBuiltin<typeof import('node:path')>('node:path', 'loading a tokenizer by path').join(...parts);

function findInDir(dir: string): string {
  for (const name of ['tokenizer.json', 'tokenizer.bin']) {
    if (fs().existsSync(join(dir, name))) return join(dir, name);
  }
  const ggufs = fs().readdirSync(dir).filter((f) => f.endsWith('.gguf'));
  if (ggufs.length === 1) return join(dir, ggufs[0]);
  const why = ggufs.length > 1 ? `several GGUF files (${ggufs.join(', ')}): name one` : 'no tokenizer.json, tokenizer.bin or .gguf file';
  throw new FormatError(dir, `cannot pick a tokenizer: ${why}`);
}
