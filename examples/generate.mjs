// Streams a story from the 260K-parameter llama2.c checkpoint.
//
//   node examples/generate.mjs ["prompt"] [max tokens]
//
// Text goes to stdout as it is generated; the backend choice and the speed go to stderr.
// TESSERA_SHARED names the shared data folder (default ../shared beside the repository);
// TESSERA_BACKEND picks auto (default), wasm, webgpu or reference.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Model } from '../dist/src/index.js';

const shared = process.env.TESSERA_SHARED ?? resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'shared');
const prompt = process.argv[2] ?? 'Once upon a time';
const maxTokens = Number(process.argv[3] ?? 60);

const model = await Model.open(join(shared, 'models', 'stories260K', 'stories260K.bin'), {
  backend: process.env.TESSERA_BACKEND ?? 'auto',
});
console.error(`backend: ${model.backendReason}`);
try {
  process.stdout.write(prompt);
  // A for-await loop would drop the generator's return value, which holds the statistics:
  // call next() by hand to keep it.
  const tokens = model.generate(prompt, { maxTokens, temperature: 0.8, topP: 0.9, seed: 42 });
  let step = await tokens.next();
  for (; !step.done; step = await tokens.next()) process.stdout.write(step.value.text);
  process.stdout.write('\n');
  const stats = step.value;
  console.error(
    `${stats.generatedTokens} tokens, prefill ${stats.prefillTokensPerSecond.toFixed(0)} tok/s, ` +
      `decode ${stats.decodeTokensPerSecond.toFixed(0)} tok/s, stop: ${stats.stopReason}`,
  );
} finally {
  await model.dispose();
}
