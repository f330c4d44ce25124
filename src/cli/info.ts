// `tessera info`: architecture, sizes, parameter count, tensor types and memory needed.
import { describeHeaders, describeModel, formatModelInfo, type ModelInfo, unsupportedTensors } from '../info.js';
import { isArtifactDir } from '../../codegen/artifact/read.js';
import { openSource } from '../open-source.js';
import { CliError, EXIT_OK, flagOpt } from './command.js';
import { resolve } from 'node:path';
import { Encoder } from '../encoder.js';
import { stringOpt } from './command.js';
import { Model, modelTask } from '../model.js';
import { LORA_OPTION, loraOpts, MODEL_OPTIONS, requireString } from './model-options.js';
import { checkLoras, describeAdapter, formatAdapterInfo } from '../lora.js';
import { openLoraAdapter } from '../../models/lora/open.js';
import { registerCommand } from './registry.js';
import { inputPath } from './paths.js';

registerCommand({
  name: 'info',
  summary: 'describe a model: architecture, sizes, parameters, tensor types, memory',
  args: '',
  positionals: { min: 0, max: 0 },
  description: 'Reads the model headers (no weights) and prints what the model is and what running it needs; tensors of a type Tessera cannot run are listed.',
  options: {
    model: MODEL_OPTIONS.model,
    tokenizer: MODEL_OPTIONS.tokenizer,
    lora: { ...LORA_OPTION, value: 'PATH', help: 'describe a LoRA adapter (format, rank, alpha, targets); with --model, also check that it fits the model' },
    json: { type: 'boolean', help: 'print one JSON object' },
  },
  examples: [
    { command: 'tessera info -m ../shared/models/tinystories-656k', says: 'a llama decoder with 2 layers, …' },
    { command: 'tessera info --lora adapter.gguf', says: 'a LoRA adapter: rank, alpha and the tensors it adapts' },
  ],
  async run(inv, io) {
    const loras = loraOpts(inv, io);
    if (loras.length && stringOpt(inv, 'model') === undefined) {
      const adapters = loras.map((l) => describeAdapter(openLoraAdapter(l.path)));
      io.stdout.write(flagOpt(inv, 'json') ? `${JSON.stringify(adapters.length === 1 ? adapters[0] : adapters, null, 2)}\n` : adapters.map(formatAdapterInfo).join('\n'));
      return EXIT_OK;
    }
    const path = resolve(io.cwd, requireString(inv, 'model'));
    const tok = stringOpt(inv, 'tokenizer');
    const isDecoder = modelTask(path) === 'decoder';
    const opts = tok ? { tokenizer: inputPath(io, tok, 'tokenizer') } : {};
    // A checkpoint with tensors of a type we cannot run is still described, from its headers.
    // (An artifact holds only tensors it can run: its checksums are not read twice.)
    const source = isArtifactDir(path) ? undefined : openSource(path, opts).source;
    let info: ModelInfo;
    if (source && unsupportedTensors(source).length) info = describeHeaders(source, source.config);
    else {
      const model = isDecoder ? Model.load(path, opts) : Encoder.load(path, opts);
      info = describeModel(isDecoder ? { source: model.source, config: model.config, graph: () => (model as Model).graph({ logits: 'last' }) } : model as Encoder);
    }
    const adapters = source ? checkLoras(loras, source).map(describeAdapter) : [];
    if (loras.length && !source) throw new CliError('--lora: a compiled artifact already has its weights; describe the adapter alone (without --model)');
    if (flagOpt(inv, 'json')) io.stdout.write(`${JSON.stringify(adapters.length ? { ...info, lora: adapters } : info, null, 2)}\n`);
    else io.stdout.write([formatModelInfo(info), ...adapters.map(formatAdapterInfo)].join('\n'));
    return EXIT_OK;
  },
});
