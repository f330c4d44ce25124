// A copy of a GGUF model with `tokenizer.chat_template` (and any other string keys) added, for
// tests: no shared GGUF carries a template. The metadata is written by the project's GGUF writer
// (models/formats/gguf-writer.ts); the tensor infos and data are copied as they are.
import { readFileSync } from 'node:fs';
import { GgufMetadata } from '../../models/formats/gguf-metadata.js';
import { ggufMetadataBytes } from '../../models/formats/gguf-writer.js';
import { openGguf } from '../../models/formats/gguf.js';

export function ggufWithMetadata(path: string, extra: Record<string, string>): Uint8Array {
  const file = readFileSync(path);
  const store = openGguf(path);
  const meta = new GgufMetadata(path);
  for (const key of store.metadata.keys()) meta.set(key, store.metadata.typeOf(key)!, store.metadata.get(key)!);
  for (const [key, text] of Object.entries(extra)) meta.set(key, 'string', text);
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const tensorCount = view.getBigUint64(8, true);
  // Where the source's tensor infos start and end: after its own metadata, then one entry each
  // (name, dims, type, offset).
  const infoStart = ggufMetadataBytes(store.metadata, () => true).length;
  let at = infoStart;
  for (let i = 0n; i < tensorCount; i++) {
    at += 8 + Number(view.getBigUint64(at, true));
    const dims = view.getUint32(at, true);
    at += 4 + 8 * dims + 4 + 8;
  }
  const head = ggufMetadataBytes(meta, () => true);
  new DataView(head.buffer, head.byteOffset).setBigUint64(8, tensorCount, true);
  const infos = file.subarray(infoStart, at);
  const dataStart = Math.ceil((head.length + infos.length) / store.alignment) * store.alignment;
  const out = new Uint8Array(dataStart + (file.length - store.dataOffset));
  out.set(head, 0);
  out.set(infos, head.length);
  out.set(file.subarray(store.dataOffset), dataStart);
  return out;
}
