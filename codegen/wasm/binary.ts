// Binary elementwise kernels (add, sub, mul, div) with numpy broadcasting over symbolic shapes: one
// f32x4 operation on the broadcast loop of broadcast.ts.
import type { Node } from '../../ir/graph.js';
import { emitBroadcast } from './broadcast.js';
import type { WasmKernel } from './kernel.js';

const OPS: Record<string, string> = { add: 'f32x4.add', sub: 'f32x4.sub', mul: 'f32x4.mul', div: 'f32x4.div' };

function emitBinary(node: Node): WasmKernel[] {
  const fn = OPS[node.op];
  return [emitBroadcast(node, `binary_${node.op}`, ([a, b]) => ({ lines: [], value: `${fn}(${a}, ${b})` }))];
}

export const binaryEmitters: Record<string, (node: Node) => WasmKernel[]> = Object.fromEntries(
  Object.keys(OPS).map((op) => [op, emitBinary]),
);
