// The decoder graph: one step of a causal LM over S new tokens with P cached ones. The same
// skeleton serves every decoder family; the config switches the differences (norm kind and
// offset, RoPE or learned positions, gated MLP, biases, q/k norms, post-norms, softcaps, windows).
import type { AttrValue } from '../../ir/attrs.js';
import { GraphBuilder } from '../../ir/builder.js';
import { assertCompilerAllowed } from '../../ir/compiler-guard.js';
import { dimSub } from '../../ir/dim.js';
import type { Graph, Value } from '../../ir/graph.js';
import type { WeightExpr, WeightType } from '../../ir/weights.js';
import type { ModelConfig, RopeConfig } from '../config/model-config.js';
import type { DecoderWeights } from './decoder-weights.js';
import { paramDeclarer } from './params.js';

export interface DecoderGraphOptions {
  /** Logits for every position, only the last one (generation), or none. */
  readonly logits?: 'all' | 'last' | 'none';
  /** Also output hidden.0 … hidden.L as HF's output_hidden_states lays them out. */
  readonly hiddenStates?: boolean;
  /**
   * Continuous batching: the step runs S rows, each one token of any sequence (inputs `lens` and
   * `blocks` beside `tokens`, `pos`), with the KV cache in a pool of fixed-size blocks shared by
   * every sequence (ir/ops/paged-attention.ts); logits and `next` for every row.
   */
  readonly paged?: PagedKvLayout;
}

/** The block pool of a paged step graph: `blocks` blocks of `blockSize` positions; tables `tableWidth` blocks wide. */
export interface PagedKvLayout {
  readonly blocks: number;
  readonly blockSize: number;
  readonly tableWidth: number;
}

/** The RoPE attributes of the `rope` op for a config. */
export function ropeAttrs(r: RopeConfig, maxPositions: number): Record<string, AttrValue> {
  const a: Record<string, AttrValue> = { theta: r.theta, rotary_dim: r.rotaryDim, interleaved: r.interleaved };
  const s = r.scaling;
  if (s.type === 'llama3') {
    Object.assign(a, { scaling: 'llama3', factor: s.factor, low_freq_factor: s.lowFreqFactor, high_freq_factor: s.highFreqFactor, original_max_positions: s.originalMaxPositions });
  } else if (s.type === 'longrope') {
    Object.assign(a, {
      scaling: 'longrope', short_factor: [...s.shortFactor], long_factor: [...s.longFactor],
      original_max_positions: s.originalMaxPositions, attention_factor: s.attentionFactor, max_positions: maxPositions,
    });
  }
  return a;
}

export function buildDecoderGraph(c: ModelConfig, w: DecoderWeights, leaf: (name: string) => WeightType, opts: DecoderGraphOptions = {}): Graph {
  assertCompilerAllowed(`building the ${c.family} graph`);
  const paged = opts.paged;
  const b = new GraphBuilder(c.family, paged ? ['S'] : ['S', 'P']);
  const S = b.sym('S');
  const params = paramDeclarer(b, leaf, `hidden ${c.hiddenSize}, ${c.numHeads} heads / ${c.numKvHeads} kv heads × head_dim ${c.headDim}, intermediate ${c.intermediateSize}, vocab ${c.vocabSize}`);
  const param = params.param;
  const D = c.hiddenSize;
  const norm = (x: Value, wsrc: WeightExpr, bsrc: WeightExpr | undefined, name: string): Value => {
    const nw = param(name, wsrc, [D]);
    if (c.norm.kind === 'layer') return b.op('layer_norm', [x, nw, param(`${name}.bias`, bsrc!, [D])], { eps: c.norm.eps }, `${name}.out`);
    return b.op('rms_norm', [x, nw], { eps: c.norm.eps, offset: c.norm.offset }, `${name}.out`);
  };
  /** x · wᵀ (+ bias) with w of shape [out, in]. */
  const linear = (x: Value, wsrc: WeightExpr, bsrc: WeightExpr | undefined, name: string, out: number, inn: number): Value => {
    const wv = param(name, wsrc, [out, inn]);
    const bv = bsrc ? param(`${name}.bias`, bsrc, [out]) : undefined;
    return b.op('matmul', bv ? [x, wv, bv] : [x, wv], {}, `${name}.out`);
  };
  const act = (x: Value, name: string): Value =>
    c.activation === 'silu' ? b.op('silu', [x], {}, name) : b.op('gelu', [x], { approximate: c.activation === 'gelu_tanh' ? 'tanh' : 'none' }, name);

  const tokens = b.input('tokens', 'i32', [S]);
  const pos = b.input('pos', 'i32', [S]);
  const lens = paged ? b.input('lens', 'i32', [S]) : undefined;
  const blocks = paged ? b.input('blocks', 'i32', [S, paged.tableWidth]) : undefined;
  const cacheRows = paged ? [paged.blocks, paged.blockSize] : [b.sym('P')];
  const caches = Array.from({ length: c.numLayers }, (_, i) => ({
    k: b.input(`k.${i}`, 'f32', [...cacheRows, c.numKvHeads, c.headDim], { state: true }),
    v: b.input(`v.${i}`, 'f32', [...cacheRows, c.numKvHeads, c.headDim], { state: true }),
  }));

  let x = b.op('embedding', [param('embed', w.embed, [c.vocabSize, D]), tokens], {}, 'x.embed');
  if (w.posEmbed) x = b.op('add', [x, b.op('embedding', [param('pos_embed', w.posEmbed, [c.maxPositions, D]), pos], {}, 'x.pos')], {}, 'x.in');
  if (c.embedScale !== 1) x = b.op('scale', [x], { factor: c.embedScale }, 'x.scaled');
  if (opts.hiddenStates) b.output('hidden.0', x);
  const rope = c.rope ? ropeAttrs(c.rope, c.maxPositions) : undefined;

  w.layers.forEach((lw, i) => {
    const l = `l${i}`;
    // Attention block.
    const h = norm(x, lw.attnNorm, lw.attnNormBias, `${l}.attn_norm`);
    const qDim = c.numHeads * c.headDim;
    const kvDim = c.numKvHeads * c.headDim;
    let q = b.op('reshape', [linear(h, lw.q, lw.qBias, `${l}.wq`, qDim, D)], { shape: [S, c.numHeads, c.headDim] }, `${l}.q`);
    let k = b.op('reshape', [linear(h, lw.k, lw.kBias, `${l}.wk`, kvDim, D)], { shape: [S, c.numKvHeads, c.headDim] }, `${l}.k`);
    const v = b.op('reshape', [linear(h, lw.v, lw.vBias, `${l}.wv`, kvDim, D)], { shape: [S, c.numKvHeads, c.headDim] }, `${l}.v`);
    if (lw.qNorm && lw.kNorm) {
      q = b.op('rms_norm', [q, param(`${l}.q_norm`, lw.qNorm, [c.headDim])], { eps: c.norm.eps, offset: c.norm.offset }, `${l}.q.normed`);
      k = b.op('rms_norm', [k, param(`${l}.k_norm`, lw.kNorm, [c.headDim])], { eps: c.norm.eps, offset: c.norm.offset }, `${l}.k.normed`);
    }
    if (rope) {
      q = b.op('rope', [q, pos], rope, `${l}.q.rope`);
      k = b.op('rope', [k, pos], rope, `${l}.k.rope`);
    }
    const kAll = blocks ? b.op('paged_kv_write', [caches[i].k, k, blocks, pos], {}, `${l}.k.cache`) : b.op('kv_append', [caches[i].k, k], {}, `${l}.k.cache`);
    const vAll = blocks ? b.op('paged_kv_write', [caches[i].v, v, blocks, pos], {}, `${l}.v.cache`) : b.op('kv_append', [caches[i].v, v], {}, `${l}.v.cache`);
    b.update(caches[i].k, kAll);
    b.update(caches[i].v, vAll);
    const attnAttrs: Record<string, AttrValue> = { scale: c.attnScale, ...(blocks ? {} : { causal: true }) };
    if (c.layerWindows[i] > 0) attnAttrs.window = c.layerWindows[i];
    if (c.attnSoftcap > 0) attnAttrs.softcap = c.attnSoftcap;
    const attn = blocks && lens ? b.op('paged_attention', [q, kAll, vAll, blocks, lens], attnAttrs, `${l}.attn`) : b.op('attention', [q, kAll, vAll], attnAttrs, `${l}.attn`);
    const merged = b.op('reshape', [attn], { shape: [S, c.numHeads * c.headDim] }, `${l}.attn.merged`);
    let o = linear(merged, lw.o, lw.oBias, `${l}.wo`, D, qDim);
    if (lw.postAttnNorm) o = norm(o, lw.postAttnNorm, undefined, `${l}.post_attn_norm`);
    x = b.op('add', [x, o], {}, `${l}.resid.attn`);

    // MLP block.
    const m = norm(x, lw.ffnNorm, lw.ffnNormBias, `${l}.ffn_norm`);
    let inner: Value;
    if (lw.gate) {
      const gate = act(linear(m, lw.gate, undefined, `${l}.w_gate`, c.intermediateSize, D), `${l}.gate.act`);
      inner = b.op('mul', [gate, linear(m, lw.up, lw.upBias, `${l}.w_up`, c.intermediateSize, D)], {}, `${l}.glu`);
    } else {
      inner = act(linear(m, lw.up, lw.upBias, `${l}.w_up`, c.intermediateSize, D), `${l}.up.act`);
    }
    let down = linear(inner, lw.down, lw.downBias, `${l}.w_down`, D, c.intermediateSize);
    if (lw.postFfnNorm) down = norm(down, lw.postFfnNorm, undefined, `${l}.post_ffn_norm`);
    x = b.op('add', [x, down], {}, `${l}.resid.ffn`);
    if (opts.hiddenStates && i < c.numLayers - 1) b.output(`hidden.${i + 1}`, x);
  });

  const mode = opts.logits ?? 'all';
  // Only the last row's logits: slice before the (row-wise) final norm, so a prompt normalises one
  // row, not S.
  const lastOnly = mode === 'last' && !opts.hiddenStates;
  if (lastOnly) x = b.op('slice', [x], { axis: 0, start: dimSub(S, 1), end: S }, 'x.last');
  x = norm(x, w.finalNorm, w.finalNormBias, 'final_norm');
  if (opts.hiddenStates) b.output(`hidden.${c.numLayers}`, x);
  if (mode !== 'none') {
    if (mode === 'last' && !lastOnly) x = b.op('slice', [x], { axis: 0, start: dimSub(S, 1), end: S }, 'x.last');
    let logits = linear(x, w.lmHead, undefined, 'lm_head', c.vocabSize, D);
    if (c.finalSoftcap > 0) logits = b.op('softcap', [logits], { cap: c.finalSoftcap }, 'logits.capped');
    b.output('logits', logits);
    // Greedy decoding reads back this one id instead of the whole logits row (one per row when paged).
    if (mode === 'last' || paged) b.output('next', b.op('argmax', [logits], {}, 'next'));
  }
  params.checkCoverage();
  // A model step runs: outputs, every state updated and eps > 0 are required, not just well-formedness.
  return b.finish({ complete: true });
}
