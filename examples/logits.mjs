// One forward pass over given token ids; prints the five most likely next tokens at each position.
//
//   node examples/logits.mjs [id,id,…]
//
// Default ids: the tokenizer's encoding of "Once upon a time" (with BOS). TESSERA_SHARED names the
// shared data folder (default ../shared beside the repository).
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Model } from '../dist/src/index.js';

const shared = process.env.TESSERA_SHARED ?? resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'shared');
const model = await Model.open(join(shared, 'models', 'stories260K', 'stories260K.bin'), {
  backend: process.env.TESSERA_BACKEND ?? 'wasm',
  threads: 2,
});
console.error(`backend: ${model.backendReason}`);
try {
  const tok = model.tokenizer;
  const ids = process.argv[2] ? process.argv[2].split(',').map(Number) : tok.encode('Once upon a time');
  const logits = await model.logits(ids); // Float32Array, row-major [ids.length × vocab]
  const vocab = model.config.vocabSize;
  const show = (id) => JSON.stringify(tok.tokenText(id));
  for (let s = 0; s < ids.length; s++) {
    const row = logits.subarray(s * vocab, (s + 1) * vocab);
    // Softmax for readable probabilities.
    let max = -Infinity;
    for (const x of row) max = Math.max(max, x);
    let sum = 0;
    for (const x of row) sum += Math.exp(x - max);
    const top = Array.from(row.keys()).sort((a, b) => row[b] - row[a]).slice(0, 5);
    const cells = top.map((id) => `${id} ${show(id)} ${(Math.exp(row[id] - max) / sum).toFixed(3)}`);
    console.log(`${s}\t${ids[s]} ${show(ids[s])}\t→ ${cells.join(' | ')}`);
  }
} finally {
  await model.dispose();
}
