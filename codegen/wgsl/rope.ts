// rope: rotary position embedding, exactly as the reference computes it in f32. inv_freq is
// computed here on the host by the reference's own function (so llama3 smoothing and longrope
// factors agree bit for bit) and baked into the shader; the angle inv_freq·pos is one f32
// multiply, as in the reference; its cos and sin come from an argument-reduced polynomial
// (math.ts), accurate to ~2e-7 at the thousands of radians late positions reach.
//
// longrope picks its short or long factors by the largest position in `pos`, which is run-time
// data: a first one-workgroup kernel finds it (into scratch), and the rotation kernel reads it.
import type { Attrs } from '../../ir/attrs.js';
import { dimProduct } from '../../ir/dim.js';
import type { Node } from '../../ir/graph.js';
import { longropeAttentionFactor, ropeInvFreq } from '../../ir/ops/rope.js';
import { loadFlat, storageElem } from './access.js';
import { ceilDiv, f32Lit, FLAT_WORKGROUP, grid1d, KernelBuilder } from './builder.js';
import { SINCOS_WGSL } from './math.js';
import type { WgslTarget } from './target.js';
import type { WgslKernel, WgslLowering } from './types.js';

const WG = 256;
/** Scratch id of the largest position (longrope), shared by the kernels of one node. */
export const MAX_POS_SCRATCH = 7;

function constArray(name: string, values: Float32Array): string {
  return `const ${name} = array<f32, ${values.length}>(${Array.from(values, f32Lit).join(', ')});`;
}

export interface RopeFunctions {
  /** Rotated dims per head (the rest pass through). */
  readonly rd: number;
  /** Whether `max_pos` (scratch MAX_POS_SCRATCH, filled by maxPosKernel) must be bound. */
  readonly longrope: boolean;
  /**
   * WGSL: `fn rope_partner(d: u32) -> u32`, the other dim of d's pair, and
   * `fn rope_rotate(d: u32, v: f32, w: f32, p: i32) -> f32`, dim d (< rd) of a head whose dim d
   * holds v and partner dim holds w, at position p.
   */
  readonly wgsl: string;
}

export function ropeFunctions(a: Attrs, headDim: number): RopeFunctions {
  const rd = (a.rotary_dim as number) || headDim, half = rd / 2;
  const longrope = a.scaling === 'longrope';
  const orig = a.original_max_positions as number;
  const tables = longrope
    // seqLen = orig selects the short factors, orig + 1 the long ones.
    ? `${constArray('INV_SHORT', ropeInvFreq(a, rd, orig))}\n${constArray('INV_LONG', ropeInvFreq(a, rd, orig + 1))}`
    : constArray('INV_FREQ', ropeInvFreq(a, rd, 0));
  const inv = longrope ? `select(INV_SHORT[i], INV_LONG[i], max_pos[0] + 1 > ${orig})` : 'INV_FREQ[i]';
  const att = longrope ? f32Lit(longropeAttentionFactor(a)) : '1.0';
  // Pairs: rotate_half (i, i + rd/2), or interleaved (2i, 2i + 1).
  const pair = a.interleaved
    ? { index: 'd / 2u', first: '(d & 1u) == 0u', partner: 'select(d - 1u, d + 1u, (d & 1u) == 0u)' }
    : { index: `select(d - ${half}u, d, d < ${half}u)`, first: `d < ${half}u`, partner: `select(d - ${half}u, d + ${half}u, d < ${half}u)` };
  const wgsl = `${tables}
${SINCOS_WGSL}
fn rope_partner(d: u32) -> u32 { return ${pair.partner}; }
fn rope_rotate(d: u32, v: f32, w: f32, p: i32) -> f32 {
  let i = ${pair.index};
  let cs = sincos_f32(${inv} * f32(p)) * ${att};
  // First of the pair: v·cos − w·sin; second: v·cos + w·sin.
  return v * cs.x + select(w, -w, ${pair.first}) * cs.y;
}`;
  return { rd, longrope, wgsl };
}

/** One workgroup: the largest entry of operand `posOperand` into scratch MAX_POS_SCRATCH. */
export function maxPosKernel(node: Node, target: WgslTarget, posOperand: number, when?: WgslKernel['when']): WgslKernel {
  const k = new KernelBuilder(node, target, 'rope_max_pos');
  k.operand(posOperand, 'pos', 'i32');
  k.scratch(MAX_POS_SCRATCH, 4, 'max_pos', 'i32');
  const n = dimProduct(node.inputs[posOperand].type.shape);
  const body = `var<workgroup> best: atomic<i32>;
@compute @workgroup_size(${WG})
fn rope_max_pos(@builtin(local_invocation_index) li: u32) {
  if (li == 0u) { atomicStore(&best, -2147483647 - 1); }
  workgroupBarrier();
  var m = -2147483647 - 1;
  for (var i = li; i < ${k.dim(n)}; i += ${WG}u) { m = max(m, pos[i]); }
  atomicMax(&best, m);
  workgroupBarrier();
  if (li == 0u) { max_pos[0] = atomicLoad(&best); }
}`;
  return k.build({ body, grid: [1, 1, 1], label: 'rope max position', ...(when ? { when } : {}) });
}

export function emitRope(node: Node, target: WgslTarget): WgslLowering {
  const [x, pos] = node.inputs.map((v) => v.type);
  const d = x.shape[x.shape.length - 1];
  if (typeof d !== 'number') throw new Error(`rope: the head dim of ${String(d)} must be static`);
  const f = ropeFunctions(node.attrs, d);
  const [s, h] = x.shape.slice(-3, -1);
  const k = new KernelBuilder(node, target, 'rope');
  k.operand(0, 'x', storageElem(x.dtype));
  k.operand(1, 'pos', 'i32');
  if (f.longrope) k.scratch(MAX_POS_SCRATCH, 4, 'max_pos', 'i32');
  k.result(0, 'y', 'f32');
  const n = dimProduct(x.shape);
  // pos [S] is shared by every sequence of a batched x.
  const posIndex = x.shape.length === 4 && pos.shape.length === 1 ? `token % ${k.dim(s)}` : 'token';
  const body = `${loadFlat('x_at', 'x', x.dtype)}
${f.wgsl}
@compute @workgroup_size(${WG})
fn rope(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let e = (${FLAT_WORKGROUP}) * ${WG}u + li;
  if (e >= ${k.dim(n)}) { return; }
  let c = e % ${d}u;
  if (c >= ${f.rd}u) { y[e] = x_at(e); return; }
  let token = e / (${d}u * ${k.dim(h)});
  y[e] = rope_rotate(c, x_at(e), x_at(e - c + rope_partner(c)), pos[${posIndex}]);
}`;
  const kernel = k.build({
    body,
    grid: grid1d(ceilDiv(n, WG), target),
    label: `rope d${d} rd${f.rd}${node.attrs.interleaved ? ' interleaved' : ''} ${String(node.attrs.scaling)} x:${x.dtype}`,
  });
  return { kernels: f.longrope ? [maxPosKernel(node, target, 1), kernel] : [kernel] };
}
