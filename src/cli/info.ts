// `tessera info`: architecture, sizes, parameter count, tensor types and memory needed.
import { describeHeaders, describeModel, formatModelInfo, type ModelInfo, unsupportedTensors } from '../info.js';
import { isArtifactDir } from '../../codegen/artifact/read.js';
import { openSource } from '../open-source.js';
import { EXIT_OK, flagOpt } from './command.js';
import { resolve } from 'node:path';
import { Encoder } from '../encoder.js';
import { stringOpt } from './command.js';
import { Model, modelTask } from '../model.js';
import { MODEL_OPTIONS, requireString } from './model-options.js';
import { registerCommand } from './registry.js';
import { inputPath } from './paths.js';

registerCommand({
  name: 'info',
  summary: 'describe a model: architecture, sizes, parameters, tensor types, memory',
  args: '',
  positionals: { min: 0, max: 0 },
  description: 'Reads the model headers (no weights) and prints what the model is and what running it needs; tensors of a type Tessera cannot run are listed.',
  options: { model: MODEL_OPTIONS.model, tokenizer: MODEL_OPTIONS.tokenizer, json: { type: 'boolean', help: 'print one JSON object' } },
  examples: [{ command: 'tessera info -m ../shared/models/tinystories-656k', says: 'a llama decoder with 2 layers, …' }],
  async run(inv, io) {
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
    io.stdout.write(flagOpt(inv, 'json') ? `${JSON.stringify(info, null, 2)}\n` : formatModelInfo(info));
    return EXIT_OK;
  },
});
