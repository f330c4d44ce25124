// An artifact's tokenizer built from its bytes (a browser has no paths): tokenizer.json with its
// tokenizer_config.json, a llama2.c tokenizer.bin, or a GGUF's vocabulary, recognised by content as
// models/tokenizers/load.ts does for files, and checked against the model the same way. Also what
// chat reads beside it (template, special tokens, end-of-generation ids: models/chat/chat-files.ts).
import type { ArtifactFiles } from '../../codegen/artifact/files.js';
import type { ArtifactManifest } from '../../codegen/artifact/manifest.js';
import { type ChatFiles, endOfGenerationIdsFrom } from '../../models/chat/chat-files.js';
import type { GgufMetadata } from '../../models/formats/gguf-metadata.js';
import { GGUF_MAGIC, openGguf } from '../../models/formats/gguf.js';
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

/** What is read of an artifact here: where it is, its manifest's tokenizer entry, the files' bytes. */
export interface TokenizerArtifact {
  readonly dir: string;
  readonly manifest: Pick<ArtifactManifest, 'tokenizer'>;
  readonly files: Pick<ArtifactFiles, 'bytes'>;
}

type TokenizerKind = 'gguf' | 'hf' | 'llama2c';

function kindOf(bytes: Uint8Array): TokenizerKind {
  const magic = bytes.length >= 4 ? new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true) : undefined;
  return magic === GGUF_MAGIC ? 'gguf' : bytes[0] === 0x7b /* { */ ? 'hf' : 'llama2c';
}

/** The tokenizer file's name as messages give it. */
const where = (a: TokenizerArtifact, file: string) => `${a.dir}${file}`;

function ggufMeta(a: TokenizerArtifact, file: string): GgufMetadata {
  return openGguf(new MemorySource(where(a, file), a.files.bytes(file))).metadata;
}

/** The artifact's tokenizer, or undefined when it was compiled without one. */
export function artifactTokenizer(a: TokenizerArtifact, config: ModelConfig): Tokenizer | undefined {
  const t = a.manifest.tokenizer;
  if (!t) return undefined;
  const name = where(a, t.file);
  const bytes = a.files.bytes(t.file);
  let tok: Tokenizer;
  const kind = kindOf(bytes);
  if (kind === 'gguf') tok = ggufTokenizer(new MemorySource(name, bytes));
  else if (kind === 'hf') {
    const configFile = Object.keys(t.files).find((f) => f.endsWith('tokenizer_config.json'));
    tok = new HfTokenizer(json(name, bytes), configFile ? json(configFile, a.files.bytes(configFile)) : {});
  } else tok = readLlama2cTokenizer(new MemorySource(name, bytes), config.vocabSize);
  checkTokenizerFits(tok, name, { vocabSize: config.vocabSize, model: { path: a.dir, bosId: config.bosId, eosIds: config.eosIds } });
  return tok;
}

/** What chat reads of the artifact's tokenizer: the GGUF's metadata, or the files compiled in beside tokenizer.json. */
export function artifactChatFiles(a: TokenizerArtifact): ChatFiles {
  const t = a.manifest.tokenizer;
  if (t && kindOf(a.files.bytes(t.file)) === 'gguf') return { kind: 'gguf', meta: ggufMeta(a, t.file) };
  const carried = new Set(Object.keys(t?.files ?? {}));
  return { kind: 'hf', files: { where: (file) => where(a, file), text: (file) => (carried.has(file) ? new TextDecoder().decode(a.files.bytes(file)) : undefined) } };
}

/** The artifact's end-of-generation ids, collected as Node collects them (models/chat/eog.ts). */
export function artifactEogIds(a: TokenizerArtifact, config: ModelConfig, tokenizer: Tokenizer | undefined): number[] {
  const t = a.manifest.tokenizer;
  const kind = t ? kindOf(a.files.bytes(t.file)) : undefined;
  const carried = t?.files['generation_config.json'] !== undefined;
  return endOfGenerationIdsFrom({
    config,
    llama2c: kind === 'llama2c',
    generationConfig: carried ? new TextDecoder().decode(a.files.bytes('generation_config.json')) : undefined,
    gguf: kind === 'gguf' && t ? ggufMeta(a, t.file) : undefined,
    tokenizer,
  });
}
