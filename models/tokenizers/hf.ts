// Hugging Face tokenizer.json (+ tokenizer_config.json), run by @huggingface/tokenizers.
import { Tokenizer as HfLibTokenizer } from '@huggingface/tokenizers';
import { FormatError } from '../formats/store.js';
import { nodeBuiltin } from '../../runtime/platform/node-builtin.js';
import { byteLevelBytes } from './byte-bpe.js';
import { type EncodeOptions, type Tokenizer, utf8Encode } from './tokenizer.js';

/** The tokenizer_config.json fields we use (the library reads the rest). */
interface TokenizerConfig {
  bos_token?: string | { content?: string } | null;
  eos_token?: string | { content?: string } | null;
  add_bos_token?: boolean;
  add_eos_token?: boolean;
}

export class HfTokenizer implements Tokenizer {
  readonly bosId?: number;
  readonly eosId?: number;
  readonly vocabSize: number;
  private readonly lib: HfLibTokenizer;
  /** Whether the post-processor template itself adds BOS / EOS. */
  private readonly templateBos: boolean;
  private readonly templateEos: boolean;
  private readonly addBos: boolean;
  private readonly addEos: boolean;
  /** For tokenBytes: special added tokens (no bytes), and whether pieces are in GPT-2's byte alphabet. */
  private readonly special: ReadonlySet<number>;
  private readonly byteLevel: boolean;

  constructor(tokenizerJson: object, config: TokenizerConfig = {}) {
    this.lib = new HfLibTokenizer(tokenizerJson, config);
    this.vocabSize = Math.max(-1, ...this.lib.get_vocab(true).values()) + 1;
    this.bosId = this.specialId(config.bos_token);
    this.eosId = this.specialId(config.eos_token);
    const probe = this.lib.encode('a').ids;
    this.templateBos = this.bosId !== undefined && probe[0] === this.bosId;
    this.templateEos = this.eosId !== undefined && probe[probe.length - 1] === this.eosId;
    this.addBos = config.add_bos_token ?? this.templateBos;
    this.addEos = config.add_eos_token ?? this.templateEos;
    const json = tokenizerJson as { added_tokens?: { id: number; special?: boolean }[]; decoder?: unknown };
    this.special = new Set((json.added_tokens ?? []).filter((t) => t.special).map((t) => t.id));
    this.byteLevel = JSON.stringify(json.decoder ?? null).includes('"ByteLevel"');
  }

  /** Byte-fallback pieces are their byte, byte-level pieces spell bytes; others add what decoding after a plain letter adds. */
  tokenBytes(id: number): Uint8Array {
    const text = this.tokenText(id);
    if (this.special.has(id)) return new Uint8Array(0);
    const byte = /^<0x([0-9A-Fa-f]{2})>$/.exec(text);
    if (byte) return Uint8Array.of(parseInt(byte[1], 16));
    if (this.byteLevel) return byteLevelBytes(text) ?? utf8Encode(text);
    const letter = this.lib.token_to_id('a');
    return utf8Encode(letter === undefined ? this.decode([id]) : this.decodeStep(letter, id));
  }

  private specialId(token: TokenizerConfig['bos_token']): number | undefined {
    const content = typeof token === 'string' ? token : token?.content;
    return content === undefined ? undefined : this.lib.token_to_id(content);
  }

  tokenText(id: number): string {
    const t = this.lib.id_to_token(id);
    if (t === undefined) throw new RangeError(`token id ${id} is outside the vocabulary (0..${this.vocabSize - 1})`);
    return t;
  }

  /** The library's full encoding (normalizer, pre-tokenizer, model, template), then BOS/EOS as asked. */
  encode(text: string, opts: EncodeOptions = {}): number[] {
    const ids = this.lib.encode(text).ids;
    if (this.bosId !== undefined) {
      const want = opts.addBos ?? this.addBos;
      if (want && !this.templateBos) ids.unshift(this.bosId);
      if (!want && this.templateBos) ids.shift();
    }
    if (this.eosId !== undefined) {
      const want = opts.addEos ?? this.addEos;
      if (want && !this.templateEos) ids.push(this.eosId);
      if (!want && this.templateEos) ids.pop();
    }
    return ids;
  }

  decode(ids: readonly number[]): string {
    return this.lib.decode([...ids], { skip_special_tokens: true });
  }

  /** What decoding [prev, id] adds to decoding [prev]; decoders treat the start of text specially. */
  decodeStep(prev: number | undefined, id: number): string {
    if (prev === undefined) return this.decode([id]);
    const before = this.decode([prev]);
    const both = this.decode([prev, id]);
    return both.startsWith(before) ? both.slice(before.length) : this.decode([id]);
  }
}

/** Reads tokenizer.json and, when it sits beside it, tokenizer_config.json. */
export function readHfTokenizer(tokenizerJsonPath: string): HfTokenizer {
  const { existsSync } = nodeBuiltin<typeof import('node:fs')>('node:fs', 'reading tokenizer.json by path');
  const { dirname, join } = nodeBuiltin<typeof import('node:path')>('node:path', 'reading tokenizer.json by path');
  const json = readJson(tokenizerJsonPath);
  const configPath = join(dirname(tokenizerJsonPath), 'tokenizer_config.json');
  const config = existsSync(configPath) ? readJson(configPath) : {};
  try {
    return new HfTokenizer(json, config as TokenizerConfig);
  } catch (e) {
    if (e instanceof FormatError) throw e;
    throw new FormatError(tokenizerJsonPath, `not a tokenizer the library can build: ${(e as Error).message}`);
  }
}

function readJson(path: string): object {
  let v: unknown;
  try {
    v = JSON.parse(nodeBuiltin<typeof import('node:fs')>('node:fs', 'reading JSON by path').readFileSync(path, 'utf8'));
  } catch (e) {
    throw new FormatError(path, `not valid JSON: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new FormatError(path, 'JSON is not an object');
  return v;
}
