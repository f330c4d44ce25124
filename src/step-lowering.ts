// A decoder's two step graphs lowered for a backend, with buffers sized for prompt chunks of
// `maxChunk` tokens and the whole context. Backends import this on demand: a run served from an
// artifact or the lowering cache loads no code generator.
import { lowerGraphToWasm, type WasmProgram } from '../codegen/wasm/program.js';
import { lowerGraphToWgsl, type WgslProgram } from '../codegen/wgsl/program.js';
import type { WgslTarget } from '../codegen/wgsl/target.js';
import type { Graph } from '../ir/graph.js';
import type { LogitsWanted } from '../runtime/executor.js';
import { stepBounds } from './backends.js';

/** Both step graphs lowered to CPU kernels. */
export function lowerStepGraphsToWasm(graphs: Readonly<Record<LogitsWanted, Graph>>, contextLength: number, maxChunk?: number): Record<LogitsWanted, WasmProgram> {
  const bounds = stepBounds(contextLength, maxChunk);
  return { last: lowerGraphToWasm(graphs.last, bounds), all: lowerGraphToWasm(graphs.all, bounds) };
}

/** Both step graphs lowered to WGSL. */
export function lowerStepGraphs(graphs: Readonly<Record<LogitsWanted, Graph>>, target: WgslTarget, contextLength: number, maxChunk?: number): Record<LogitsWanted, WgslProgram> {
  const bounds = stepBounds(contextLength, maxChunk);
  return { last: lowerGraphToWgsl(graphs.last, target, bounds), all: lowerGraphToWgsl(graphs.all, target, bounds) };
}
