// Elementwise kernels: binary arithmetic with numpy broadcasting, unary functions (every op that
// declares one in the registry), cast.
// One invocation per output element, 256 per workgroup, the workgroup grid folded into 2-D when
// it exceeds the per-dimension limit.
import { type Dim, dimMul, dimProduct } from '../../ir/dim.js';
import type { Node } from '../../ir/graph.js';
import { broadcastShapes } from '../../ir/ops/util.js';
import { loadFlat, storageElem } from './access.js';
import { ceilDiv, FLAT_WORKGROUP, grid1d, KernelBuilder } from './builder.js';
import { unaryFunction } from './unary.js';
import type { WgslTarget } from './target.js';
import type { WgslLowering } from './types.js';

const WG = 256;

const BINARY: Readonly<Record<string, string>> = { add: '+', sub: '-', mul: '*', div: '/' };

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
  const { fn, helpers } = unaryFunction('f', node.op, node.attrs);
  const k = new KernelBuilder(node, target, `unary_${node.op}`);
  k.operand(0, 'x', storageElem(x.dtype));
  k.result(0, 'y', 'f32');
  const n = dimProduct(x.shape);
  const body = [
    loadFlat('x_at', 'x', x.dtype),
    ...helpers,
    fn,
    mapEntry(`unary_${node.op}`, k.dim(n), '  y[i] = f(x_at(i));'),
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
  strides: Dim[];
}

/**
 * Axes of the broadcast output, with runs of axes that broadcast the same way merged (so a bias
 * over [S, H, D] is one axis of S·H and one of D) and length-1 axes dropped.
 */
export function broadcastAxes(shapes: readonly (readonly Dim[])[]): Axis[] {
  const out = shapes.reduce<Dim[]>((acc, s) => broadcastShapes(acc, s), []);
  const rank = out.length;
  const padded = shapes.map((s) => [...new Array<Dim>(rank - s.length).fill(1), ...s]);
  // Walk from the innermost axis, tracking each operand's running stride.
  const axes: Axis[] = [];
  const running: Dim[] = shapes.map(() => 1);
  let prev: string | undefined;
  for (let i = rank - 1; i >= 0; i--) {
    if (out[i] === 1) continue;
    const bc = padded.map((p) => p[i] === 1);
    const pattern = bc.join();
    if (pattern === prev) {
      const top = axes[axes.length - 1];
      top.len = dimMul(top.len, out[i]);
    } else {
      axes.push({ len: out[i], strides: bc.map((b, k) => (b ? 0 : running[k])) });
      prev = pattern;
    }
    padded.forEach((p, k) => { if (!bc[k]) running[k] = dimMul(running[k], p[i]); });
  }
  return axes.reverse();
}

/**
 * An elementwise kernel over operands broadcast to the result: `y[i] = expr`, where `expr` reads
 * operand k as `v<k>`.
 */
export function broadcastKernel(node: Node, target: WgslTarget, name: string, label: string, expr: string, helpers: readonly string[]): WgslLowering {
  const k = new KernelBuilder(node, target, name);
  node.inputs.forEach((v, j) => k.operand(j, `x${j}`, storageElem(v.type.dtype)));
  k.result(0, 'y', 'f32');
  const axes = broadcastAxes(node.inputs.map((v) => v.type.shape));
  const n = dimProduct(node.outputs[0].type.shape);
  // An operand that broadcasts on no axis has the output's shape (up to length-1 axes): index i.
  const full = node.inputs.map((_, j) => axes.every((ax) => ax.strides[j] !== 0));
  const lines: string[] = [];
  if (!full.every(Boolean)) {
    lines.push('  var rest = i;', ...node.inputs.map((_, j) => (full[j] ? '' : `  var i${j} = 0u;`)).filter(Boolean));
    // Flat output index → each operand's flat index, innermost axis first.
    for (let a = axes.length - 1; a >= 0; a--) {
      const ax = axes[a];
      lines.push(a === 0 ? '  let c0 = rest;' : `  let c${a} = rest % ${k.dim(ax.len)};`);
      if (a > 0) lines.push(`  rest = rest / ${k.dim(ax.len)};`);
      node.inputs.forEach((_, j) => { if (!full[j] && ax.strides[j] !== 0) lines.push(`  i${j} += c${a} * ${k.dim(ax.strides[j])};`); });
    }
  }
  node.inputs.forEach((_, j) => lines.push(`  let v${j} = x${j}_at(${full[j] ? 'i' : `i${j}`});`));
  lines.push(`  y[i] = ${expr};`);
  const body = [
    ...node.inputs.map((v, j) => loadFlat(`x${j}_at`, `x${j}`, v.type.dtype)),
    ...helpers,
    mapEntry(name, k.dim(n), lines.join('\n')),
  ].join('\n');
  return { kernels: [k.build({ body, grid: grid1d(ceilDiv(n, WG), target), label: `${label} ${axes.length}-axis` })] };
}

export function emitBinary(node: Node, target: WgslTarget): WgslLowering {
  return broadcastKernel(node, target, `binary_${node.op}`, node.op, `v0 ${BINARY[node.op]} v1`, []);
}

/**
 * `fn <name>(i: u32) -> u32`: for flat index i of a result of shape `out`, the flat index into an
 * operand of shape `shape` broadcast to it (numpy rules).
 */
export function broadcastIndexFn(k: KernelBuilder, name: string, out: readonly Dim[], shape: readonly Dim[]): string {
  const axes = broadcastAxes([out, shape]);
  if (axes.every((ax) => ax.strides[1] !== 0)) return `fn ${name}(i: u32) -> u32 { return i; }`;
  const lines = ['  var rest = i;', '  var at = 0u;'];
  for (let a = axes.length - 1; a >= 0; a--) {
    const { len, strides } = axes[a];
    const c = a === 0 ? 'rest' : `(rest % ${k.dim(len)})`;
    if (strides[1] !== 0) lines.push(`  at += ${c} * ${k.dim(strides[1])};`);
    if (a > 0) lines.push(`  rest = rest / ${k.dim(len)};`);
  }
  return `fn ${name}(i: u32) -> u32 {\n${lines.join('\n')}\n  return at;\n}`;
}
