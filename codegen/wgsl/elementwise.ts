// Elementwise kernels: binary arithmetic with numpy broadcasting, unary activations, cast.
// One invocation per output element, 256 per workgroup, the workgroup grid folded into 2-D when
// it exceeds the per-dimension limit.
import { type Dim, dimMul, dimProduct } from '../../ir/dim.js';
import type { Node } from '../../ir/graph.js';
import { broadcastShapes } from '../../ir/ops/util.js';
import { loadFlat, storageElem } from './access.js';
import { ceilDiv, f32Lit, FLAT_WORKGROUP, grid1d, KernelBuilder } from './builder.js';
import { ERF_WGSL, SIGMOID_WGSL, TANH_WGSL } from './math.js';
import type { WgslTarget } from './target.js';
import type { WgslLowering } from './types.js';

const WG = 256;

const BINARY: Readonly<Record<string, string>> = { add: '+', sub: '-', mul: '*', div: '/' };

/** WGSL for each unary op: an expression in `v`, and the helper functions it needs. */
function unaryExpr(node: Node): { expr: string; helpers: string[] } {
  const a = node.attrs;
  switch (node.op) {
    case 'silu': return { expr: 'v * sigmoid_f32(v)', helpers: [SIGMOID_WGSL] };
    case 'sigmoid': return { expr: 'sigmoid_f32(v)', helpers: [SIGMOID_WGSL] };
    case 'gelu':
      return a.approximate === 'tanh'
        ? { expr: `0.5 * v * (1.0 + tanh_f32(${f32Lit(Math.sqrt(2 / Math.PI))} * (v + ${f32Lit(0.044715)} * v * v * v)))`, helpers: [TANH_WGSL] }
        : { expr: `0.5 * v * (1.0 + erf_f32(v * ${f32Lit(Math.SQRT1_2)}))`, helpers: [ERF_WGSL] };
    case 'tanh': return { expr: 'tanh_f32(v)', helpers: [TANH_WGSL] };
    case 'exp': return { expr: 'exp(v)', helpers: [] };
    // select, not max: the reference maps NaN to 0, and WGSL leaves max(NaN, 0) open.
    case 'relu': return { expr: 'select(0.0, v, v > 0.0)', helpers: [] };
    case 'neg': return { expr: '-v', helpers: [] };
    case 'softcap': {
      const cap = a.cap as number;
      return { expr: `${f32Lit(cap)} * tanh_f32(v / ${f32Lit(cap)})`, helpers: [TANH_WGSL] };
    }
    case 'scale': return { expr: `v * ${f32Lit(a.factor as number)}`, helpers: [] };
    default: throw new Error(`elementwise: '${node.op}' is not a unary op`);
  }
}

export const UNARY_OPS: readonly string[] = ['silu', 'sigmoid', 'gelu', 'tanh', 'exp', 'relu', 'neg', 'softcap', 'scale'];
export const BINARY_OPS: readonly string[] = Object.keys(BINARY);

/** The entry point shared by the one-element-per-invocation kernels; `body` sees `i` (< n). */
function mapEntry(name: string, n: string, body: string): string {
  return `@compute @workgroup_size(${WG})
fn ${name}(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = (${FLAT_WORKGROUP}) * ${WG}u + li;
  if (i >= ${n}) { return; }
${body}
}`;
}

export function emitUnary(node: Node, target: WgslTarget): WgslLowering {
  const x = node.inputs[0].type;
  const { expr, helpers } = unaryExpr(node);
  const k = new KernelBuilder(node, target, `unary_${node.op}`);
  k.operand(0, 'x', storageElem(x.dtype));
  k.result(0, 'y', 'f32');
  const n = dimProduct(x.shape);
  const body = [
    loadFlat('x_at', 'x', x.dtype),
    ...helpers,
    mapEntry(`unary_${node.op}`, k.dim(n), `  let v = x_at(i);\n  y[i] = ${expr};`),
  ].join('\n');
  return { kernels: [k.build({ body, grid: grid1d(ceilDiv(n, WG), target), label: `${node.op} ${x.dtype}` })] };
}

export function emitCast(node: Node, target: WgslTarget): WgslLowering {
  const x = node.inputs[0].type;
  const to = node.attrs.dtype as 'f32' | 'i32';
  const k = new KernelBuilder(node, target, 'cast_elements');
  k.operand(0, 'x', storageElem(x.dtype));
  k.result(0, 'y', to);
  const n = dimProduct(x.shape);
  // f32 → i32 rounds toward zero (WGSL's conversion, like torch's .to(int32)); i32 → f32 rounds
  // to nearest. Out-of-range floats clamp here where the reference throws.
  const value = x.dtype === 'i32' ? (to === 'i32' ? 'x[i]' : 'f32(x[i])') : to === 'i32' ? 'i32(x_at(i))' : 'x_at(i)';
  const body = [
    ...(x.dtype === 'i32' ? [] : [loadFlat('x_at', 'x', x.dtype)]),
    mapEntry('cast_elements', k.dim(n), `  y[i] = ${value};`),
  ].join('\n');
  return { kernels: [k.build({ body, grid: grid1d(ceilDiv(n, WG), target), label: `cast ${x.dtype}->${to}` })] };
}

/** One axis of the broadcast after merging: its length and each operand's stride (0 = broadcast). */
interface Axis {
  len: Dim;
  strideA: Dim;
  strideB: Dim;
}

/**
 * Axes of the broadcast output, with runs of axes that broadcast the same way merged (so a bias
 * over [S, H, D] is one axis of S·H and one of D) and length-1 axes dropped.
 */
export function broadcastAxes(a: readonly Dim[], b: readonly Dim[]): Axis[] {
  const out = broadcastShapes(a, b);
  const rank = out.length;
  const pad = (s: readonly Dim[]) => [...new Array<Dim>(rank - s.length).fill(1), ...s];
  const pa = pad(a), pb = pad(b);
  // Walk from the innermost axis, tracking each operand's running stride.
  const axes: Axis[] = [];
  let sa: Dim = 1, sb: Dim = 1;
  let prev: string | undefined;
  for (let i = rank - 1; i >= 0; i--) {
    if (out[i] === 1) continue;
    const bcA = pa[i] === 1, bcB = pb[i] === 1;
    const pattern = `${bcA}${bcB}`;
    if (pattern === prev) {
      const top = axes[axes.length - 1];
      top.len = dimMul(top.len, out[i]);
    } else {
      axes.push({ len: out[i], strideA: bcA ? 0 : sa, strideB: bcB ? 0 : sb });
      prev = pattern;
    }
    if (!bcA) sa = dimMul(sa, pa[i]);
    if (!bcB) sb = dimMul(sb, pb[i]);
  }
  return axes.reverse();
}

export function emitBinary(node: Node, target: WgslTarget): WgslLowering {
  const [a, b] = node.inputs.map((v) => v.type);
  const k = new KernelBuilder(node, target, `binary_${node.op}`);
  k.operand(0, 'a', storageElem(a.dtype));
  k.operand(1, 'b', storageElem(b.dtype));
  k.result(0, 'y', 'f32');
  const axes = broadcastAxes(a.shape, b.shape);
  const n = dimProduct(node.outputs[0].type.shape);
  // Flat output index → each operand's flat index, innermost axis first.
  const lines: string[] = [];
  // An operand that broadcasts on no axis has the output's shape (up to length-1 axes): index i.
  const fullA = axes.every((ax) => ax.strideA !== 0), fullB = axes.every((ax) => ax.strideB !== 0);
  if (!fullA || !fullB) {
    lines.push('  var rest = i;', '  var ia = 0u;', '  var ib = 0u;');
    for (let j = axes.length - 1; j >= 0; j--) {
      const ax = axes[j];
      const len = j > 0 ? k.dim(ax.len) : '';
      lines.push(j === 0 ? `  let c0 = rest;` : `  let c${j} = rest % ${len};`);
      if (j > 0) lines.push(`  rest = rest / ${len};`);
      if (ax.strideA !== 0 && !fullA) lines.push(`  ia += c${j} * ${k.dim(ax.strideA)};`);
      if (ax.strideB !== 0 && !fullB) lines.push(`  ib += c${j} * ${k.dim(ax.strideB)};`);
    }
  }
  const ia = fullA ? 'i' : 'ia', ib = fullB ? 'i' : 'ib';
  lines.push(`  y[i] = a_at(${ia}) ${BINARY[node.op]} b_at(${ib});`);
  const body = [loadFlat('a_at', 'a', a.dtype), loadFlat('b_at', 'b', b.dtype), mapEntry(`binary_${node.op}`, k.dim(n), lines.join('\n'))].join('\n');
  return { kernels: [k.build({ body, grid: grid1d(ceilDiv(n, WG), target), label: `${node.op} ${axes.length}-axis` })] };
}
