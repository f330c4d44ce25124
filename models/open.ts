// Opens a model from a path: an HF directory (config.json + safetensors), a GGUF file, or a
// llama2.c checkpoint. Reads headers only; tensors are read when a parameter asks for them.
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { isDType, weightTypeNames } from '../ir/dtype.js';
import type { HostTensor } from '../ir/tensor.js';
import type { WeightType } from '../ir/weights.js';
import { configFromGguf } from './config/gguf.js';
import { configFromHf } from './config/hf.js';
import { configFromLlama2c } from './config/llama2c.js';
import { ConfigError, type ModelConfig } from './config/model-config.js';
import { type DecoderWeights, ggufDecoderWeights, hfDecoderWeights, llama2cDecoderWeights } from './arch/decoder-weights.js';
import { type EncoderWeights, hfEncoderWeights } from './arch/encoder-weights.js';
import { checkFinite } from './formats/finite.js';
import { openGguf } from './formats/gguf.js';
import { openLlama2c } from './formats/llama2c.js';
import { openSafetensors } from './formats/safetensors.js';
import { FormatError, isReadable, type TensorStore } from './formats/store.js';
import type { LoadTokenizerOptions } from './tokenizers/load.js';

export type ModelFormat = 'hf' | 'gguf' | 'llama2c' | 'artifact';

export interface ModelSource {
  readonly path: string;
  readonly format: ModelFormat;
  /** The checkpoint format the model came from, where it differs from `format` (a compiled artifact's source). */
  readonly origin?: string;
  readonly config: ModelConfig;
  readonly store: TensorStore;
  /** Where the tokenizer is: tokenizer.json, a llama2.c tokenizer .bin, or the GGUF itself. */
  readonly tokenizerPath?: string;
  /** Where each decoder weight lives in this file layout. */
  decoderWeights(): DecoderWeights;
  /** Where each encoder (BERT) weight lives; HF checkpoints only. */
  encoderWeights(): EncoderWeights;
  /** Type of a checkpoint tensor (throws a FormatError naming it when missing or unreadable). */
  leafType(name: string): WeightType;
  readLeaf(name: string): HostTensor;
  /** The leaf's stored bytes written into `dest` (exactly their size). */
  readLeafInto(name: string, dest: Uint8Array): void;
  /** `dest.length` of the leaf's stored bytes from byte `at`, when its store reads ranges. */
  readLeafRange?(name: string, at: number, dest: Uint8Array): void;
}

/**
 * What a tokenizer for this model must agree with: its vocabulary size (refused otherwise) and
 * its special ids (warned about). llama2.c's run.c stops at BOS, so its EOS is no tokenizer's.
 */
export function tokenizerExpectations(source: ModelSource): Pick<LoadTokenizerOptions, 'vocabSize' | 'model'> {
  const c = source.config;
  return { vocabSize: c.vocabSize, model: { path: source.path, bosId: c.bosId, eosIds: (source.origin ?? source.format) === 'llama2c' ? [] : c.eosIds } };
}

function readMagic(path: string): number | undefined {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(4);
    return readSync(fd, buf, 0, 4, 0) === 4 ? buf.readUInt32LE(0) : undefined;
  } finally {
    closeSync(fd);
  }
}

const GGUF_MAGIC = 0x46554747;

export interface OpenOptions {
  /** Overrides where the tokenizer is found. */
  readonly tokenizer?: string;
}

export function openModel(path: string, opts: OpenOptions = {}): ModelSource {
  if (!existsSync(path)) throw new ConfigError(path, 'no such file or directory');
  const stat = statSync(path);
  if (stat.isDirectory() || path.endsWith('.safetensors') || path.endsWith('.safetensors.index.json')) return openHf(path, opts);
  if (readMagic(path) === GGUF_MAGIC) {
    const store = openGguf(path);
    const config = configFromGguf(store.metadata, path, (n) => (store.has(n) ? store.info(n).shape : undefined));
    return source(path, 'gguf', config, store, opts.tokenizer ?? path, ggufDecoderWeights);
  }
  if (path.endsWith('.bin')) {
    const store = openLlama2c(path);
    const config = configFromLlama2c(store.header, path);
    return source(path, 'llama2c', config, store, opts.tokenizer ?? findLlama2cTokenizer(path, config.vocabSize), llama2cDecoderWeights);
  }
  throw new ConfigError(path, 'not a model this tool reads (expected an HF directory with config.json, a .gguf file, or a llama2.c .bin checkpoint)');
}

function openHf(path: string, opts: OpenOptions): ModelSource {
  const dir = statSync(path).isDirectory() ? path : dirname(path);
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath)) throw new ConfigError(dir, 'no config.json next to the weights');
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(configPath, 'utf8'));
  } catch (e) {
    throw new ConfigError(configPath, `not valid JSON: ${(e as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ConfigError(configPath, 'must hold a JSON object');
  let config: ModelConfig;
  try {
    config = configFromHf(json as Record<string, unknown>);
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(configPath, e.message.replace(/^config\.json: /, ''));
    throw e;
  }
  const store = openSafetensors(path);
  const tok = opts.tokenizer ?? (existsSync(join(dir, 'tokenizer.json')) ? join(dir, 'tokenizer.json') : undefined);
  return source(dir, 'hf', config, store, tok, hfDecoderWeights);
}

/** llama2.c keeps the tokenizer beside the checkpoint: tokenizer.bin or tok<vocab>.bin. */
function findLlama2cTokenizer(path: string, vocab: number): string | undefined {
  const dir = dirname(path);
  for (const name of [`tok${vocab}.bin`, 'tokenizer.bin']) {
    const p = join(dir, name);
    if (existsSync(p) && p !== path) return p;
  }
  const candidates = readdirSync(dir).filter((f) => /^tok.*\.bin$/.test(f) && f !== basename(path));
  return candidates.length === 1 ? join(dir, candidates[0]) : undefined;
}

/** Layer-indexed tensor names in every layout we read: model.layers.3., blk.3., h.3., encoder.layer.3. */
const LAYER_INDEX = /(?:^|\.)(?:layers|layer|blk|h)\.(\d+)\./;

/**
 * The config's layer count must match the layers the file holds tensors for: more would build
 * layers from nothing (a GGUF with block_count 1000000 in a small file), fewer would drop layers.
 */
function checkLayerCount(path: string, config: ModelConfig, store: TensorStore): void {
  let layers = 0;
  for (const name of store.names()) {
    const m = LAYER_INDEX.exec(name);
    if (m) layers = Math.max(layers, Number(m[1]) + 1);
  }
  if (layers !== config.numLayers) {
    throw new ConfigError(path, `the config declares ${config.numLayers} layers but the file holds tensors for ${layers} (layer indices 0..${layers - 1}); the config does not describe these weights`);
  }
}

function source(
  path: string,
  format: ModelFormat,
  config: ModelConfig,
  store: TensorStore,
  tokenizerPath: string | undefined,
  naming: (c: ModelConfig, has: (n: string) => boolean) => DecoderWeights,
): ModelSource {
  checkLayerCount(path, config, store);
  const has = (n: string) => store.has(n);
  return {
    path, format, config, store, tokenizerPath,
    decoderWeights: () => naming(config, has),
    encoderWeights() {
      if (format !== 'hf') throw new ConfigError(path, `encoder models are read from HF checkpoints (config.json + safetensors), not ${format} files`);
      return hfEncoderWeights(config, has);
    },
    leafType(name) {
      if (!store.has(name)) throw new FormatError(store.path, `missing tensor "${name}" (needed by this ${config.family} model)`);
      const info = store.info(name);
      if (!isReadable(info)) throw new FormatError(store.path, `tensor "${name}" has type ${info.dtype}, which is not supported (supported: ${weightTypeNames().join(', ')})`);
      return { dtype: info.dtype, shape: info.shape };
    },
    readLeaf(name) {
      const t = store.read(name);
      checkFinite(store.path, name, t.dtype, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
      return t;
    },
    readLeafInto(name, dest) {
      store.readInto(name, dest);
      const dtype = store.info(name).dtype;
      if (isDType(dtype)) checkFinite(store.path, name, dtype, dest);
    },
    ...(store.readRangeInto ? {
      readLeafRange(name: string, at: number, dest: Uint8Array) {
        store.readRangeInto!(name, at, dest);
        const dtype = store.info(name).dtype;
        if (isDType(dtype)) checkFinite(store.path, name, dtype, dest);
      },
    } : {}),
  };
}
