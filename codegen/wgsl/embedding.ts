// embedding: out[t, :] = table[ids[t], :], the table in any float or GGUF-quantized dtype (rows are
// decoded where they are read). One invocation per output element.
import { dimMul, dimProduct } from '../../ir/dim.js';
import type { Node } from '../../ir/graph.js';
import { loadMatrix, storageElem } from './access.js';
import { ceilDiv, FLAT_WORKGROUP, grid1d, KernelBuilder } from './builder.js';
import type { WgslTarget } from './target.js';
import type { WgslLowering } from './types.js';

const WG = 256;

export function emitEmbedding(node: Node, target: WgslTarget): WgslLowering {
  const [table, ids] = node.inputs.map((v) => v.type);
  const [v, d] = table.shape;
  const n = dimMul(dimProduct(ids.shape), d);
  const k = new KernelBuilder(node, target, 'embedding');
  k.operand(0, 'table', storageElem(table.dtype));
  k.operand(1, 'ids', 'i32');
  k.result(0, 'y', 'f32');
  const D = k.dim(d), V = k.dim(v);
  const body = `${loadMatrix('table_at', 'table', table.dtype, D)}
@compute @workgroup_size(${WG})
fn embedding(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = (${FLAT_WORKGROUP}) * ${WG}u + li;
  if (i >= ${k.dim(n)}) { return; }
  let D = ${D};
  let id = ids[i / D];
  // The reference rejects an id outside the table; here it becomes a NaN row, never a stray read.
  // (Built at run time: WGSL rejects a constant NaN. Strictly WGSL calls the value indeterminate,
  // but every driver we know passes the bits through.)
  if (id < 0 || u32(id) >= ${V}) { y[i] = bitcast<f32>(0x7fc00000u | (i & 0u)); return; }
  y[i] = table_at(u32(id), i % D);
}`;
  return { kernels: [k.build({ body, grid: grid1d(ceilDiv(n, WG), target), label: `embedding table:${table.dtype}` })] };
}
