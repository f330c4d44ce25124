// Lowers one graph node to its WGSL kernels, dispatching on the op to one emitter per kernel family.
import type { Node } from '../../ir/graph.js';
import { hasUnaryFunctions, listOps } from '../../ir/op.js';
import { emitAttention } from './attention.js';
import { BINARY_OPS, emitBinary, emitCast, emitUnary } from './elementwise.js';
import { emitEmbedding } from './embedding.js';
// The passes' fused ops (ir/ops/fused.ts, rope-matmul.ts): these two imports and their table rows.
import { emitFusedElementwise } from './fused-elementwise.js';
import { emitMatmulEp, emitNormMatmul, emitRopeMatmul } from './fused-matmul.js';
import { emitConcat, emitKvAppend, emitReshape, emitSlice, emitSplit, emitTranspose } from './layout.js';
import { emitMatmulLora } from './lora-matmul.js';
import { emitMatmul } from './matmul.js';
import { emitLayerNorm, emitRmsNorm } from './norm.js';
import { emitArgmax, emitL2Normalize, emitMeanPool, emitSoftmax } from './reduce.js';
import { emitPagedAttention, emitPagedKvWrite } from './paged-attention.js';
import { emitRope } from './rope.js';
import type { WgslTarget } from './target.js';
import type { WgslLowering } from './types.js';

type Emitter = (node: Node, target: WgslTarget) => WgslLowering;

const EMITTERS: ReadonlyMap<string, Emitter> = new Map<string, Emitter>([
  ...BINARY_OPS.map((op): [string, Emitter] => [op, emitBinary]),
  ['cast', emitCast],
  ['matmul', emitMatmul],
  ['embedding', emitEmbedding],
  ['rms_norm', emitRmsNorm],
  ['layer_norm', emitLayerNorm],
  ['softmax', emitSoftmax],
  ['argmax', emitArgmax],
  ['mean_pool', emitMeanPool],
  ['l2_normalize', emitL2Normalize],
  ['rope', emitRope],
  ['attention', emitAttention],
  // The same function as attention; its tile attributes describe the reference's evaluation order.
  ['flash_attention', emitAttention],
  // Fused ops made by the passes.
  ['fused_elementwise', emitFusedElementwise],
  ['matmul_ep', emitMatmulEp],
  ['norm_matmul', emitNormMatmul],
  ['rope_matmul', emitRopeMatmul],
  // Run-time LoRA adapters (lora-attach).
  ['matmul_lora', emitMatmulLora],
  ['kv_append', emitKvAppend],
  // Continuous batching's paged KV cache.
  ['paged_kv_write', emitPagedKvWrite],
  ['paged_attention', emitPagedAttention],
  ['reshape', emitReshape],
  ['transpose', emitTranspose],
  ['split', emitSplit],
  ['concat', emitConcat],
  ['slice', emitSlice],
]);

/** The emitter of `op`: its row, or the unary kernel when the op declares a unary function (ir/op.ts). */
function emitterOf(op: string): Emitter | undefined {
  return EMITTERS.get(op) ?? (hasUnaryFunctions(op) ? emitUnary : undefined);
}

/** Ops this backend has kernels for. */
export function wgslOps(): string[] {
  const unary = listOps().filter((d) => hasUnaryFunctions(d.name)).map((d) => d.name);
  return [...new Set([...EMITTERS.keys(), ...unary])].sort();
}

/** The kernels for `node` on `target`; throws for an op without a WGSL emitter, naming it. */
export function emitWgslKernel(node: Node, target: WgslTarget): WgslLowering {
  const emit = emitterOf(node.op);
  if (!emit) throw new Error(`no WGSL kernel for op '${node.op}' (WGSL covers: ${wgslOps().join(', ')})`);
  return emit(node, target);
}
