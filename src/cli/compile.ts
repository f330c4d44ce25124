// `tessera compile`: write an artifact folder that loads and runs without the compiler.
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { RECIPE_NAMES } from '../../passes/quantize-recipes.js';
import { compile, COMPILE_TARGETS, type CompileTarget } from '../compile.js';
import { CliError, EXIT_OK, listOpt, stringOpt, UsageError } from './command.js';
import type { CliIO } from './io.js';
import { LORA_OPTION, loraOpts, MODEL_OPTIONS, numberOpt, requireString } from './model-options.js';
import { registerCommand } from './registry.js';

const mib = (n: number) => `${(n / 2 ** 20).toFixed(2)} MiB`;

/**
 * -o resolved against io.cwd, checked before any work: it (and the nearest existing folder above
 * it) must be a folder, or not exist yet.
 */
function outputFolder(io: CliIO, value: string): string {
  const path = resolve(io.cwd, value);
  if (existsSync(path) && !statSync(path).isDirectory()) throw new CliError(`--output '${value}' is a file; name a folder for the artifact (or remove the file)`);
  let above = dirname(path);
  while (!existsSync(above)) above = dirname(above);
  if (!statSync(above).isDirectory()) throw new CliError(`--output '${value}': '${above}' is a file, so no folder can be made under it; choose another path`);
  return path;
}

registerCommand({
  name: 'compile',
  summary: 'compile a model ahead of time into an artifact folder',
  args: '',
  positionals: { min: 0, max: 0 },
  description: `Builds the model's graphs (a decoder's step graphs, an encoder's batch graph), runs the
pass pipeline, evaluates every weight (merged, folded, quantized) into weights.bin, generates the
kernels of each target and writes manifest.json (final IR, buffer plan, launch lists, checksums)
and the tokenizer. Every command that takes --model also takes the artifact folder; loading it
runs neither the passes nor any code generator.`,
  options: {
    model: MODEL_OPTIONS.model,
    tokenizer: MODEL_OPTIONS.tokenizer,
    output: { type: 'string', short: 'o', value: 'DIR', help: 'the artifact folder to write (required)' },
    target: { type: 'string', multiple: true, value: 'LIST', help: `kernels to generate: ${COMPILE_TARGETS.join(', ')}, or none for the reference interpreter only (default all)` },
    passes: { type: 'string', value: 'PIPELINE', help: "pass pipeline (default 'default')" },
    lora: LORA_OPTION,
    quantize: { type: 'string', value: 'RECIPE', choices: RECIPE_NAMES, help: "quantize matmul weights to GGUF blocks: a type for every weight (q8_0, q4_k, …) or llama-quantize's per-tensor mix (q4_k_m, …)" },
    'max-chunk': { type: 'string', value: 'N', help: 'decoders: longest prompt chunk one compiled step takes (default 128)' },
    'max-batch': { type: 'string', value: 'N', help: 'encoders: rows per pass the compiled program holds, each up to the whole context (default 8)' },
    quiet: { type: 'boolean', short: 'q', help: 'no progress bar' },
  },
  examples: [
    { command: 'tessera compile -m ../shared/models/tinystories-656k -o build/ts656k', says: 'compile with the default passes for every target' },
    { command: 'tessera generate -m build/ts656k -p "Once upon a time"', says: 'run the artifact' },
    { command: 'tessera compile -m ../shared/refs/bert -o build/bert --target wasm', says: 'an encoder: one batch graph for embed / rerank' },
    { command: 'tessera compile -m model.gguf --lora adapter.gguf:0.5 -o build/tuned', says: 'merge a LoRA adapter at half strength' },
  ],
  async run(inv, io) {
    const out = outputFolder(io, requireString(inv, 'output'));
    const named = listOpt(inv, 'target').flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
    const targets = named.filter((t) => t !== 'none');
    for (const t of targets) if (!(COMPILE_TARGETS as readonly string[]).includes(t)) throw new UsageError(`--target: unknown target '${t}' (targets: ${COMPILE_TARGETS.join(', ')})`, 'compile');
    const quiet = inv.values.quiet === true;
    let lastDraw = 0;
    const summary = await compile(resolve(io.cwd, requireString(inv, 'model')), {
      out,
      ...(named.length ? { targets: targets as CompileTarget[] } : {}),
      ...(stringOpt(inv, 'passes') ? { passes: stringOpt(inv, 'passes') } : {}),
      lora: loraOpts(inv, io),
      ...(stringOpt(inv, 'quantize') ? { quantize: stringOpt(inv, 'quantize') } : {}),
      ...(stringOpt(inv, 'tokenizer') ? { tokenizer: resolve(io.cwd, stringOpt(inv, 'tokenizer')!) } : {}),
      maxChunk: numberOpt(inv, 'max-chunk', { min: 1, integer: true }),
      maxBatch: numberOpt(inv, 'max-batch', { min: 1, integer: true }),
      onProgress: quiet ? undefined : (phase, done, total) => {
        const now = Date.now();
        if (done !== total && now - lastDraw < 100) return;
        lastDraw = now;
        const width = 30;
        const filled = Math.round((done / total) * width);
        io.stderr.write(`\r${phase.padEnd(8)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}${done === total ? '\n' : ''}`);
      },
    });
    const phases = Object.entries(summary.phaseMs).filter(([k]) => !k.startsWith('write.')).map(([k, v]) => `${k} ${v.toFixed(0)} ms`).join(' · ');
    io.stdout.write(
      `compiled ${summary.dir}\n` +
        `  targets:  ${summary.targets.join(', ') || 'none (reference interpreter only)'}\n` +
        `  graphs:   ${Object.entries(summary.nodes).map(([k, n]) => `${k} ${n} nodes`).join(', ')}\n` +
        `  weights:  ${summary.tensors} tensors, ${mib(summary.weightBytes)}\n` +
        `  kernels:  ${summary.kernelFiles} files (WGSL shaders, cpu.wasm)\n` +
        `  time:     ${phases}\n`,
    );
    return EXIT_OK;
  },
});
