// rmsnorm-matmul never duplicates a weight that something else reads: a tied embedding table
// (the lm_head's weight is the embedding's table) keeps its norm and stays one resident copy.
import { describe, expect, it } from 'vitest';
import { parseGraph } from '../../ir/parser.js';
import { formatWeight, printGraph } from '../../ir/printer.js';
import '../../passes/index.js';
import { runPipeline } from '../../passes/pass-manager.js';

const TIED = `graph @t<S>(%tokens: i32[S], %x: f32[S, 8]) {
  param %embed: f32[11, 8] = "tok_embeddings"
  param %g: f32[8] = "norm"
  param %w: f32[3, 8] = "w"
  %e = embedding(%embed, %tokens) : f32[S, 8]
  %r = add(%e, %x) : f32[S, 8]
  %h = rms_norm(%r, %g) : f32[S, 8]
  %a = matmul(%h, %w) : f32[S, 3]
  %logits = matmul(%h, %embed) : f32[S, 11]
  output a = %a
  output logits = %logits
}
`;

function run(text: string, pipeline: string) {
  const r = runPipeline(parseGraph(text), pipeline);
  const stats: Record<string, number> = {};
  for (const rec of r.records) for (const [k, v] of Object.entries(rec.stats)) stats[k] = (stats[k] ?? 0) + v;
  const sources = r.graph.params.map((p) => (p.def.kind === 'param' ? formatWeight(p.def.source) : ''));
  return { graph: r.graph, lines: printGraph(r.graph).split('\n').map((l) => l.trim()), stats, sources };
}

describe('rmsnorm-matmul and shared weights', () => {
  it('folds into an unshared weight but keeps the tied head reading the table itself', () => {
    const r = run(TIED, 'rmsnorm-matmul');
    expect(r.lines).toContain('%a = norm_matmul(%r, %w.normed) {eps = 0.000001, kind = "rms"} : f32[S, 3]');
    expect(r.lines).toContain('%logits = matmul(%h, %embed) : f32[S, 11]');
    expect(r.lines).toContain('%h = rms_norm(%r, %g) : f32[S, 8]');
    expect(r.stats).toEqual({ 'matmuls-fused': 1, 'shared-weights-kept': 1 });
    // One copy of the table: no parameter scales it.
    expect(r.sources.filter((s) => s.includes('tok_embeddings'))).toEqual(['"tok_embeddings"']);
  });

  it('keeps a table shared through two parameters bound to the same source', () => {
    const twice = TIED.replace('%logits = matmul(%h, %embed)', '%logits = matmul(%h, %head)')
      .replace('param %g:', 'param %head: f32[11, 8] = "tok_embeddings"\n  param %g:');
    const r = run(twice, 'rmsnorm-matmul');
    expect(r.lines).toContain('%logits = matmul(%h, %head) : f32[S, 11]');
    expect(r.stats['shared-weights-kept']).toBe(1);
  });

  it('folds an untied head as before (the original weight is dropped)', () => {
    const untied = TIED.replace('%logits = matmul(%h, %embed)', '%logits = matmul(%h, %head)')
      .replace('param %g:', 'param %head: f32[11, 8] = "output"\n  param %g:');
    const r = run(untied, 'rmsnorm-matmul');
    expect(r.lines).toContain('%logits = norm_matmul(%r, %head.normed) {eps = 0.000001, kind = "rms"} : f32[S, 11]');
    expect(r.sources).toContain('scale_cols("output", "norm")');
    expect(r.sources).not.toContain('"output"');
    expect(r.stats).toEqual({ 'matmuls-fused': 2, 'norms-folded': 1 });
  });

  it('in the default pipeline, a tied model resides in the bytes of its tensors', () => {
    const r = run(TIED, 'default');
    expect(r.sources.filter((s) => s.includes('tok_embeddings'))).toEqual(['"tok_embeddings"']);
  });
});
