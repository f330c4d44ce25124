// fused_elementwise (ir/ops/fused.ts): a program over broadcast operands, one pass over the result
// on the broadcast loop of broadcast.ts.
import type { Node } from '../../ir/graph.js';
import { emitBroadcast } from './broadcast.js';
import type { WasmKernel } from './kernel.js';
import { programToAs } from './program-expr.js';

function emitFusedElementwise(node: Node): WasmKernel[] {
  const program = node.attrs.program as string;
  return [emitBroadcast(node, 'fused_elementwise', (vs) => programToAs(program, (space, index) => {
    if (space !== 'x' || index >= vs.length) throw new Error(`program ${JSON.stringify(program)} reads ${space}${index}, which fused_elementwise does not have`);
    return vs[index];
  }))];
}

export const fusedElementwiseEmitters: Record<string, (node: Node) => WasmKernel[]> = { fused_elementwise: emitFusedElementwise };
