// `tessera test-ops` (the op table from the command line) and `tessera dump --emit` (kernel source).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { f32, registerOp, tensorType } from '../../ir/index.js';
import { main } from '../../src/cli.js';

// An op with reference semantics and no kernel anywhere: the gap the table must report.
registerOp({
  name: 'test_gap', summary: 'identity with no kernels', operands: ['x'], attrs: {},
  infer: ([x]) => [tensorType(x.dtype, x.shape)],
  evaluate: ([x]) => [f32(x.shape, x.data as Float32Array)],
});

const GRAPH = `graph @t<S>(%x: f32[S, 4]) {
  param %w: f32[4] = "norm.weight"
  %a = silu(%x) : f32[S, 4]
  %b = rms_norm(%a, %w) {eps = 0.00001} : f32[S, 4]
  output y = %b
}
`;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-test-ops-'));
  writeFileSync(join(dir, 'g.ir'), GRAPH);
});

async function cli(args: string[]) {
  let stdout = '', stderr = '';
  const code = await main(args, { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, cwd: dir, env: { PATH: process.env.PATH } });
  return { code, stdout, stderr };
}

describe('tessera test-ops', () => {
  it('prints a pass line per op and backend, timings with --perf, and exits 0', async () => {
    const r = await cli(['test-ops', '-o', 'silu,add', '-b', 'wasm', '--runs', '2', '--perf']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^ok +silu +wasm +\d+ cases +max NMSE \S+ +1 thread: \S+ ms, 2 threads: \S+ ms per case$/m);
    expect(r.stdout).toMatch(/^ok +add +wasm /m);
    expect(r.stdout).toMatch(/^ +silu +reference \S+ ms per case$/m);
    expect(r.stdout).toMatch(/^2 of 2 op\/backend pairs pass \(seed 1, 2 draws per op\)$/m);
    expect(r.code).toBe(0);
  });

  it('reports an op without kernels as a gap and fails', async () => {
    const r = await cli(['test-ops', '-o', 'test_gap', '-b', 'wasm']);
    expect(r.stdout).toContain('GAP   test_gap on wasm: no wasm kernel, and registerOp declares no unsupported.wasm reason');
    expect(r.stdout).toContain('GAP   test_gap: no cases in the op table');
    expect(r.code).toBe(1);
  });

  it('names an unknown op or backend', async () => {
    let r = await cli(['test-ops', '-o', 'frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--op: unknown 'frobnicate' \(known: .*matmul/);
    r = await cli(['test-ops', '-b', 'cuda']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--backend: unknown 'cuda' (known: wasm, webgpu)");
  });
});

describe('tessera dump --emit', () => {
  it('prints the AssemblyScript of one node', async () => {
    const r = await cli(['dump', 'g.ir', '--emit', 'as', '--node', '%a']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\/\/ ==== %a = silu: (\S+)\n\/\/ ---- \1\nexport function \1\(args: usize, tid: i32, nthreads: i32\): void \{/);
    expect(r.stdout).not.toContain('rms_norm');
  });

  it('prints the WGSL of every node', async () => {
    const r = await cli(['dump', 'g.ir', '--emit', 'wgsl']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\/\/ ==== %a = silu: /m);
    expect(r.stdout).toMatch(/^\/\/ ==== %b = rms_norm: /m);
    expect(r.stdout.match(/@compute/g)?.length).toBeGreaterThanOrEqual(2);
  });

  it('names the node it cannot find, and wants --emit with --node', async () => {
    let r = await cli(['dump', 'g.ir', '--emit', 'as', '--node', 'nope']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--node: no node of @t has a result named %nope (nodes are named by their results, e.g. %a, %b, …)');
    r = await cli(['dump', 'g.ir', '--node', 'a']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--node selects kernels: give --emit wgsl or --emit as with it');
  });
});
