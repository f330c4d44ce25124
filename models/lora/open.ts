// Opening a LoRA adapter from a path: a PEFT folder (or its adapter_config.json or
// adapter_model.safetensors), or a llama.cpp GGUF adapter.
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { GGUF_MAGIC } from '../formats/gguf.js';
import { AdapterError, type LoraAdapter } from './adapter.js';
import { PEFT_CONFIG, peftFolder, readPeftAdapter } from './peft.js';
import { readGgufAdapter } from './gguf.js';

function isGguf(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(4);
    return readSync(fd, buf, 0, 4, 0) === 4 && buf.readUInt32LE(0) === GGUF_MAGIC;
  } finally {
    closeSync(fd);
  }
}

export function openLoraAdapter(path: string): LoraAdapter {
  if (!existsSync(path)) throw new AdapterError(path, 'no such file or directory (expected a PEFT adapter folder or a GGUF LoRA adapter)');
  const folder = peftFolder(path);
  if (folder) return readPeftAdapter(folder);
  if (isGgufFile(path)) return readGgufAdapter(path);
  throw new AdapterError(path, `not a LoRA adapter this tool reads (expected a folder with ${PEFT_CONFIG} and adapter_model.safetensors, or a GGUF with general.type = adapter)`);
}

function isGgufFile(path: string): boolean {
  try {
    return isGguf(path);
  } catch {
    return false;
  }
}
