// An artifact compiled from a quantized GGUF holds the file's weights, not more: weights.bin is no
// bigger than the file's tensor bytes (merges keep the blocks, nothing is dequantized to f32), and
// with the tokenizer beside it no bigger than the file; the rest is kernels and the manifest.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GgufStore } from '../../models/formats/gguf.js';
import { main } from '../../src/cli.js';
import { hasShared, sharedPath } from '../helpers/shared.js';

const dir = mkdtempSync(join(tmpdir(), 'tessera-artifact-size-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const io = { stdout: { write: () => true }, stderr: { write: () => true }, cwd: process.cwd(), env: process.env };

describe('artifact size from a quantized file', () => {
  for (const file of ['TinyStories-656K-Q4_K_M.gguf', 'quant-mini-Q4_K_M.gguf', 'TinyStories-656K-Q5_K_M.gguf', 'quant-mini-Q8_0-pure.gguf']) {
    it.skipIf(!hasShared('models', 'quant', file))(`${file}, default passes`, async () => {
      const path = sharedPath('models', 'quant', file);
      const out = join(dir, file);
      expect(await main(['compile', '-m', path, '-o', out, '--target', 'none', '-q'], io)).toBe(0);
      const store = new GgufStore(path);
      const tensorBytes = store.names().reduce((n, t) => n + store.tensorInfo(t).byteLength!, 0);
      const weights = statSync(join(out, 'weights.bin')).size;
      // Each tensor starts 256-byte aligned in weights.bin.
      expect(weights).toBeLessThanOrEqual(tensorBytes + 256 * store.names().length);
      expect(weights + statSync(join(out, 'tokenizer.gguf')).size).toBeLessThanOrEqual(statSync(path).size);
    });
  }
});
