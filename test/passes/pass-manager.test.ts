import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cloneGraph, type Graph } from '../../ir/graph.js';
import { parseGraph } from '../../ir/parser.js';
import { printGraph } from '../../ir/printer.js';
import '../../passes/index.js';
import type { PassInstrument } from '../../passes/instruments.js';
import { PassError, PassManager, runPipeline } from '../../passes/pass-manager.js';
import { PipelineError } from '../../passes/pipeline.js';
import { registerPass } from '../../passes/registry.js';
import { formatTimingReport } from '../../passes/timing.js';

// Test passes: one that breaks the graph (a result type the op does not infer), one that throws,
// one that returns a new graph, one that counts.
registerPass({
  name: 'test-break',
  description: 'declares a wrong result type',
  run(g) {
    const v = g.nodes[0].outputs[0];
    v.type = { dtype: v.type.dtype, shape: [...v.type.shape, 1] };
    return { changed: true };
  },
});
registerPass({
  name: 'test-throw',
  description: 'throws',
  run() {
    throw new Error('something went wrong inside');
  },
});
registerPass({
  name: 'test-clone',
  description: 'returns a renamed copy',
  run(g) {
    const c = cloneGraph(g);
    c.name = `${g.name}_copy`;
    return { changed: true, graph: c };
  },
});
registerPass({
  name: 'test-count',
  description: 'counts nodes without changing anything',
  run(g, ctx) {
    ctx.stat('nodes-seen', g.nodes.length);
    ctx.stat('calls');
    ctx.stat('calls');
    return { changed: false };
  },
});

const SRC = `graph @t<S>(%x: f32[S, 4]) {
  %a = silu(%x) : f32[S, 4]
  %b = silu(%x) : f32[S, 4]
  %c = add(%a, %b) : f32[S, 4]
  %dead = silu(%c) : f32[S, 4]
  output y = %c
}
`;
const graph = (): Graph => parseGraph(SRC);

function capture() {
  const out: string[] = [];
  return { log: (t: string) => out.push(t), text: () => out.join('') };
}

describe('pass manager', () => {
  it('runs steps in order, rewriting in place, with statistics and timings', () => {
    const g = graph();
    const t0 = performance.now();
    const run = runPipeline(g, 'test-count,cse,dce');
    const wall = performance.now() - t0;
    expect(run.graph).toBe(g);
    expect(run.changed).toBe(true);
    expect(run.records.map((r) => [r.name, r.changed, r.stats])).toEqual([
      ['test-count', false, { 'nodes-seen': 4, calls: 2 }],
      ['cse', true, { 'nodes-merged': 1 }],
      ['dce', true, { 'nodes-removed': 1 }],
    ]);
    // Timings in milliseconds: every one a number, together within the pipeline's own wall time.
    for (const r of run.records) expect([r.ms, r.verifyMs].every(Number.isFinite), r.name).toBe(true);
    expect(run.records[1].verifyMs).toBeGreaterThan(0);
    expect(run.records.reduce((n, r) => n + r.ms + r.verifyMs, 0)).toBeLessThanOrEqual(wall);
  });

  it('uses a graph a pass returns', () => {
    const run = runPipeline(graph(), 'test-clone,cse');
    expect(run.graph.name).toBe('t_copy');
    expect(run.records[1].changed).toBe(true);
  });

  it('names the pass that broke the graph, with the verifier message', () => {
    let err: PassError | undefined;
    try {
      runPipeline(graph(), 'cse,test-break,dce');
    } catch (e) {
      err = e as PassError;
    }
    expect(err).toBeInstanceOf(PassError);
    expect(err!.pass).toBe('test-break');
    expect(err!.message).toMatch(/^pass test-break \(2\/3\) produced an invalid graph:\n/);
    expect(err!.message).toMatch(/result %a is declared f32\[S, 4, 1\] but silu gives f32\[S, 4\]/);
  });

  it('does not verify with verifyEach off', () => {
    const run = runPipeline(graph(), 'test-break', { verifyEach: false });
    expect(printGraph(run.graph)).toContain('f32[S, 4, 1]');
    expect(run.records[0].verifyMs).toBe(0);
  });

  it('refuses an invalid input graph', () => {
    const g = graph();
    g.nodes[0].outputs[0].type = { dtype: 'f32', shape: [3] };
    expect(() => runPipeline(g, 'cse')).toThrow(/the input graph @t is invalid \(before any pass\)/);
  });

  it('wraps what a pass throws with its name and place', () => {
    expect(() => runPipeline(graph(), 'cse,test-throw')).toThrow(/^pass test-throw \(2\/2\) failed: something went wrong inside$/);
  });

  it('rejects unknown passes in print filters', () => {
    expect(() => new PassManager('cse', { printIRAfter: ['cse', 'csee'] })).toThrow(PipelineError);
    expect(() => new PassManager('cse', { printIRAfter: ['csee'] })).toThrow(/print-ir-after: unknown pass 'csee' \(did you mean 'cse'\?\)/);
  });

  it('calls custom instruments around every pass', () => {
    const events: string[] = [];
    const inst: PassInstrument = {
      beforePipeline: (_g, steps) => events.push(`start ${steps.length}`),
      beforePass: (p) => events.push(`before ${p.step.pass.name}`),
      afterPass: (p, _g, r) => events.push(`after ${p.step.pass.name} ${r.changed}`),
      afterPipeline: (_g, records) => events.push(`end ${records.length}`),
    };
    runPipeline(graph(), 'cse,dce', { instruments: [inst] });
    expect(events).toEqual(['start 2', 'before cse', 'after cse true', 'before dce', 'after dce true', 'end 2']);
  });
});

describe('IR printing', () => {
  it('prints after every pass with print-ir-after all', () => {
    const c = capture();
    runPipeline(graph(), 'test-count,cse,dce', { printIRAfter: 'all', log: c.log });
    const headers = c.text().split('\n').filter((l) => l.startsWith('//'));
    expect(headers).toEqual(['// ----- IR after test-count (1/3) -----', '// ----- IR after cse (2/3) -----', '// ----- IR after dce (3/3) -----']);
    // Each dump is a parseable graph (headers are comments).
    const dumps = c.text().split(/^\/\/ -----.*\n/m).filter(Boolean);
    expect(dumps).toHaveLength(3);
    expect(printGraph(parseGraph(dumps[2]))).toBe(dumps[2]);
    expect(dumps[2]).not.toContain('%dead');
  });

  it('prints before and after chosen passes only', () => {
    const c = capture();
    runPipeline(graph(), 'cse,dce', { printIRBefore: ['dce'], printIRAfter: ['cse'], log: c.log });
    expect(c.text().split('\n').filter((l) => l.startsWith('//'))).toEqual(['// ----- IR after cse (1/2) -----', '// ----- IR before dce (2/2) -----']);
  });

  it('prints after a change only', () => {
    const c = capture();
    runPipeline(graph(), 'test-count,cse,test-count,dce,dce', { printIRAfterChange: true, log: c.log });
    expect(c.text().split('\n').filter((l) => l.startsWith('//'))).toEqual(['// ----- IR after cse (2/5) -----', '// ----- IR after dce (4/5) -----']);
    const c2 = capture();
    runPipeline(graph(), 'cse,dce', { printIRAfter: ['cse'], printIRAfterChange: true, log: c2.log });
    expect(c2.text().split('\n').filter((l) => l.startsWith('//'))).toEqual(['// ----- IR after cse (1/2) -----']);
  });

  it('prints the failing graph when a pass breaks it', () => {
    const c = capture();
    expect(() => runPipeline(graph(), 'test-break', { printIRAfter: 'all', log: c.log })).toThrow(PassError);
    expect(c.text()).toMatch(/^\/\/ ----- IR after test-break \(1\/1\) \(failed: pass test-break \(1\/1\) produced an invalid graph:\) -----\n/);
    expect(c.text()).toContain('f32[S, 4, 1]');
  });
});

describe('dump directory', () => {
  it('writes the input and the graph after every pass, each a parseable file', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'tessera-pm-')), 'ir');
    runPipeline(graph(), 'cse,dce', { dumpDir: dir });
    expect(readdirSync(dir).sort()).toEqual(['000-input.ir', '001-cse.ir', '002-dce.ir']);
    expect(readFileSync(join(dir, '000-input.ir'), 'utf8')).toBe(SRC);
    const last = readFileSync(join(dir, '002-dce.ir'), 'utf8');
    expect(printGraph(parseGraph(last))).toBe(last);
    expect(last).not.toContain('%dead');
  });

  it('replaces the files of an earlier run and keeps others', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-pm-'));
    runPipeline(graph(), 'cse,dce,cse', { dumpDir: dir });
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    runPipeline(graph(), 'dce', { dumpDir: dir });
    expect(readdirSync(dir).sort()).toEqual(['000-input.ir', '001-dce.ir', 'notes.txt']);
  });

  it('writes the invalid graph a pass left', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-pm-'));
    expect(() => runPipeline(graph(), 'cse,test-break', { dumpDir: dir })).toThrow(PassError);
    expect(readdirSync(dir).sort()).toEqual(['000-input.ir', '001-cse.ir', '002-test-break.failed.ir']);
  });
});

describe('timing report', () => {
  it('has a row per pass with times, change and statistics, and a total', () => {
    const run = runPipeline(graph(), 'test-count,cse,dce');
    const report = formatTimingReport(run);
    const rows = report.trim().split('\n');
    expect(rows[0]).toBe('// ----- pass timing (3 passes) -----');
    expect(rows[1]).toMatch(/^#\s+pass\s+pass ms\s+verify ms\s+share\s+changed\s+statistics$/);
    expect(rows[2]).toMatch(/^0\s+\(input\)\s+0\.00\s+\d+\.\d\d\s+\d+\.\d%$/);
    expect(rows[3]).toMatch(/^1\s+test-count\s+\d+\.\d\d\s+\d+\.\d\d\s+\d+\.\d%\s+no\s+calls=2, nodes-seen=4$/);
    expect(rows[4]).toMatch(/^2\s+cse\s+.*\s+yes\s+nodes-merged=1$/);
    expect(rows[5]).toMatch(/^3\s+dce\s+.*\s+yes\s+nodes-removed=1$/);
    expect(rows[6]).toMatch(/^\s+total\s+\d+\.\d\d\s+\d+\.\d\d\s+\d+\.\d%\s+wall \d+\.\d\d ms$/);
  });
});
