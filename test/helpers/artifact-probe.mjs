// Run in a fresh process (by test/e2e/artifact-backends.test.ts) with TESSERA_FORBID_COMPILER=1:
// opens a model or artifact on one backend and prints, as one JSON line, the logits of `ids` and
// the greedy continuation of `ids` for `steps` tokens. Imports the built package (dist/).
import { Model } from '../../dist/src/index.js';

const [path, backend, idsText, stepsText] = process.argv.slice(2);
const ids = idsText.split(',').map(Number);
const model = await Model.open(path, { backend, threads: 2 });
try {
  const logits = await model.logits(ids);
  const ex = model.executor;
  ex.reset();
  const greedy = [await ex.forwardGreedy(ids)];
  while (greedy.length < Number(stepsText)) greedy.push(await ex.forwardGreedy([greedy[greedy.length - 1]]));
  process.stdout.write(`${JSON.stringify({ backend: ex.backend, logits: Array.from(logits), greedy })}\n`);
} finally {
  await model.dispose();
}
