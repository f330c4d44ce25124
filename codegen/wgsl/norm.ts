// rms_norm and layer_norm over the last axis: one workgroup per row. layer_norm takes the mean
// first and then the squared deviations (two passes, as the reference), not E[x²] − mean².
import { dimProduct } from '../../ir/dim.js';
import type { Node } from '../../ir/graph.js';
import { loadFlat, storageElem } from './access.js';
import { f32Lit, KernelBuilder } from './builder.js';
import { rowEntry, rowGrid, rowReduce, rowWorkgroupSize } from './rows.js';
import type { WgslTarget } from './target.js';
import type { WgslLowering } from './types.js';

export function emitRmsNorm(node: Node, target: WgslTarget): WgslLowering {
  const [x, w] = node.inputs.map((v) => v.type);
  const d = w.shape[0], rows = dimProduct(x.shape.slice(0, -1));
  const k = new KernelBuilder(node, target, 'rms_norm');
  k.operand(0, 'x', storageElem(x.dtype));
  k.operand(1, 'w', storageElem(w.dtype));
  k.result(0, 'y', 'f32');
  const wg = rowWorkgroupSize(d, target);
  const D = k.dim(d);
  const body = `${loadFlat('x_at', 'x', x.dtype)}
${loadFlat('w_at', 'w', w.dtype)}
${rowReduce(k, 'row_sum', 'sum', wg)}
${rowEntry('rms_norm', wg, k.dim(rows), `  let D = ${D};
  let base = row * D;
  var ss = 0.0;
  for (var i = li; i < D; i += ${wg}u) { let v = x_at(base + i); ss += v * v; }
  let inv = 1.0 / sqrt(row_sum(ss, li) / f32(D) + ${f32Lit(node.attrs.eps as number)});
  for (var i = li; i < D; i += ${wg}u) { y[base + i] = x_at(base + i) * inv * (${f32Lit(node.attrs.offset as number)} + w_at(i)); }`)}`;
  return { kernels: [k.build({ body, grid: rowGrid(rows, target), label: `rms_norm ${wg} x:${x.dtype} w:${w.dtype}` })] };
}

export function emitLayerNorm(node: Node, target: WgslTarget): WgslLowering {
  const [x, w, b] = node.inputs.map((v) => v.type);
  const d = w.shape[0], rows = dimProduct(x.shape.slice(0, -1));
  const k = new KernelBuilder(node, target, 'layer_norm');
  k.operand(0, 'x', storageElem(x.dtype));
  k.operand(1, 'w', storageElem(w.dtype));
  if (b) k.operand(2, 'b', storageElem(b.dtype));
  k.result(0, 'y', 'f32');
  const wg = rowWorkgroupSize(d, target);
  const D = k.dim(d);
  const body = `${loadFlat('x_at', 'x', x.dtype)}
${loadFlat('w_at', 'w', w.dtype)}
${b ? loadFlat('b_at', 'b', b.dtype) : 'fn b_at(i: u32) -> f32 { return 0.0; }'}
${rowReduce(k, 'row_sum', 'sum', wg)}
${rowEntry('layer_norm', wg, k.dim(rows), `  let D = ${D};
  let base = row * D;
  var s = 0.0;
  for (var i = li; i < D; i += ${wg}u) { s += x_at(base + i); }
  let mean = row_sum(s, li) / f32(D);
  var ss = 0.0;
  for (var i = li; i < D; i += ${wg}u) { let c = x_at(base + i) - mean; ss += c * c; }
  let inv = 1.0 / sqrt(row_sum(ss, li) / f32(D) + ${f32Lit(node.attrs.eps as number)});
  for (var i = li; i < D; i += ${wg}u) { y[base + i] = (x_at(base + i) - mean) * inv * w_at(i) + b_at(i); }`)}`;
  return { kernels: [k.build({ body, grid: rowGrid(rows, target), label: `layer_norm ${wg} x:${x.dtype} w:${w.dtype}${b ? ' +b' : ''}` })] };
}
