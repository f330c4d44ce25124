// The tokenizer embedded in GGUF metadata (tokenizer.ggml.*).
import { GgufMetadata } from '../formats/gguf-metadata.js';
import { GgufStore, openGguf } from '../formats/gguf.js';
import { type ByteSource } from '../formats/source.js';
import { FormatError } from '../formats/store.js';
import { ByteBpeTokenizer, PRE_TOKENIZERS } from './byte-bpe.js';
import { SpmTokenizer } from './spm.js';
import { type Tokenizer } from './tokenizer.js';

/** Builds the tokenizer described by a GGUF file's metadata. */
export function ggufTokenizer(source: GgufStore | GgufMetadata | string | ByteSource): Tokenizer {
  const meta = metadataOf(source);
  const file = meta.file;
  const model = meta.getString('tokenizer.ggml.model');
  const tokens = meta.getStrings('tokenizer.ggml.tokens');
  if (model === undefined || tokens === undefined) throw new FormatError(file, 'no tokenizer in the metadata (tokenizer.ggml.model / tokenizer.ggml.tokens)');
  const id = (key: string): number | undefined => {
    const v = meta.getNumber(`tokenizer.ggml.${key}`);
    // Converters write -1 (as u32: 4294967295) for "none".
    return v === undefined || v < 0 || v >= tokens.length ? undefined : v;
  };
  const types = meta.getNumbers('tokenizer.ggml.token_type');
  checkLength(file, 'token_type', types, tokens.length);
  const common = {
    types,
    bosId: id('bos_token_id'),
    eosId: id('eos_token_id'),
    unkId: id('unknown_token_id'),
    addEos: meta.getBool('tokenizer.ggml.add_eos_token') ?? false,
  };
  switch (model) {
    case 'llama': {
      const scores = meta.getNumbers('tokenizer.ggml.scores') ?? new Float32Array(tokens.length);
      checkLength(file, 'scores', scores, tokens.length);
      return new SpmTokenizer({
        ...common,
        pieces: tokens,
        scores,
        addBos: meta.getBool('tokenizer.ggml.add_bos_token') ?? true,
        addSpacePrefix: meta.getBool('tokenizer.ggml.add_space_prefix') ?? true,
      });
    }
    case 'gpt2': {
      const merges = meta.getStrings('tokenizer.ggml.merges');
      if (!merges) throw new FormatError(file, 'tokenizer.ggml.model is "gpt2" but tokenizer.ggml.merges is missing');
      const pre = meta.getString('tokenizer.ggml.pre') ?? 'default';
      const preTokenizer = PRE_TOKENIZERS[pre];
      if (!preTokenizer) {
        throw new FormatError(file, `tokenizer.ggml.pre "${pre}" is not supported (supported: ${Object.keys(PRE_TOKENIZERS).join(', ')})`);
      }
      return new ByteBpeTokenizer({
        ...common,
        tokens,
        merges,
        preTokenizer,
        addBos: meta.getBool('tokenizer.ggml.add_bos_token') ?? false,
      });
    }
    default:
      throw new FormatError(file, `tokenizer.ggml.model "${model}" is not supported (supported: llama, gpt2)`);
  }
}

function metadataOf(source: GgufStore | GgufMetadata | string | ByteSource): GgufMetadata {
  if (source instanceof GgufMetadata) return source;
  if (source instanceof GgufStore) return source.metadata;
  return openGguf(source).metadata;
}

function checkLength(file: string, key: string, values: ArrayLike<number> | undefined, n: number): void {
  if (values && values.length !== n) throw new FormatError(file, `tokenizer.ggml.${key} has ${values.length} entries for ${n} tokens`);
}
