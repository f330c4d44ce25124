// What a backend offers continuous batching: one step of the paged step graph
// (models/arch/decoder.ts, option `paged`) over a set of rows, each one token of some sequence
// with that sequence's position, length and block table. The KV pool lives in the backend between
// steps; the scheduler (engine.ts) decides which rows run and which blocks each sequence holds.
import type { Graph } from '../../ir/graph.js';
import { LORA_ROWS_INPUT } from './lora-rows.js';

/** The rows of one step, in the graph's input layout (row r's table at blocks[r·width …]). */
export interface PagedRows {
  readonly count: number;
  readonly tokens: Int32Array;
  readonly pos: Int32Array;
  readonly lens: Int32Array;
  readonly blocks: Int32Array;
  /** Row r's run-time adapter scales at lora[r·adapters …] (empty when the graph has no adapters). */
  readonly lora: Float32Array;
}

/** A step's results, valid until the next step: logits [count, vocab] and the argmax of each row. */
export interface PagedStepResult {
  readonly logits: Float32Array;
  readonly next: Int32Array;
}

export interface PagedStepExecutor {
  readonly backend: string;
  readonly geometry: PagedGeometry;
  /** Most rows one step takes (the compiled bound of S). */
  readonly maxRows: number;
  step(rows: PagedRows): Promise<PagedStepResult>;
  dispose(): Promise<void>;
}

/** The pool's shape, read off the paged step graph: the one place it is written down. */
export interface PagedGeometry {
  readonly blocks: number;
  readonly blockSize: number;
  /** Block table width: the most blocks one sequence holds. */
  readonly tableWidth: number;
  readonly vocabSize: number;
  /** Run-time LoRA adapters a row may use (the `lora_scales` input's width; 0: none). */
  readonly adapters: number;
}

export function pagedGeometry(g: Graph): PagedGeometry {
  const pool = g.stateInputs()[0];
  const table = g.inputs.find((v) => v.name === 'blocks');
  const logits = g.output('logits');
  if (!pool || !table || !logits || !g.output('next')) throw new Error(`graph @${g.name} is not a paged step graph (it needs a KV pool state, a 'blocks' input and 'logits' and 'next' outputs)`);
  const [blocks, blockSize] = pool.type.shape, tableWidth = table.type.shape[1], vocabSize = logits.type.shape[1];
  const adapters = g.inputs.find((v) => v.name === LORA_ROWS_INPUT)?.type.shape[1] ?? 0;
  if (typeof blocks !== 'number' || typeof blockSize !== 'number' || typeof tableWidth !== 'number' || typeof vocabSize !== 'number' || typeof adapters !== 'number') throw new Error(`graph @${g.name}: the paged pool, block tables and adapter scales must have static sizes`);
  return { blocks, blockSize, tableWidth, vocabSize, adapters };
}
