// fused_elementwise (ir/ops/fused.ts): a program over broadcast operands, one pass over the result.
import type { Node } from '../../ir/graph.js';
import { broadcastKernel } from './elementwise.js';
import { programToWgsl } from './expr.js';
import type { WgslTarget } from './target.js';
import type { WgslLowering } from './types.js';

export function emitFusedElementwise(node: Node, target: WgslTarget): WgslLowering {
  const program = node.attrs.program as string;
  const { expr, helpers } = programToWgsl(program, (space, index) => {
    if (space !== 'x') throw new Error(`fused_elementwise: program ${JSON.stringify(program)} reads ${space}${index}`);
    return `v${index}`;
  }, 'i');
  return broadcastKernel(node, target, 'fused_elementwise', `fused ${program}`, expr, helpers);
}
