// `tessera info` on a mixed-type GGUF (llama.cpp's Q3_K_M of quant-mini: Q3_K, Q4_K, Q5_K, Q6_K
// and F32): the count and bytes of every tensor type, each type's bytes from the dtype table's
// block geometry, checked against llama.cpp's own list of the file's tensors.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { dtypeInfo, isDType } from '../../ir/dtype.js';
import { main } from '../../src/cli.js';
import { hasShared, sharedPath } from '../helpers/shared.js';

const QUANT = ['models', 'quant'] as const;

async function cli(...argv: string[]) {
  let stdout = '';
  const code = await main(argv, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: () => undefined }, cwd: process.cwd(), env: process.env });
  return { code, stdout };
}

describe.runIf(hasShared(...QUANT, 'quant-mini-Q3_K_M.gguf'))('info on a mixed-type GGUF', () => {
  it('lists the count and bytes of each tensor type, as llama.cpp\'s dequantized reference names them', async () => {
    const r = await cli('info', '-m', sharedPath(...QUANT, 'quant-mini-Q3_K_M.gguf'), '--json');
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout) as { tensorTypes: Record<string, number>; tensorTypeBytes: Record<string, number>; weightBytes: number };
    // The same counts and bytes, worked out from llama.cpp's own list of the file's tensors.
    const ref = JSON.parse(readFileSync(sharedPath(...QUANT, 'quant-mini-Q3_K_M.dequant.json'), 'utf8')).tensors as Record<string, { type: string; shape_ggml: number[] }>;
    const counts: Record<string, number> = {}, bytes: Record<string, number> = {};
    for (const t of Object.values(ref)) {
      const d = t.type.toLowerCase();
      expect(isDType(d), t.type).toBe(true);
      if (!isDType(d)) continue;
      const { blockSize, blockBytes } = dtypeInfo(d);
      const [len, ...rest] = t.shape_ggml; // ggml order: the row first
      counts[d] = (counts[d] ?? 0) + 1;
      bytes[d] = (bytes[d] ?? 0) + rest.reduce((a, b) => a * b, 1) * Math.ceil(len / blockSize) * blockBytes;
    }
    expect(info.tensorTypes).toEqual(counts);
    expect(info.tensorTypeBytes).toEqual(bytes);
    expect(Object.keys(counts)).toEqual(expect.arrayContaining(['q3_k', 'q4_k', 'q5_k', 'q6_k']));
    const text = (await cli('info', '-m', sharedPath(...QUANT, 'quant-mini-Q3_K_M.gguf'))).stdout;
    expect(text).toMatch(/8 × q3_k [\d.]+ MiB/);
  });
});
