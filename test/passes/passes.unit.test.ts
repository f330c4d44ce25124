// Each optimisation pass on small hand-written graphs: what it rewrites to, what it leaves alone
// and why, its options and statistics; the named pipelines and the op-count table.
import { describe, expect, it } from 'vitest';
import { parseGraph } from '../../ir/parser.js';
import { printGraph } from '../../ir/printer.js';
import { weightCall, type WeightExpr, weightTensor } from '../../ir/weights.js';
import '../../passes/index.js';
import { memoryPlanOf } from '../../passes/memory-plan.js';
import { runPipeline } from '../../passes/pass-manager.js';
import { resolvePipeline } from '../../passes/pipeline.js';
import { opCountTable } from '../../passes/stats.js';
import { simplifyWeight } from '../../passes/weight-exprs.js';
import { formatWeight } from '../../ir/printer.js';

/** Runs `pipeline` on a graph written as a body inside a header; returns the body lines and stats. */
function run(header: string, body: string, pipeline: string, target?: string) {
  const g = parseGraph(`graph @t${header} {\n${body}\n}\n`);
  const r = runPipeline(g, pipeline, { target });
  const stats: Record<string, number> = {};
  for (const rec of r.records) for (const [k, v] of Object.entries(rec.stats)) stats[k] = (stats[k] ?? 0) + v;
  const lines = printGraph(r.graph).trim().split('\n').slice(1, -1).map((l) => l.trim());
  return { lines, stats, graph: r.graph, changed: r.changed };
}

const LLAMA_ATTN = `
  param %g: f32[8] = "norm"
  param %wq: f32[8, 8] = "q"
  param %wk: f32[4, 8] = "k"
  param %wv: f32[4, 8] = "v"
  %h = rms_norm(%x, %g) {eps = 0.00001} : f32[S, 8]
  %q = matmul(%h, %wq) : f32[S, 8]
  %k = matmul(%h, %wk) : f32[S, 4]
  %v = matmul(%h, %wv) : f32[S, 4]`;

describe('qkv-merge', () => {
  it('merges Q, K and V into one matmul over concat(...) {axis = 0} and a split with the old names', () => {
    const r = run('<S>(%x: f32[S, 8])', `${LLAMA_ATTN}\n  output q = %q\n  output k = %k\n  output v = %v`, 'qkv-merge');
    expect(r.lines).toEqual([
      'param %g: f32[8] = "norm"',
      'param %wq_k_v: f32[16, 8] = concat("q", "k", "v") {axis = 0}',
      '%h = rms_norm(%x, %g) {eps = 0.00001} : f32[S, 8]',
      '%q_k_v = matmul(%h, %wq_k_v) : f32[S, 16]',
      '%q, %k, %v = split(%q_k_v) {sizes = [8, 4, 4]} : f32[S, 8], f32[S, 4], f32[S, 4]',
      'output q = %q', 'output k = %k', 'output v = %v',
    ]);
    expect(r.stats).toEqual({ 'groups-merged': 1, 'matmuls-merged': 3 });
  });

  it('concatenates biases, with zeros for a member without one', () => {
    const r = run('<S>(%x: f32[S, 8])', `
      param %w1: f32[2, 8] = "w1"
      param %b1: f32[2] = "b1"
      param %w2: f32[3, 8] = "w2"
      %a = matmul(%x, %w1, %b1) : f32[S, 2]
      %b = matmul(%x, %w2) : f32[S, 3]
      output a = %a
      output b = %b`, 'qkv-merge');
    expect(r.lines).toContain('param %w1_2.bias: f32[5] = concat("b1", zeros() {shape = [3]}) {axis = 0}');
  });

  it('merges quantized weights of one type as blocks, and keeps other types apart', () => {
    const r = run('<S>(%x: f32[S, 40])', `
      param %a: q8_0[2, 40] = "a"
      param %b: q8_0[3, 40] = "b"
      param %c: f16[3, 40] = "c"
      %ya = matmul(%x, %a) : f32[S, 2]
      %yb = matmul(%x, %b) : f32[S, 3]
      %yc = matmul(%x, %c) : f32[S, 3]
      output a = %ya
      output b = %yb
      output c = %yc`, 'qkv-merge');
    expect(r.lines).toContain('param %a_b: q8_0[5, 40] = concat("a", "b") {axis = 0}');
    expect(r.lines).toContain('%yc = matmul(%x, %c) : f32[S, 3]');
  });

  it('rejoins slices of a fused tensor (Phi-3 qkv_proj, GPT-2 c_attn columns)', () => {
    const r = run('<S>(%x: f32[S, 4])', `
      param %q: f32[4, 4] = transpose(slice("c_attn") {axis = 1, start = 0, end = 4})
      param %k: f32[4, 4] = transpose(slice("c_attn") {axis = 1, start = 4, end = 8})
      param %v: f32[4, 4] = transpose(slice("c_attn") {axis = 1, start = 8, end = 12})
      param %bq: f32[4] = slice("bias") {axis = 0, start = 0, end = 4}
      param %bk: f32[4] = slice("bias") {axis = 0, start = 4, end = 8}
      param %bv: f32[4] = slice("bias") {axis = 0, start = 8, end = 12}
      %yq = matmul(%x, %q, %bq) : f32[S, 4]
      %yk = matmul(%x, %k, %bk) : f32[S, 4]
      %yv = matmul(%x, %v, %bv) : f32[S, 4]
      output q = %yq
      output k = %yk
      output v = %yv`, 'qkv-merge');
    expect(r.lines.slice(0, 2)).toEqual([
      'param %q_k_v: f32[12, 4] = transpose(slice("c_attn") {axis = 1, end = 12, start = 0})',
      'param %bq_k_v: f32[12] = slice("bias") {axis = 0, end = 12, start = 0}',
    ]);
  });
});

describe('weight source simplification', () => {
  const t = weightTensor;
  const rows = (e: WeightExpr, start: number, end: number) => weightCall('slice', [e], { axis: 0, start, end });
  const show = (e: WeightExpr) => formatWeight(simplifyWeight(e));
  it('joins adjacent slices and hoists transposes and shared scale_cols out of a concat', () => {
    expect(show(weightCall('concat', [rows(t('w'), 0, 2), rows(t('w'), 2, 5), rows(t('u'), 5, 6)], { axis: 0 }))).toBe('concat(slice("w") {axis = 0, end = 5, start = 0}, slice("u") {axis = 0, end = 6, start = 5}) {axis = 0}');
    const sc = (e: WeightExpr) => weightCall('scale_cols', [e, t('g')], { offset: 1 });
    expect(show(weightCall('concat', [sc(rows(t('w'), 0, 2)), sc(rows(t('w'), 2, 4))], { axis: 0 }))).toBe('scale_cols(slice("w") {axis = 0, end = 4, start = 0}, "g") {offset = 1.0}');
    // Separate tensors may differ in storage type: their scale_cols (f32) stay apart.
    expect(show(weightCall('concat', [sc(t('a')), sc(t('b'))], { axis: 0 }))).toBe('concat(scale_cols("a", "g") {offset = 1.0}, scale_cols("b", "g") {offset = 1.0}) {axis = 0}');
  });
});

describe('rmsnorm-matmul', () => {
  it('folds the gain into every consumer’s weight (Gemma offset included) and removes the norm', () => {
    const r = run('<S>(%x: f32[S, 8])', `
      param %g: f32[8] = "norm"
      param %w: f32[3, 8] = "w"
      param %u: f32[5, 8] = "u"
      %h = rms_norm(%x, %g) {eps = 0.000001, offset = 1.0} : f32[S, 8]
      %a = matmul(%h, %w) : f32[S, 3]
      %b = matmul(%h, %u) : f32[S, 5]
      output a = %a
      output b = %b`, 'rmsnorm-matmul');
    expect(r.lines).toEqual([
      'param %w.normed: f32[3, 8] = scale_cols("w", "norm") {offset = 1.0}',
      'param %u.normed: f32[5, 8] = scale_cols("u", "norm") {offset = 1.0}',
      '%a = norm_matmul(%x, %w.normed) {eps = 0.000001, kind = "rms"} : f32[S, 3]',
      '%b = norm_matmul(%x, %u.normed) {eps = 0.000001, kind = "rms"} : f32[S, 5]',
      'output a = %a', 'output b = %b',
    ]);
    expect(r.stats).toEqual({ 'matmuls-fused': 2, 'norms-folded': 1 });
  });

  it('folds a LayerNorm shift into the bias: fold_bias(w, β, b)', () => {
    const r = run('<S>(%x: f32[S, 8])', `
      param %g: f32[8] = "ln.w"
      param %beta: f32[8] = "ln.b"
      param %w: f32[3, 8] = "w"
      param %b: f32[3] = "b"
      %h = layer_norm(%x, %g, %beta) : f32[S, 8]
      %a = matmul(%h, %w, %b) : f32[S, 3]
      output a = %a`, 'rmsnorm-matmul');
    expect(r.lines).toContain('param %b.folded: f32[3] = fold_bias("w", "ln.b", "b")');
    expect(r.lines).toContain('%a = norm_matmul(%x, %w.normed, %b.folded) {bias = true, eps = 0.00001, kind = "layer"} : f32[S, 3]');
  });

  it('keeps a norm something else reads, and quantized weights (no requantizing)', () => {
    const shared = run('<S>(%x: f32[S, 8])', `
      param %g: f32[8] = "norm"
      param %w: f32[3, 8] = "w"
      %h = rms_norm(%x, %g) : f32[S, 8]
      %a = matmul(%h, %w) : f32[S, 3]
      output a = %a
      output h = %h`, 'rmsnorm-matmul');
    expect(shared.changed).toBe(false);
    expect(shared.stats).toEqual({ 'norms-with-other-users': 1 });
    const quant = run('<S>(%x: f32[S, 32])', `
      param %g: f32[32] = "norm"
      param %w: q8_0[3, 32] = "w"
      param %u: f32[3, 32] = "u"
      %h = rms_norm(%x, %g) : f32[S, 32]
      %a = matmul(%h, %w) : f32[S, 3]
      %b = matmul(%h, %u) : f32[S, 3]
      output a = %a
      output b = %b`, 'rmsnorm-matmul');
    expect(quant.lines).toContain('%a = matmul(%h, %w) : f32[S, 3]');
    expect(quant.lines).toContain('%b = norm_matmul(%x, %u.normed) {eps = 0.000001, kind = "rms"} : f32[S, 3]');
    expect(quant.stats).toEqual({ 'quantized-weights-kept': 1, 'matmuls-fused': 1 });
  });

  it('keeps f16 weights f32 when folded (exact), or f16 with narrow=true', () => {
    const body = `
      param %g: f32[8] = "norm"
      param %w: f16[3, 8] = "w"
      %h = rms_norm(%x, %g) : f32[S, 8]
      %a = matmul(%h, %w) : f32[S, 3]
      output a = %a`;
    expect(run('<S>(%x: f32[S, 8])', body, 'rmsnorm-matmul').lines[0]).toBe('param %w.normed: f32[3, 8] = scale_cols("w", "norm")');
    expect(run('<S>(%x: f32[S, 8])', body, 'rmsnorm-matmul{narrow=true}').lines[0]).toBe('param %w.normed: f16[3, 8] = convert(scale_cols("w", "norm")) {dtype = "f16"}');
  });
});

describe('flash-attention', () => {
  const body = `
    %o = attention(%q, %k, %v) {scale = 0.25, window = 4, softcap = 30.0} : f32[S, 4, 8]
    output o = %o`;
  const header = '<S, P>(%q: f32[S, 4, 8], %k: f32[P+S, 2, 8], %v: f32[P+S, 2, 8])';
  it('picks tiles per target unless the pipeline gives them', () => {
    expect(run(header, body, 'flash-attention', 'webgpu').lines[0]).toBe('%o = flash_attention(%q, %k, %v) {scale = 0.25, softcap = 30.0, split_k = 4, window = 4} : f32[S, 4, 8]');
    expect(run(header, body, 'flash-attention', 'wasm').lines[0]).toBe('%o = flash_attention(%q, %k, %v) {scale = 0.25, softcap = 30.0, split_k = 2, tile_k = 32, tile_q = 4, window = 4} : f32[S, 4, 8]');
    expect(run(header, body, 'flash-attention{tile_k=128, split_k=1}', 'webgpu').lines[0]).toBe('%o = flash_attention(%q, %k, %v) {scale = 0.25, softcap = 30.0, tile_k = 128, window = 4} : f32[S, 4, 8]');
    expect(run(header, body, 'flash-attention').stats).toEqual({ 'attentions-tiled': 1 });
  });
});

describe('fuse-elementwise', () => {
  it('makes SwiGLU on a merged gate/up matmul its epilogue over two column blocks', () => {
    const r = run('<S>(%x: f32[S, 8], %r: f32[S, 8])', `
      param %wgu: f32[12, 8] = "gu"
      param %wd: f32[8, 6] = "d"
      %gu = matmul(%x, %wgu) : f32[S, 12]
      %g, %u = split(%gu) {sizes = [6, 6]} : f32[S, 6], f32[S, 6]
      %a = silu(%g) : f32[S, 6]
      %m = mul(%a, %u) : f32[S, 6]
      %d = matmul(%m, %wd) : f32[S, 8]
      %y = add(%r, %d) : f32[S, 8]
      output y = %y`, 'fuse-elementwise');
    expect(r.lines.slice(2)).toEqual([
      '%m = matmul_ep(%x, %wgu) {epilogue = "silu(acc0) * acc1", parts = 2} : f32[S, 6]',
      '%y = matmul_ep(%m, %wd, %r) {epilogue = "x0 + acc0"} : f32[S, 8]',
      'output y = %y',
    ]);
    expect(r.stats).toEqual({ 'epilogues-fused': 2, 'ops-fused': 3 });
  });

  it('chains without a matmul become fused_elementwise; shared and returned values stay', () => {
    const r = run('<S>(%x: f32[S, 4], %b: f32[4])', `
      %a = add(%x, %b) : f32[S, 4]
      %c = gelu(%a) {approximate = "tanh"} : f32[S, 4]
      %d = scale(%c) {factor = 0.5} : f32[S, 4]
      %e = softcap(%d) {cap = 30.0} : f32[S, 4]
      %f = mul(%e, %e) : f32[S, 4]
      %g = neg(%f) : f32[S, 4]
      output e = %e
      output g = %g`, 'fuse-elementwise');
    expect(r.lines).toEqual([
      '%e = fused_elementwise(%x, %b) {program = "softcap(gelu_tanh(x0 + x1) * 0.5, 30)"} : f32[S, 4]',
      '%g = fused_elementwise(%e) {program = "-(x0 * x0)"} : f32[S, 4]',
      'output e = %e', 'output g = %g',
    ]);
  });

  it('composes with a norm_matmul and keeps its bias (GPT-2 MLP up-projection)', () => {
    const r = run('<S>(%x: f32[S, 8])', `
      param %w: f32[16, 8] = "w"
      param %b: f32[16] = "b"
      %u = norm_matmul(%x, %w, %b) {bias = true, eps = 0.00001, kind = "layer"} : f32[S, 16]
      %a = gelu(%u) {approximate = "tanh"} : f32[S, 16]
      output a = %a`, 'fuse-elementwise');
    expect(r.lines).toContain('%a = norm_matmul(%x, %w, %b) {bias = true, epilogue = "gelu_tanh(acc0)", eps = 0.00001, kind = "layer"} : f32[S, 16]');
  });
});

describe('fold-rope', () => {
  const body = `
    param %w: f32[16, 8] = "qkv"
    %p = matmul(%x, %w) : f32[S, 16]
    %q, %k, %v = split(%p) {sizes = [8, 4, 4]} : f32[S, 8], f32[S, 4], f32[S, 4]
    %qh = reshape(%q) {shape = [S, 2, 4]} : f32[S, 2, 4]
    %kh = reshape(%k) {shape = [S, 1, 4]} : f32[S, 1, 4]
    %vh = reshape(%v) {shape = [S, 1, 4]} : f32[S, 1, 4]
    %qr = rope(%qh, %pos) {theta = 10000.0} : f32[S, 2, 4]
    %kr = rope(%kh, %pos) {theta = 10000.0} : f32[S, 1, 4]
    output q = %qr
    output k = %kr
    output v = %vh`;
  const header = '<S>(%x: f32[S, 8], %pos: i32[S])';
  it('rotates Q and K of a merged projection in its epilogue where the target can', () => {
    const r = run(header, body, 'fold-rope', 'webgpu');
    expect(r.lines).toContain('%p = rope_matmul(%x, %w, %pos) {head_dim = 4, rope_cols = [0, 12], theta = 10000.0} : f32[S, 16]');
    expect(r.lines).toContain('output q = %qh');
    expect(r.stats).toEqual({ 'ropes-folded': 2 });
  });
  it('folds for every target', () => {
    for (const target of ['wasm', 'webgpu', undefined]) expect(run(header, body, 'fold-rope', target).changed).toBe(true);
  });
});

describe('quantize', () => {
  const body = `
    param %embed: f32[16, 40] = "embed"
    param %w1: f32[33, 40] = "w1"
    param %w2: f32[40, 33] = "w2"
    param %w3: q4_0[40, 40] = "w3"
    param %head: f32[16, 40] = "head"
    %x = embedding(%embed, %tokens) : f32[S, 40]
    %a = matmul(%x, %w1) : f32[S, 33]
    %b = matmul(%a, %w2) : f32[S, 40]
    %c = matmul(%b, %w3) : f32[S, 40]
    %d = matmul(%c, %embed) : f32[S, 16]
    %e = matmul(%c, %head) : f32[S, 16]
    output d = %d
    output e = %e`;
  const header = '<S>(%tokens: i32[S])';
  it('wraps matmul weights in convert, leaving embeddings, heads and quantized weights alone', () => {
    const r = run(header, body, 'quantize');
    expect(r.lines.slice(0, 5)).toEqual([
      'param %embed: f32[16, 40] = "embed"',
      'param %w1: q8_0[33, 40] = convert("w1") {dtype = "q8_0"}',
      'param %w2: q8_0[40, 33] = convert("w2") {dtype = "q8_0"}',
      'param %w3: q4_0[40, 40] = "w3"',
      'param %head: f32[16, 40] = "head"',
    ]);
    // Rows of 40 and 33 are padded to two blocks of 32: 2 × 34 bytes a row.
    expect(r.stats).toEqual({ 'weights-quantized': 2, 'bytes-before': 4 * (33 * 40 + 40 * 33), 'bytes-after': 33 * 68 + 40 * 68, 'already-quantized': 1, 'heads-kept': 1 });
  });
  it('options: q4_0, heads too, only names matching', () => {
    const r = run(header, body, 'quantize{dtype=q4_0, heads=true, only="^(w2|head)$"}');
    expect(r.lines).toContain('param %head: q4_0[16, 40] = convert("head") {dtype = "q4_0"}');
    expect(r.lines).toContain('param %w2: q4_0[40, 33] = convert("w2") {dtype = "q4_0"}');
    expect(r.lines).toContain('param %w1: f32[33, 40] = "w1"');
  });
  it('heads=true gives a head tied to the embedding table a quantized copy; the table stays float', () => {
    const r = run(header, body, 'quantize{heads=true}');
    expect(r.lines).toContain('param %embed: f32[16, 40] = "embed"');
    expect(r.lines).toContain('param %embed.q8_0: q8_0[16, 40] = convert("embed") {dtype = "q8_0"}');
    expect(r.lines).toContain('%x = embedding(%embed, %tokens) : f32[S, 40]');
    expect(r.lines).toContain('%d = matmul(%c, %embed.q8_0) : f32[S, 16]');
    expect(r.stats['tied-heads-copied']).toBe(1);
  });
});

describe('memory-plan', () => {
  it('reports the plan and the symbolic peak, and changes nothing', () => {
    const src = `
      param %w: f32[8, 4] = "w"
      %a = matmul(%x, %w) : f32[S, 8]
      %b = silu(%a) : f32[S, 8]
      %c = silu(%b) : f32[S, 8]
      output c = %c`;
    const r = run('<S>(%x: f32[S, 4])', src, 'memory-plan{bounds="S=64"}');
    expect(r.changed).toBe(false);
    expect(r.stats).toEqual({ 'arena-bytes': 4096, 'unshared-bytes': 4096, 'saved-bytes': 0, buffers: 2, 'peak-activation-bytes[64*S]': 4096 });
    expect(memoryPlanOf(r.graph)?.arenaBytes).toBe(4096);
    expect(() => run('<S>(%x: f32[S, 4])', src, 'memory-plan{bounds="S<64"}')).toThrow(/bound 'S<64' is not SYMBOL=COUNT/);
  });
});

describe('named pipelines and the op table', () => {
  it('default is the full pipeline without a target and on webgpu (tiles come from the target); none is empty', () => {
    const want = ['canonicalize', 'qkv-merge', 'rmsnorm-matmul', 'fold-rope', 'flash-attention', 'fuse-elementwise', 'canonicalize'];
    for (const target of [undefined, 'webgpu']) expect(resolvePipeline('default', { target }).map((s) => s.pass.name)).toEqual(want);
    expect(resolvePipeline('none')).toEqual([]);
  });

  it('opCountTable lists every op before and after, with totals', () => {
    const before = parseGraph(`graph @t<S>(%x: f32[S, 4]) {\n  %a = silu(%x) : f32[S, 4]\n  %b = silu(%a) : f32[S, 4]\n  output b = %b\n}\n`);
    const after = runPipeline(parseGraph(printGraph(before)), 'fuse-elementwise').graph;
    expect(opCountTable(before, after)).toBe([
      'op                 before  after   Δ',
      'fused_elementwise       0      1  +1',
      'silu                    2      0  -2',
      '(nodes)                 2      1  -1',
      '(params)                0      0   0',
      '',
    ].join('\n'));
  });
});
