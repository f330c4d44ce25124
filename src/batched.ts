// Continuous batching over one copy of a model's weights: many concurrent generations, each a
// sequence of a PagedEngine (runtime/paged/engine.ts), all run through one paged step graph per
// step. Prefill goes through the same graph in chunks (rows of one sequence beside the decode rows
// of the others): one compiled program, one KV layout, and a new request never stalls the others
// for a whole prompt.
//
// Run-time LoRA adapters (the model's lora entries with runtime: true) are loaded once, beside the
// base weights; each sequence runs with its own request's scales (`lora` of generate and chat),
// every row of a step with its own sequence's (runtime/paged/lora-rows.ts): switching adapters
// between requests neither recompiles nor uploads anything but the rows' scales.
import type { ChatMessage } from './chat/messages.js';
import { StateError, UsageError } from '../ir/errors.js';
import { type GeneratedToken, type GenerateParams, generateTokens, type GenerationStats } from '../runtime/generate.js';
import { type EngineStats, PagedEngine, type PagedSequence } from '../runtime/paged/engine.js';
import { perRowLoraScales } from '../runtime/paged/lora-rows.js';
import { ReferencePagedExecutor } from '../runtime/paged/reference.js';
import type { PagedStepExecutor } from '../runtime/paged/step.js';
import { BackendError, compileDone, deviceTarget, gpuContext } from './backends.js';
import type { LoraParams } from './lora.js';
import type { Model } from './model.js';
import { numberRule, checkOptions, type OptionRules } from '../runtime/options.js';

/** Backends with the paged kernels. */
export const BATCHED_BACKENDS: readonly string[] = ['reference', 'wasm', 'webgpu'];

export interface BatchedOptions {
  /** Sequences that may run at once (the server's --parallel). */
  readonly sequences: number;
  /** Positions per KV block. Default 16. */
  readonly blockSize?: number;
  /** Blocks in the pool. Default: enough for every sequence at the full context. */
  readonly kvBlocks?: number;
  /** Most rows (tokens) one step runs: decode rows plus prompt chunks. Default max(64, sequences). */
  readonly maxRows?: number;
}

const RULES: OptionRules<BatchedOptions> = {
  sequences: numberRule({ integer: true, min: 1, max: 1024 }),
  blockSize: numberRule({ integer: true, min: 1, max: 4096 }),
  kvBlocks: numberRule({ integer: true, min: 1 }),
  maxRows: numberRule({ integer: true, min: 1, max: 4096 }),
};

/** One model, many concurrent generations batched per step. */
export class BatchedModel {
  private constructor(readonly model: Model, private readonly engine: PagedEngine, readonly sequences: number) {}

  /** Positions one KV block (page) holds. */
  get blockSize(): number {
    return this.engine.exec.geometry.blockSize;
  }

  /** Builds the paged step for the backend `model` runs on (reference, wasm or webgpu). */
  static async open(model: Model, opts: BatchedOptions): Promise<BatchedModel> {
    checkOptions('BatchedModel.open', opts, RULES, undefined);
    const blockSize = opts.blockSize ?? 16;
    const tableWidth = Math.ceil(model.contextLength / blockSize);
    const blocks = opts.kvBlocks ?? opts.sequences * tableWidth;
    const maxRows = opts.maxRows ?? Math.max(64, opts.sequences);
    const step = model.pagedStep({ blocks, blockSize, tableWidth });
    perRowLoraScales(step.graph);
    let exec: PagedStepExecutor;
    if (step.backend === 'reference') {
      exec = new ReferencePagedExecutor(step.graph, step.params, maxRows);
    } else if (step.backend === 'wasm') {
      const [{ cachedWasmPrograms }, { WasmPagedExecutor }] = await Promise.all([import('../codegen/wasm/program-cache.js'), import('../runtime/paged/wasm.js')]);
      // Through the lowering cache, as the model's own step programs are: a second `serve
      // --parallel` start neither lowers the paged graph nor runs AssemblyScript.
      const bounds = { S: maxRows };
      const compiled = await cachedWasmPrograms({ step: step.graph }, bounds, async () => {
        const [{ lowerGraphToWasm, programKernels }, { compileModule }] = await Promise.all([import('../codegen/wasm/program.js'), import('../codegen/wasm/module.js')]);
        let program;
        try {
          program = lowerGraphToWasm(step.graph, bounds);
        } catch (e) {
          throw new BackendError(`the wasm backend cannot run the batched step: ${(e as Error).message}`);
        }
        const kernels = programKernels([program]);
        const module = await compileModule(kernels);
        compileDone(undefined, kernels.length);
        return { module, programs: { step: program } };
      }, (n) => compileDone(undefined, n));
      exec = await WasmPagedExecutor.create(compiled.module, compiled.programs.step, step.params, { threads: step.threads, spinMicros: step.spinMicros });
    } else if (step.backend === 'webgpu') {
      const [{ lowerGraphToWgsl }, { WebGpuPagedExecutor }] = await Promise.all([import('../codegen/wgsl/program.js'), import('../runtime/paged/webgpu.js')]);
      const ctx = await gpuContext();
      let program;
      try {
        program = lowerGraphToWgsl(step.graph, await deviceTarget(ctx), { S: maxRows });
      } catch (e) {
        throw new BackendError(`the webgpu backend cannot run the batched step: ${(e as Error).message}`);
      }
      exec = await WebGpuPagedExecutor.create(ctx, program, step.params);
    } else {
      throw new UsageError(`batched decoding runs on the reference, wasm and webgpu backends, not ${step.backend}`);
    }
    return new BatchedModel(model, new PagedEngine(exec), opts.sequences);
  }

  get backend(): string {
    return this.engine.exec.backend;
  }

  /** Steps, rows, sequences and KV blocks (pages) in use. */
  get stats(): EngineStats {
    return this.engine.stats;
  }

  /** A slot for one generation at a time; its blocks are given back when each generation ends. */
  sequence(): BatchedSequence {
    return new BatchedSequence(this.model, this.engine.sequence());
  }

  async dispose(): Promise<void> {
    await this.engine.dispose();
  }
}

/**
 * One concurrent generation slot: the stream types and options of Model.generate and Model.chat,
 * `lora` included (the model's run-time adapters at this request's scales; absent: the model's
 * defaults, setLoraScales).
 */
export class BatchedSequence {
  constructor(private readonly model: Model, private readonly seq: PagedSequence) {}

  generate(prompt: string | readonly number[], params: GenerateParams & LoraParams = {}): AsyncGenerator<GeneratedToken, GenerationStats> {
    const { lora, ...rest } = params;
    const scales = this.model.requestLoraScales(lora, 'generate');
    const ids = typeof prompt === 'string' ? this.model.tokenizer.encode(prompt) : prompt;
    return this.run(ids, rest, scales);
  }

  chat(messages: readonly ChatMessage[], options: GenerateParams & LoraParams & { readonly chatTemplate?: string } = {}): AsyncGenerator<GeneratedToken, GenerationStats> {
    const { chatTemplate, lora, ...params } = options;
    const scales = this.model.requestLoraScales(lora, 'chat');
    return this.run(this.model.chatPromptIds(messages, chatTemplate), params, scales);
  }

  /**
   * Logits [ids.length × vocab] of one forward pass from an empty cache, with the request's
   * adapters (`lora`); the rows run in the steps of whatever else the model is running.
   */
  async logits(ids: readonly number[], params: LoraParams = {}): Promise<Float32Array> {
    const scales = this.model.requestLoraScales(params.lora, 'logits');
    if (this.seq.position > 0) throw new StateError('logits(): this sequence holds a generation in progress; use another sequence');
    this.seq.setLora(scales);
    try {
      return await this.seq.forward(ids, 'all');
    } finally {
      this.seq.reset();
    }
  }

  /** KV blocks the sequence holds now. */
  get blocks(): number {
    return this.seq.blockCount;
  }

  async dispose(): Promise<void> {
    await this.seq.dispose();
  }

  private run(ids: readonly number[], params: GenerateParams, scales: Float32Array): AsyncGenerator<GeneratedToken, GenerationStats> {
    const model = this.model;
    const tokenizer = model.source.tokenizerPath ? model.tokenizer : undefined;
    const eosIds = model.eogIds.length ? model.eogIds : tokenizer?.eosId !== undefined ? [tokenizer.eosId] : [];
    const rope = model.config.rope?.scaling;
    const inner = generateTokens({ executor: this.seq, tokenizer, eosIds, recomputeAbove: rope?.type === 'longrope' ? rope.originalMaxPositions : undefined }, ids, params);
    const seq = this.seq;
    // The adapters are chosen when the stream starts; the blocks go back when it ends, however it
    // ends (done, error, return()).
    async function* freeing(): AsyncGenerator<GeneratedToken, GenerationStats> {
      seq.setLora(scales);
      try {
        return yield* inner;
      } finally {
        if (seq.blockCount > 0) seq.reset();
      }
    }
    return freeing();
  }
}
