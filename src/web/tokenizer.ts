// An artifact's tokenizer built from its bytes (a browser has no paths): tokenizer.json with its
// tokenizer_config.json, a llama2.c tokenizer.bin, or a GGUF's vocabulary, recognised by content as
// models/tokenizers/load.ts does for files, and checked against the model the same way.
import type { LoadedArtifact } from '../../codegen/artifact/load.js';
import { GGUF_MAGIC } from '../../models/formats/gguf.js';
import { MemorySource } from '../../models/formats/source.js';
import { FormatError } from '../../models/formats/store.js';
import type { ModelConfig } from '../../models/config/model-config.js';
import { ggufTokenizer } from '../../models/tokenizers/gguf.js';
import { HfTokenizer } from '../../models/tokenizers/hf.js';
import { readLlama2cTokenizer } from '../../models/tokenizers/llama2c.js';
import { checkTokenizerFits } from '../../models/tokenizers/load.js';
import type { Tokenizer } from '../../models/tokenizers/tokenizer.js';

const json = (name: string, bytes: Uint8Array): object => {
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as object;
  } catch (e) {
    throw new FormatError(name, `not valid JSON: ${(e as Error).message}`);
  }
};

/** The artifact's tokenizer, or undefined when it was compiled without one. */
export function artifactTokenizer(a: LoadedArtifact, config: ModelConfig): Tokenizer | undefined {
  const t = a.manifest.tokenizer;
  if (!t) return undefined;
  const name = `${a.dir}${t.file}`;
  const bytes = a.files.bytes(t.file);
  const magic = bytes.length >= 4 ? new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true) : undefined;
  let tok: Tokenizer;
  if (magic === GGUF_MAGIC) tok = ggufTokenizer(new MemorySource(name, bytes));
  else if (bytes[0] === 0x7b /* { */) {
    const configFile = Object.keys(t.files).find((f) => f.endsWith('tokenizer_config.json'));
    tok = new HfTokenizer(json(name, bytes), configFile ? json(configFile, a.files.bytes(configFile)) : {});
  } else tok = readLlama2cTokenizer(new MemorySource(name, bytes), config.vocabSize);
  checkTokenizerFits(tok, name, { vocabSize: config.vocabSize, model: { path: a.dir, bosId: config.bosId, eosIds: config.eosIds } });
  return tok;
}
