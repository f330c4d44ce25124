// embedding: out[t, :] = table[ids[t], :], the table in any float or GGUF-quantized dtype (rows are
// decoded where they are read). One invocation per output element. A table over the binding limit
// is bound as row ranges (split.ts), one kernel each: a kernel writes the rows of the ids its range
// holds, and the last range also writes the NaN rows of out-of-range ids, so every element is
// written exactly once.
import { dimMul, dimProduct } from '../../ir/dim.js';
import type { Node } from '../../ir/graph.js';
import { loadMatrix, storageElem } from './access.js';
import { ceilDiv, FLAT_WORKGROUP, grid1d, KernelBuilder } from './builder.js';
import { type RowRange, weightParts } from './split.js';
import type { WgslTarget } from './target.js';
import type { WgslKernel, WgslLowering } from './types.js';

const WG = 256;

export function emitEmbedding(node: Node, target: WgslTarget): WgslLowering {
  const parts = weightParts(node.inputs[0].type, target);
  return { kernels: parts ? parts.map((rows) => gather(node, target, rows)) : [gather(node, target)] };
}

function gather(node: Node, target: WgslTarget, part?: RowRange): WgslKernel {
  const [table, ids] = node.inputs.map((v) => v.type);
  const [v, d] = table.shape;
  const n = dimMul(dimProduct(ids.shape), d);
  const k = new KernelBuilder(node, target, 'embedding', part && { operand: 0, rows: part });
  k.operand(0, 'table', storageElem(table.dtype));
  k.operand(1, 'ids', 'i32');
  k.result(0, 'y', 'f32');
  const D = k.dim(d), V = k.dim(v);
  // The range's rows, and whether it writes the NaN rows (the whole table does).
  // (Own uniform slots for the range's values, so that every range shares one shader.)
  const pick = part ? `  let r = u32(id) - ${k.dim(part.first, 'rows.first')};
  if (r >= ${k.dim(part.count, 'rows.count')}) { return; }` : '  let r = u32(id);';
  const nanRows = part ? `${k.dim(part.first + part.count, 'rows.end')} == ${V}` : 'true';
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
  if (id < 0 || u32(id) >= ${V}) {
    if (${nanRows}) { y[i] = bitcast<f32>(0x7fc00000u | (i & 0u)); }
    return;
  }
${pick}
  y[i] = table_at(r, i % D);
}`;
  return k.build({ body, grid: grid1d(ceilDiv(n, WG), target), label: `embedding table:${table.dtype}${part ? ' rows' : ''}` });
}
