// `tessera logits`: one forward pass over given token ids; f32 logits [S, vocab] as raw
// little-endian floats (--out) or JSON — for comparing against another implementation.
import { writeFileSync } from 'node:fs';
import { EXIT_OK, stringOpt } from './command.js';
import { checkIdsInVocabulary, loadModelFrom, CTX_OPTION, LORA_OPTION, MODEL_OPTIONS, parseIdList, requireString } from './model-options.js';
import { outputFilePath } from './paths.js';
import { registerCommand } from './registry.js';

registerCommand({
  name: 'logits',
  summary: 'run one forward pass over token ids and write the logits',
  args: '',
  positionals: { min: 0, max: 0 },
  description: `Runs the ids through the model from an empty cache and writes the logits of every
position: shape [S, vocab], f32. With --out, raw little-endian floats to that file (and the shape to
standard error); otherwise JSON on standard output: {"shape": [S, vocab], "logits": [[…], …]}.`,
  options: {
    ...MODEL_OPTIONS,
    lora: LORA_OPTION,
    ctx: CTX_OPTION,
    ids: { type: 'string', value: 'IDS', help: 'comma-separated token ids, e.g. 1,2,3' },
    out: { type: 'string', short: 'o', value: 'FILE', help: 'write raw f32 little-endian logits here' },
  },
  examples: [
    { command: 'tessera logits -m ../shared/refs/llama --ids 8,173,37', says: 'JSON logits [3, 256]' },
    { command: 'tessera logits -m model.gguf --ids 1,450,4996 -o logits.bin', says: 'raw f32 for numpy.fromfile' },
  ],
  async run(inv, io) {
    const ids = parseIdList(requireString(inv, 'ids'), 'ids', inv.command);
    const outText = stringOpt(inv, 'out');
    const out = outText === undefined ? undefined : outputFilePath(io, outText, 'out');
    const model = await loadModelFrom(inv, io);
    try {
      const V = model.config.vocabSize;
      checkIdsInVocabulary(ids, V, 'ids', inv.command);
      const logits = await model.logits(ids);
      if (out) {
        writeFileSync(out, new Uint8Array(logits.buffer, logits.byteOffset, logits.byteLength));
        io.stderr.write(`wrote f32 logits [${ids.length}, ${V}] to ${outText}\n`);
      } else {
        const rows = Array.from({ length: ids.length }, (_, i) => Array.from(logits.subarray(i * V, (i + 1) * V)));
        io.stdout.write(`${JSON.stringify({ shape: [ids.length, V], logits: rows })}\n`);
      }
    } finally {
      await model.dispose();
    }
    return EXIT_OK;
  },
});
