// What compile() needs from each kind of model: its source, its final graphs by role and how to
// lower them. Decoders have the step graphs `last` and `all` sized by prompt chunk; encoders one
// `batch` graph sized by rows per pass and the context.
import { lowerGraphToWasm, type WasmProgram } from '../codegen/wasm/program.js';
import { lowerGraphToWgsl, type WgslProgram } from '../codegen/wgsl/program.js';
import type { WgslTarget } from '../codegen/wgsl/target.js';
import type { Graph } from '../ir/graph.js';
import type { ModelSource } from '../models/open.js';
import { lowerStepGraphs, lowerStepGraphsToWasm } from './step-lowering.js';
import { Encoder } from './encoder.js';
import { encoderBounds } from './encoder-backends.js';
import { Model } from './model.js';

export interface CompileUnit {
  readonly source: ModelSource;
  /** The graphs after the passes, by the role the artifact stores them under. */
  readonly graphs: Readonly<Record<string, Graph>>;
  lowerWebgpu(gpu: WgslTarget): Record<string, WgslProgram>;
  lowerWasm(): Record<string, WasmProgram>;
}

export interface UnitOptions {
  readonly tokenizer?: string;
  readonly transform?: (g: Graph) => Graph;
  /** Longest prompt chunk a compiled decoder step takes. */
  readonly maxChunk?: number;
  /** Rows per pass a compiled encoder program holds. */
  readonly maxBatch?: number;
}

const loadOptions = (o: UnitOptions) => ({ ...(o.tokenizer ? { tokenizer: o.tokenizer } : {}), ...(o.transform ? { transform: o.transform } : {}) });

export function decoderUnit(path: string, opts: UnitOptions): CompileUnit {
  const model = Model.load(path, loadOptions(opts));
  const graphs = { last: model.graph({ logits: 'last' }), all: model.graph({ logits: 'all' }) };
  const ctx = model.config.maxPositions;
  return {
    source: model.source,
    graphs,
    lowerWebgpu: (gpu) => lowerStepGraphs(graphs, gpu, ctx, opts.maxChunk),
    lowerWasm: () => lowerStepGraphsToWasm(graphs, ctx, opts.maxChunk),
  };
}

export function encoderUnit(path: string, opts: UnitOptions): CompileUnit {
  const encoder = Encoder.load(path, loadOptions(opts));
  const batch = encoder.graph();
  const bounds = encoderBounds(encoder.config, opts.maxBatch);
  return {
    source: encoder.source,
    graphs: { batch },
    lowerWebgpu: (gpu) => ({ batch: lowerGraphToWgsl(batch, gpu, bounds) }),
    lowerWasm: () => ({ batch: lowerGraphToWasm(batch, bounds) }),
  };
}
