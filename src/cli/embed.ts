// `tessera embed`: sentence embeddings from a BERT encoder (mean pooling over the real tokens,
// L2-normalized), for text or for rows of token ids. Also the helpers `tessera rerank` shares.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Encoder } from '../encoder.js';
import type { BackendName } from '../backends.js';
import { CliError, EXIT_OK, flagOpt, type Invocation, listOpt, type OptionSpec, stringOpt, UsageError } from './command.js';
import type { CliIO } from './io.js';
import { MODEL_OPTIONS, numberOpt, requireString, withBackendAdvice } from './model-options.js';
import { registerCommand } from './registry.js';
import { inputPath } from './paths.js';
import { LOAD_RANGES } from '../model.js';

/** The shared model options, with --model and --backend described as an encoder takes them. */
export const ENCODER_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  ...MODEL_OPTIONS,
  model: { ...MODEL_OPTIONS.model, value: 'DIR', help: 'a BERT model: an HF directory with config.json and model.safetensors, or a compiled artifact folder (required)' },
  tokenizer: { ...MODEL_OPTIONS.tokenizer, help: 'tokenizer.json for text input (default: the one in the model directory)' },
  backend: { ...MODEL_OPTIONS.backend, help: 'auto (default: WebGPU on a hardware adapter, else wasm), wasm, webgpu, or reference (the interpreter)' },
};

/**
 * Rows of integers written `1,2,3;4,5` (rows split by `;`, items by `,`, spaces allowed). A
 * malformed list is a usage error naming the option, the row and the item.
 */
export function parseRows(text: string, option: string, command: string): number[][] {
  return text.split(';').map((row, r) => {
    const items = row.split(',').map((s) => s.trim());
    if (items.length === 1 && items[0] === '') throw new UsageError(`--${option}: row ${r} is empty (rows are separated by ';', e.g. --${option} "1,2,3;4,5")`, command);
    return items.map((s, i) => {
      if (!/^[+-]?\d+$/.test(s)) throw new UsageError(`--${option}: row ${r}, item ${i}: '${s}' is not an integer`, command);
      return Number(s);
    });
  });
}

/** Token types for `ids`, each row as long as its ids row; all 0 when the option is absent. */
export function parseTokenTypes(inv: Invocation, ids: readonly number[][]): number[][] {
  const text = stringOpt(inv, 'token-types');
  if (text === undefined) return ids.map((row) => row.map(() => 0));
  const types = parseRows(text, 'token-types', inv.command);
  if (types.length !== ids.length) throw new UsageError(`--token-types has ${types.length} rows but --ids has ${ids.length}`, inv.command);
  types.forEach((row, r) => {
    if (row.length !== ids[r].length) throw new UsageError(`--token-types row ${r} has ${row.length} values but --ids row ${r} has ${ids[r].length}`, inv.command);
  });
  return types;
}

/**
 * Opens the encoder named by --model on --backend (default auto, which says on stderr which
 * backend it chose and why; `reference` gives exactly the API's Encoder.load numbers).
 */
export async function loadEncoder(inv: Invocation, io: CliIO): Promise<Encoder> {
  const model = requireString(inv, 'model');
  const path = resolve(io.cwd, model);
  if (!existsSync(path)) throw new CliError(`no model at '${model}'`);
  const tok = stringOpt(inv, 'tokenizer');
  const backend = (stringOpt(inv, 'backend') ?? 'auto') as BackendName;
  const encoder = await withBackendAdvice(backend, () => Encoder.open(path, {
    ...(tok ? { tokenizer: inputPath(io, tok, 'tokenizer') } : {}),
    backend,
    threads: numberOpt(inv, 'threads', LOAD_RANGES.threads),
    spinMicros: numberOpt(inv, 'spin-micros', LOAD_RANGES.spinMicros),
    passes: stringOpt(inv, 'passes'),
  }));
  if (backend === 'auto') io.stderr.write(`backend ${encoder.backendReason}\n`);
  return encoder;
}

/** Runs `f` with the encoder named by --model, and frees its backend afterwards. */
export async function withEncoder<T>(inv: Invocation, io: CliIO, f: (e: Encoder) => Promise<T>): Promise<T> {
  const encoder = await loadEncoder(inv, io);
  try {
    return await f(encoder);
  } finally {
    await encoder.dispose();
  }
}

/** A JSON array with one element per line. */
export function jsonLines(items: readonly unknown[]): string {
  return items.length ? `[\n${items.map((x) => `  ${JSON.stringify(x)}`).join(',\n')}\n]\n` : '[]\n';
}

registerCommand({
  name: 'embed',
  summary: 'print sentence embeddings from a BERT encoder as JSON',
  args: '',
  positionals: { min: 0, max: 0 },
  description: `Runs the encoder over the inputs (batched, right-padded) and prints a JSON array with one
vector per input, in input order: the mean of the last hidden states over the real tokens,
L2-normalized (sentence-transformers style) unless --no-normalize is given.
Text is tokenized with the model's tokenizer.json; a model without one takes --ids instead:
rows of token ids separated by ';', ids by ','. Token types default to 0.`,
  options: {
    ...ENCODER_OPTIONS,
    text: { type: 'string', multiple: true, value: 'TEXT', help: 'a text to embed' },
    ids: { type: 'string', value: 'ROWS', help: 'token ids instead of text: "1,2,3;4,5" is two rows' },
    'token-types': { type: 'string', value: 'ROWS', help: 'token types for --ids, shaped like it (default: all 0)' },
    'no-normalize': { type: 'boolean', help: 'print the raw mean-pooled vectors' },
  },
  examples: [
    { command: 'tessera embed --model all-MiniLM-L6-v2 --text "a cat sat" --text "the dog ran"', says: 'two unit-length vectors, one per line of the JSON array' },
    { command: 'tessera embed --model bert-base-uncased --ids "101,7592,102;101,2088,2003,102"', says: 'embed two rows of token ids ([CLS] … [SEP] included), e.g. for a model without a tokenizer' },
    { command: 'tessera embed -m bert-base-uncased --ids "101,7592,102,2088,102" --token-types "0,0,0,1,1" --no-normalize', says: 'raw mean pooling, with token types' },
    { command: 'tessera embed -m build/minilm --backend wasm --text "a cat sat"', says: 'a compiled artifact (tessera compile) on its CPU kernels' },
  ],
  async run(inv, io) {
    const texts = listOpt(inv, 'text');
    const idsText = stringOpt(inv, 'ids');
    if (texts.length && idsText !== undefined) throw new UsageError('give --text or --ids, not both', inv.command);
    if (!texts.length && idsText === undefined) throw new UsageError('nothing to embed: give --text TEXT (repeatable) or --ids ROWS', inv.command);
    if (idsText === undefined && stringOpt(inv, 'token-types') !== undefined) throw new UsageError('--token-types goes with --ids', inv.command);
    const ids = idsText === undefined ? undefined : parseRows(idsText, 'ids', inv.command);
    const tokenTypes = ids && parseTokenTypes(inv, ids);
    const normalize = !flagOpt(inv, 'no-normalize');
    const vectors = await withEncoder(inv, io, (e) => (ids ? e.embed(ids, { tokenTypes, normalize }) : e.embed(texts, { normalize })));
    io.stdout.write(jsonLines(vectors.map((v) => Array.from(v))));
    return EXIT_OK;
  },
});
