// Ahead-of-time compilation: build the model's graphs (a decoder's step graphs, an encoder's
// batch graph), run the pass pipeline, evaluate and pack every weight, lower to each target's
// kernels, and write an artifact folder that loads without any of this.
import { readFileSync, existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { writeArtifact } from '../codegen/artifact/write.js';
import { WEBGPU_DEFAULT_TARGET, type WgslTarget } from '../codegen/wgsl/target.js';
import { ggufMetadataBytes } from '../models/formats/gguf-writer.js';
import { GgufStore } from '../models/formats/gguf.js';
import type { ModelSource } from '../models/open.js';
import { findPass } from '../passes/registry.js';
import { compileModule } from '../codegen/wasm/module.js';
import { programKernels, type WasmProgram } from '../codegen/wasm/program.js';
import { decoderUnit, encoderUnit } from './compile-units.js';
import { modelTask, paramResolver } from './model.js';
import { pipelineTransform } from './passes.js';
import { checkLoras, type LoraOption, withLoraPipeline } from './lora.js';
import { openSource } from './open-source.js';
import { ConfigError } from '../models/config/model-config.js';
import { UsageError } from '../ir/errors.js';
import { packageVersion } from './cli/version.js';

export const COMPILE_TARGETS = ['webgpu', 'wasm'] as const;
export type CompileTarget = (typeof COMPILE_TARGETS)[number];

export interface CompileOptions {
  /** The artifact folder to write. */
  readonly out: string;
  /** Kernels to generate (default: every target). The reference interpreter needs none. */
  readonly targets?: readonly CompileTarget[];
  /** Pass pipeline (default 'default'). */
  readonly passes?: string;
  /** LoRA adapters merged into the weights (in order) before the passes. */
  readonly lora?: readonly LoraOption[];
  /** Quantize matmul weights by this recipe (RECIPE_NAMES, passes/quantize-recipes.ts): a type, or a llama-quantize mix. */
  readonly quantize?: string;
  readonly tokenizer?: string;
  /** Longest prompt chunk a compiled decoder step takes. */
  readonly maxChunk?: number;
  /** Rows per pass a compiled encoder program holds (default 8); rows are padded up to the context. */
  readonly maxBatch?: number;
  /** Device limits the WGSL kernels may assume (default: what every WebGPU device offers). */
  readonly gpu?: WgslTarget;
  readonly onProgress?: (phase: string, done: number, total: number) => void;
}

export interface CompileSummary {
  readonly dir: string;
  readonly phaseMs: Readonly<Record<string, number>>;
  readonly weightBytes: number;
  readonly tensors: number;
  /** WGSL files plus cpu.wasm. */
  readonly kernelFiles: number;
  /** Nodes of each stored graph, by role. */
  readonly nodes: Readonly<Record<string, number>>;
  readonly targets: readonly CompileTarget[];
}

function pipelineFor(opts: CompileOptions): string {
  const passes = opts.passes ?? 'default';
  if (!opts.quantize) return withLoraPipeline(passes, opts.lora)!;
  if (!findPass('quantize')) throw new Error('the quantize pass is not available in this build');
  // After merging adapters, first, as llama-quantize sees the checkpoint: each weight gets its own
  // type (merges after it join only like types, norms are not folded into blocks), the head and
  // the (tied) table too.
  const quantizeFirst = `quantize{recipe=${opts.quantize},heads=true,tables=true}${passes === 'none' ? '' : `,${passes}`}`;
  return withLoraPipeline(quantizeFirst, opts.lora)!;
}

/** The tokenizer files an artifact carries: a copy, or a GGUF model's vocabulary as a metadata-only GGUF. */
function tokenizerFiles(source: ModelSource): { file: string; bytes: Uint8Array }[] {
  const path = source.tokenizerPath;
  if (!path) return [];
  if (source.store instanceof GgufStore && path === source.path) {
    return [{ file: 'tokenizer.gguf', bytes: ggufMetadataBytes(source.store.metadata, (k) => k.startsWith('tokenizer.') || k === 'general.architecture') }];
  }
  const files = [{ file: basename(path).endsWith('.json') ? 'tokenizer.json' : 'tokenizer.bin', bytes: readFileSync(path) }];
  // Its companions: the tokenizer's config (special tokens, chat template), a chat template kept
  // on its own, and the end-of-generation ids of generation_config.json (models/chat/).
  for (const name of ['tokenizer_config.json', 'chat_template.jinja', 'generation_config.json']) {
    const companion = join(dirname(path), name);
    if (files[0].file === 'tokenizer.json' && existsSync(companion)) files.push({ file: name, bytes: readFileSync(companion) });
  }
  return files;
}

export async function compile(modelPath: string, opts: CompileOptions): Promise<CompileSummary> {
  const phaseMs: Record<string, number> = {};
  let t = performance.now();
  const lap = (phase: string) => { const now = performance.now(); phaseMs[phase] = (phaseMs[phase] ?? 0) + now - t; t = now; };
  const passes = pipelineFor(opts);
  const targets = opts.targets ?? COMPILE_TARGETS;
  // The graphs serve every target, so the pipeline is the one of the most limited target.
  const target = targets.includes('wasm') ? 'wasm' : targets.includes('webgpu') ? 'webgpu' : undefined;
  const unitOptions = { tokenizer: opts.tokenizer, transform: pipelineTransform(passes, target), maxChunk: opts.maxChunk, maxBatch: opts.maxBatch };
  const isDecoder = modelTask(modelPath) === 'decoder';
  if (opts.lora?.length) {
    if (!isDecoder) throw new ConfigError(modelPath, 'LoRA adapters apply to decoders; this model is an encoder');
    if (opts.lora.some((l) => l.runtime)) throw new UsageError('compile: run-time LoRA adapters (runtime: true) are not compiled into artifacts yet; merge them (runtime: false)');
    checkLoras(opts.lora, openSource(modelPath, {}).source);
  }
  const unit = isDecoder ? decoderUnit(modelPath, unitOptions) : encoderUnit(modelPath, unitOptions);
  const { source, graphs } = unit;
  // Reading headers, building the graphs and running the passes.
  lap('graphs');
  const webgpu = targets.includes('webgpu') ? unit.lowerWebgpu(opts.gpu ?? WEBGPU_DEFAULT_TARGET) : undefined;
  let wasm: { binary: Uint8Array; source: string; kernels: string[]; features: readonly string[]; programs: Record<string, WasmProgram> } | undefined;
  if (targets.includes('wasm')) {
    const programs = unit.lowerWasm();
    const module = await compileModule(programKernels(Object.values(programs)));
    wasm = { binary: module.binary, source: module.source, kernels: module.kernels.map((k) => k.name), features: module.features, programs };
  }
  lap('codegen');
  const written = writeArtifact(opts.out, {
    tessera: packageVersion(),
    model: { source: source.path, sourceFormat: source.format, config: source.config as unknown as Record<string, unknown> },
    passes,
    graphs,
    resolve: paramResolver(source),
    tokenizer: tokenizerFiles(source),
    ...(webgpu ? { webgpu } : {}),
    ...(wasm ? { wasm } : {}),
    onProgress: opts.onProgress,
  });
  lap('write');
  for (const [k, v] of Object.entries(written.phaseMs)) phaseMs[`write.${k}`] = v;
  return {
    dir: written.dir, phaseMs, weightBytes: written.weightBytes, tensors: written.tensors, kernelFiles: written.kernelFiles,
    nodes: Object.fromEntries(Object.entries(graphs).map(([role, g]) => [role, g.nodes.length])), targets,
  };
}
