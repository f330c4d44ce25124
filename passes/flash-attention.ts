// flash-attention: every `attention` becomes `flash_attention`, the tiled online-softmax form
// (O(S) memory instead of O(S·T)), with a split-K flash-decoding variant for S = 1 steps. Tile
// sizes are attributes, chosen per target (passes/targets.ts) unless the pipeline gives them:
// `flash-attention{tile_k=64}`.
import type { Graph } from '../ir/graph.js';
import type { PassContext } from './pass.js';
import { registerPass } from './registry.js';
import { attrsOf, newNode, replaceNode } from './rewrite.js';
import { targetTraits } from './targets.js';

export function tileAttention(g: Graph, ctx: Pick<PassContext, 'stat' | 'options' | 'target'>): boolean {
  const defaults = targetTraits(ctx.target).flash;
  const tiles = {
    tile_q: (ctx.options.tile_q as number | undefined) ?? defaults.tile_q,
    tile_k: (ctx.options.tile_k as number | undefined) ?? defaults.tile_k,
    split_k: (ctx.options.split_k as number | undefined) ?? defaults.split_k,
  };
  let changed = false;
  for (const n of [...g.nodes]) {
    if (n.op !== 'attention') continue;
    replaceNode(g, n, newNode('flash_attention', n.inputs, { ...attrsOf(n), ...tiles }, n.outputs.map((v) => v.name)));
    ctx.stat('attentions-tiled');
    changed = true;
  }
  return changed;
}

registerPass({
  name: 'flash-attention',
  description: 'attention becomes flash_attention: key tiles with online softmax, split-K partials for decode steps',
  options: {
    tile_q: { type: 'int', optional: true, doc: 'query rows per tile (default: per target)' },
    tile_k: { type: 'int', optional: true, doc: 'keys per tile (default: per target)' },
    split_k: { type: 'int', optional: true, doc: 'key splits of a decode step (default: per target)' },
  },
  run: (g, ctx) => ({ changed: tileAttention(g, ctx) }),
});
