// Sentence embeddings from a BERT encoder (the tiny random reference model in ../shared/refs/bert,
// which has no tokenizer, so the inputs are token ids), and the cosine similarity of two rows.
//
//   node examples/embed.mjs
//
// TESSERA_SHARED names the shared data folder (default ../shared beside the repository).
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Encoder } from '../dist/src/index.js';

const shared = process.env.TESSERA_SHARED ?? resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'shared');
const bert = Encoder.load(join(shared, 'refs', 'bert'));
const info = bert.info();
console.error(`${info.architecture}: ${info.numLayers} layers, hidden ${info.hiddenSize}, vocab ${info.vocabSize}`);

// Rows of different lengths are padded and masked; each comes back as one mean-pooled vector,
// L2-normalised (pass { normalize: false } for the raw mean).
const rows = [
  [2, 45, 19, 77, 3],
  [2, 45, 19, 78, 3],
  [2, 200, 131, 9, 160, 88, 3],
];
const vectors = await bert.embed(rows);

const dot = (a, b) => a.reduce((s, x, i) => s + x * b[i], 0);
const cosine = (a, b) => dot(a, b) / Math.sqrt(dot(a, a) * dot(b, b));
for (const [i, v] of vectors.entries()) console.log(`row ${i}: dim ${v.length}, norm ${Math.sqrt(dot(v, v)).toFixed(4)}, [${Array.from(v.slice(0, 4), (x) => x.toFixed(4)).join(', ')}, …]`);
console.log(`cosine(row 0, row 1) = ${cosine(vectors[0], vectors[1]).toFixed(4)}`);
console.log(`cosine(row 0, row 2) = ${cosine(vectors[0], vectors[2]).toFixed(4)}`);
