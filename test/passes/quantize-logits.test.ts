// End to end, the recipes against llama-quantize on the model it quantized (quant-mini, rebuilt
// from the shared generator): the reference interpreter's logits with our quantized weights,
// against llama.cpp's F32 logits, next to llama.cpp's own quantized file (its exact semantics)
// against the same. Not like for like in one respect: llama.cpp's files quantize the tied
// embedding table itself (token_embd as the output type), while the quantize pass leaves the table
// float and quantizes a copy for the head, so our token embeddings are exact.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRecipeName } from '../../passes/quantize-recipes.js';
import { Model } from '../../src/model.js';
import { maxAbsDiff } from '../helpers/refs.js';
import { hasShared, sharedPath } from '../helpers/shared.js';

const QUANT = ['models', 'quant'];

interface RefCase { readonly ids: number[]; readonly logits: string }

function refLogits(json: string): { ids: number[]; logits: Float32Array }[] {
  const cases = (JSON.parse(readFileSync(sharedPath(...QUANT, json), 'utf8')) as { cases: RefCase[] }).cases;
  return cases.map((c) => {
    const b = readFileSync(sharedPath(...QUANT, c.logits));
    return { ids: c.ids, logits: new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4) };
  });
}

/** Root-mean-square difference over every position and vocabulary entry (max |Δ| is one entry's luck). */
function rmsDiff(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s / a.length);
}

/**
 * Ours may be this much further from the F32 logits (RMS) than llama.cpp's file is. The weights'
 * error is lower on every tensor (kquants-encode.test.ts), but a few dozen positions of a random
 * model are a noisy read of it: measured 0.76–1.02× llama.cpp's (Q5_K_M case 0: 1.02×).
 */
const TOLERANCE = 1.1;

const FILES: Record<string, string> = { q4_k_m: 'quant-mini-Q4_K_M', q5_k_m: 'quant-mini-Q5_K_M', q3_k_m: 'quant-mini-Q3_K_M', q6_k: 'quant-mini-Q6_K-pure', q2_k: 'quant-mini-Q2_K-pure' };

describe('quant-mini logits under each recipe, against llama.cpp\'s file of the same recipe', () => {
  const have = hasShared('bench', 'make-synthetic.mjs') && hasShared(...QUANT, 'quant-mini-F32.json');
  let dir = '';
  let source = '';
  const table: string[] = [];
  // Without the data the tests below are skipped with a printed reason (hasShared; under CI it throws).
  if (have) beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-quant-logits-'));
    source = join(dir, 'quant-mini.bin');
    const made = spawnSync(process.execPath, [sharedPath('bench', 'make-synthetic.mjs'), 'quant-mini', source], { encoding: 'utf8' });
    if (made.status !== 0) throw new Error(`make-synthetic.mjs quant-mini failed: ${made.stderr}`);
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (table.length) console.log(`logits against F32: RMS llama.cpp, RMS ours, max |Δ| llama.cpp, max |Δ| ours\n${table.join('\n')}`);
  });

  for (const [recipe, file] of Object.entries(FILES)) {
    it.skipIf(!have || !hasShared(...QUANT, `${file}.exact.json`) || !isRecipeName(recipe))(`${recipe}: no further from F32 than ${file} (× ${TOLERANCE})`, async () => {
      const f32 = refLogits('quant-mini-F32.json');
      const theirs = refLogits(`${file}.exact.json`);
      const model = await Model.open(source, { backend: 'reference', passes: `quantize{recipe=${recipe}, heads=true}` });
      try {
        for (const [i, c] of f32.entries()) {
          expect(theirs[i].ids).toEqual(c.ids);
          const got = await model.logits(c.ids);
          const llama = rmsDiff(theirs[i].logits, c.logits);
          const ours = rmsDiff(got, c.logits);
          table.push(`case ${i}  ${recipe.padEnd(8)} ${llama.toExponential(3)}  ${ours.toExponential(3)}  ${maxAbsDiff(theirs[i].logits, c.logits).toExponential(3)}  ${maxAbsDiff(got, c.logits).toExponential(3)}`);
          expect(ours, `case ${i}: ours ${ours}, llama.cpp ${llama}`).toBeLessThanOrEqual(TOLERANCE * llama);
        }
      } finally {
        await model.dispose();
      }
    });
  }
});
