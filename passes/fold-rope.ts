// fold-rope: RoPE moves into the epilogue of the Q/K projection (every target's kernels rotate
// there: WGSL in the matmul epilogue, the CPU in one launch after the product). Pattern:
//
//   %p = matmul(%h, %w)            (or norm_matmul, or a piece of a split of one: merged QKV)
//   %q = reshape(%p) {shape = [S, H, D]}
//   %r = rope(%q, %pos)
//
// becomes rope_matmul(%h, %w, %pos) {rope_cols = [...]} followed by the same reshape (and split),
// whose result now is the rotated tensor. Every rope folded into one matmul must agree on its
// attributes and positions; the V columns of a merged projection are left unrotated.
import { attrEquals, type Attrs, type AttrValue } from '../ir/attrs.js';
import { dimEquals, dimMul } from '../ir/dim.js';
import { type Graph, type Node, replaceAllUses, type Value } from '../ir/graph.js';
import { isPlainProjection } from '../ir/ops/fused.js';
import { getOp } from '../ir/op.js';
import { normAxis } from '../ir/ops/util.js';
import type { PassContext } from './pass.js';
import { registerPass } from './registry.js';
import { attrsOf, newNode, replaceNode, Uses } from './rewrite.js';

interface Site {
  readonly rope: Node;
  readonly reshape: Node;
  readonly matmul: Node;
  readonly cols: readonly [number, number];
  readonly headDim: number;
}

/** The projection under a rope, and which of its columns the rope rotates. */
function siteOf(rope: Node, uses: Uses): Site | undefined {
  const [x, pos] = rope.inputs;
  const reshape = x.producer;
  if (!reshape || reshape.op !== 'reshape' || x.type.shape.length !== 3 || pos.type.shape.length !== 1 || !uses.onlyFeeds(x, rope)) return undefined;
  const v = reshape.inputs[0];
  const [s, h, d] = x.type.shape;
  if (typeof d !== 'number' || typeof h !== 'number' || v.type.shape.length !== 2 || !dimEquals(v.type.shape[0], s) || !dimEquals(v.type.shape[1], dimMul(h, d))) return undefined;
  if (!uses.onlyFeeds(v, reshape)) return undefined;
  const width = h * d;
  let p = v.producer;
  let start = 0;
  if (p?.op === 'split') {
    const a = attrsOf(p);
    const u = p.inputs[0];
    if (normAxis(a.axis as number, 2) !== 1 || !uses.onlyFeeds(u, p)) return undefined;
    const sizes = a.sizes as readonly number[];
    start = sizes.slice(0, p.outputs.indexOf(v)).reduce((x, y) => x + y, 0);
    p = u.producer;
  }
  if (!p || (p.op !== 'matmul' && p.op !== 'norm_matmul') || !isPlainProjection(p.op, attrsOf(p), p.inputs.length)) return undefined;
  return { rope, reshape, matmul: p, cols: [start, start + width], headDim: d };
}

const ROPE_KEYS = () => Object.keys(getOp('rope').attrs);

function sameRope(a: Attrs, b: Attrs): boolean {
  return ROPE_KEYS().every((k) => attrEquals(a[k], b[k]));
}

/** Adjacent ranges joined: [0, 64), [64, 96) → [0, 96). */
function joinRanges(ranges: readonly (readonly [number, number])[]): number[] {
  const out: number[] = [];
  for (const [s, e] of [...ranges].sort((x, y) => x[0] - y[0])) {
    if (out.length && out[out.length - 1] === s) out[out.length - 1] = e;
    else out.push(s, e);
  }
  return out;
}

export function foldRope(g: Graph, ctx: Pick<PassContext, 'stat'>): boolean {
  const uses = new Uses(g);
  const byMatmul = new Map<Node, Site[]>();
  for (const n of g.nodes) {
    if (n.op !== 'rope') continue;
    const site = siteOf(n, uses);
    if (!site) continue;
    const list = byMatmul.get(site.matmul);
    if (list) list.push(site);
    else byMatmul.set(site.matmul, [site]);
  }
  const position = new Map(g.nodes.map((n, i) => [n, i]));
  let changed = false;
  for (const [m, sites] of byMatmul) {
    const first = attrsOf(sites[0].rope);
    const pos: Value = sites[0].rope.inputs[1];
    const agree = sites.every((s) => s.rope.inputs[1] === pos && s.headDim === sites[0].headDim && sameRope(attrsOf(s.rope), first));
    // The positions must exist where the projection runs.
    const posAt = pos.producer ? position.get(pos.producer)! : -1;
    if (!agree || posAt > position.get(m)!) {
      ctx.stat('ropes-kept');
      continue;
    }
    const a = m.op === 'norm_matmul' ? attrsOf(m) : undefined;
    const ropeAttrs: Record<string, AttrValue> = Object.fromEntries(ROPE_KEYS().map((k) => [k, first[k]]));
    const attrs = { ...ropeAttrs, ...(a ? { norm: a.kind as string, eps: a.eps as number } : {}), head_dim: sites[0].headDim, rope_cols: joinRanges(sites.map((s) => s.cols)) };
    const [x, w, bias] = m.inputs;
    replaceNode(g, m, newNode('rope_matmul', bias ? [x, w, pos, bias] : [x, w, pos], attrs, [m.outputs[0].name]));
    for (const s of sites) {
      g.nodes = g.nodes.filter((n) => n !== s.rope);
      replaceAllUses(g, s.rope.outputs[0], s.reshape.outputs[0]);
      ctx.stat('ropes-folded');
    }
    changed = true;
  }
  return changed;
}

registerPass({
  name: 'fold-rope',
  description: 'rotate Q/K by RoPE in the projection epilogue (rope_matmul)',
  run: (g, ctx) => ({ changed: foldRope(g, ctx) }),
});
