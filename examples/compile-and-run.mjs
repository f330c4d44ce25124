// Ahead-of-time compilation: compile TinyStories-656K into an artifact folder (manifest with the
// final IR and buffer plans, WGSL kernels, cpu.wasm, packed weights, tokenizer), then open the
// folder — no passes and no code generation at load — and generate from it.
//
//   node examples/compile-and-run.mjs [out dir]
//
// Without an out dir the artifact goes to a temporary folder that is removed afterwards.
// TESSERA_SHARED names the shared data folder (default ../shared beside the repository);
// TESSERA_BACKEND picks the backend that runs the artifact (default auto). The artifact holds
// kernels for both targets; its graphs went through the `default` pipeline of the most limited
// target compiled for (compile's `targets` and `passes` options change that).
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile, Model } from '../dist/src/index.js';

const shared = process.env.TESSERA_SHARED ?? resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'shared');
const out = process.argv[2] ?? mkdtempSync(join(tmpdir(), 'tessera-example-'));
const temporary = process.argv[2] === undefined;

try {
  const summary = await compile(join(shared, 'models', 'tinystories-656k'), { out });
  const ms = Object.values(summary.phaseMs).reduce((a, b) => a + b, 0);
  console.log(`compiled into ${summary.dir} in ${ms.toFixed(0)} ms for ${summary.targets.join(' + ')}: ` +
    `${summary.tensors} tensors, ${summary.weightBytes} weight bytes, ${summary.kernelFiles} kernel files, nodes ${JSON.stringify(summary.nodes)}`);
  console.log(`files: ${readdirSync(out).sort().join(', ')}`);

  const model = await Model.open(out, { backend: process.env.TESSERA_BACKEND ?? 'auto', threads: 2 });
  console.error(`backend: ${model.backendReason}`);
  try {
    console.log(`compiled artifact: ${model.compiled}`);
    let text = 'Once upon a time';
    for await (const { text: piece } of model.generate(text, { maxTokens: 24 })) text += piece;
    console.log(text);
  } finally {
    await model.dispose();
  }
} finally {
  if (temporary) rmSync(out, { recursive: true, force: true });
}
