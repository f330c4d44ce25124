// qkv-merge on projections of different storage types, as llama.cpp's _M mixes store them
// (Q4_K_M: Q, K in Q4_K, V in Q6_K; legacy fallbacks for rows that are not a multiple of 256):
// only projections of one quantized type merge (a row concat joins blocks of one layout); the
// others stay apart, unchanged, rather than being decoded to f32.
import { describe, expect, it } from 'vitest';
import { parseGraph } from '../../ir/parser.js';
import { printGraph } from '../../ir/printer.js';
import '../../passes/index.js';
import { runPipeline } from '../../passes/pass-manager.js';

function run(body: string) {
  const g = parseGraph(`graph @t<S>(%x: f32[S, 256]) {\n${body}\n}\n`);
  const r = runPipeline(g, 'qkv-merge');
  const stats: Record<string, number> = {};
  for (const rec of r.records) for (const [k, v] of Object.entries(rec.stats)) stats[k] = (stats[k] ?? 0) + v;
  return { lines: printGraph(r.graph).trim().split('\n').slice(1, -1).map((l) => l.trim()), stats };
}

describe('qkv-merge with mixed storage types', () => {
  it('merges the Q4_K members of a Q4_K_M attention block and leaves its Q6_K V apart', () => {
    const r = run(`
  param %wq: q4_k[256, 256] = "q"
  param %wk: q4_k[128, 256] = "k"
  param %wv: q6_k[128, 256] = "v"
  %q = matmul(%x, %wq) : f32[S, 256]
  %k = matmul(%x, %wk) : f32[S, 128]
  %v = matmul(%x, %wv) : f32[S, 128]
  output q = %q
  output k = %k
  output v = %v`);
    expect(r.lines).toEqual([
      'param %wv: q6_k[128, 256] = "v"',
      'param %wq_k: q4_k[384, 256] = concat("q", "k") {axis = 0}',
      '%q_k = matmul(%x, %wq_k) : f32[S, 384]',
      '%q, %k = split(%q_k) {sizes = [256, 128]} : f32[S, 256], f32[S, 128]',
      '%v = matmul(%x, %wv) : f32[S, 128]',
      'output q = %q', 'output k = %k', 'output v = %v',
    ]);
    expect(r.stats).toEqual({ 'groups-merged': 1, 'matmuls-merged': 2 });
  });

  it('merges nothing when every member has its own type', () => {
    const body = `
  param %wg: q4_k[512, 256] = "gate"
  param %wu: q6_k[512, 256] = "up"
  param %wx: q5_0[512, 256] = "extra"
  %g = matmul(%x, %wg) : f32[S, 512]
  %u = matmul(%x, %wu) : f32[S, 512]
  %e = matmul(%x, %wx) : f32[S, 512]
  output g = %g
  output u = %u
  output e = %e`;
    const r = run(body);
    expect(r.stats['groups-merged'] ?? 0).toBe(0);
    expect(r.lines.filter((l) => l.startsWith('param'))).toEqual(['param %wg: q4_k[512, 256] = "gate"', 'param %wu: q6_k[512, 256] = "up"', 'param %wx: q5_0[512, 256] = "extra"']);
  });
});
