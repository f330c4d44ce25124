// emitWasmKernel: the CPU kernels for one graph node, by op. Most ops are one kernel; some are a
// short sequence that runs with barriers between (quantize activations, then the integer matmul;
// attention partials, then their combination).
import type { Graph, Node } from '../../ir/graph.js';
import { hasUnaryFunctions, listOps } from '../../ir/op.js';
import { attentionEmitters } from './attention.js';
import { binaryEmitters } from './binary.js';
import { embeddingEmitters } from './embedding.js';
import { fusedElementwiseEmitters } from './fused-elementwise.js';
import { fusedMatmulEmitters } from './fused-matmul.js';
import type { WasmEmitContext, WasmKernel } from './kernel.js';
import { layoutEmitters } from './layout.js';
import { loraEmitters } from './lora-matmul.js';
import { matmulEmitters } from './matmul.js';
import { normEmitters } from './norm.js';
import { pagedAttentionEmitters } from './paged-attention.js';
import { reduceEmitters } from './reduce.js';
import { ropeEmitters } from './rope.js';
import { softmaxEmitters } from './softmax.js';
import { emitUnaryFunction, unaryEmitters } from './unary.js';

export type KernelEmitter = (node: Node, ctx: WasmEmitContext) => WasmKernel[];

const EMITTERS: Readonly<Record<string, KernelEmitter>> = {
  ...unaryEmitters,
  ...binaryEmitters,
  ...normEmitters,
  ...softmaxEmitters,
  ...matmulEmitters,
  ...embeddingEmitters,
  ...layoutEmitters,
  ...reduceEmitters,
  ...ropeEmitters,
  ...attentionEmitters,
  ...fusedElementwiseEmitters,
  ...fusedMatmulEmitters,
  ...loraEmitters,
  ...pagedAttentionEmitters,
};

/** The emitter of `op`: its row, or the unary-function kernel when the op declares one (ir/op.ts). */
function emitterOf(op: string): KernelEmitter | undefined {
  if (Object.hasOwn(EMITTERS, op)) return EMITTERS[op];
  return hasUnaryFunctions(op) ? emitUnaryFunction : undefined;
}

/** Ops the CPU target has kernels for. */
export function wasmOps(): string[] {
  const unary = listOps().filter((d) => hasUnaryFunctions(d.name)).map((d) => d.name);
  return [...new Set([...Object.keys(EMITTERS), ...unary])].sort();
}

export function hasWasmKernel(op: string): boolean {
  return emitterOf(op) !== undefined;
}

/** The kernels that compute `node`, in launch order (a barrier after each). */
export function emitWasmKernel(node: Node, ctx: WasmEmitContext = {}): WasmKernel[] {
  const emit = emitterOf(node.op);
  if (!emit) throw new Error(`the wasm target has no kernel for op '${node.op}' (has: ${wasmOps().join(', ')})`);
  try {
    return emit(node, ctx);
  } catch (e) {
    throw new Error(`wasm kernel for ${node.op} (%${node.outputs.map((v) => v.name).join(', %')}): ${(e as Error).message}`);
  }
}

/** A graph with the kernels of each node, in node order. */
export interface GraphKernels {
  readonly graph: Graph;
  readonly nodeKernels: readonly (readonly WasmKernel[])[];
}

export function emitGraphKernels(graph: Graph, ctx: WasmEmitContext = {}): GraphKernels {
  return { graph, nodeKernels: graph.nodes.map((n) => emitWasmKernel(n, ctx)) };
}

/** Every kernel of some graphs, for one module (compileModule deduplicates them). */
export function allKernels(graphs: readonly GraphKernels[]): WasmKernel[] {
  return graphs.flatMap((g) => g.nodeKernels.flat());
}
