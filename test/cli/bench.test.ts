// `tessera bench` in-process on the tiny stories260K checkpoint: the JSON report's shape and the
// table. Speed itself is measured in BENCHMARKS.md, never asserted here.
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { benchmark, logitsLookComputed, median, seededTokens } from '../../src/bench.js';
import { argmax } from '../../runtime/sampler.js';
import type { Executor } from '../../runtime/executor.js';
import { gpuSkipReason } from '../helpers/gpu.js';
import { hasShared, sharedPath } from '../helpers/shared.js';

async function cli(...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) }, cwd: process.cwd(), env: process.env });
  return { code, stdout, stderr };
}

describe('bench helpers', () => {
  it('seeded prompts are reproducible, in range and skip the special ids', () => {
    const a = seededTokens(200, 512, 7);
    expect(seededTokens(200, 512, 7)).toEqual(a);
    expect(seededTokens(200, 512, 8)).not.toEqual(a);
    expect(Math.min(...a)).toBeGreaterThanOrEqual(3);
    expect(Math.max(...a)).toBeLessThan(512);
  });

  it('median and argmax', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(argmax(Float32Array.from([0, 5, -1, 5]))).toBe(1);
  });

  it('logits that are constant or non-finite do not look computed', () => {
    expect(logitsLookComputed(Float32Array.from([0.1, -2, 3]))).toBe(true);
    expect(logitsLookComputed(new Float32Array(8))).toBe(false);
    expect(logitsLookComputed(Float32Array.from([1, NaN, 2]))).toBe(false);
  });
});

/**
 * An executor that counts like WebGPU's (10 dispatches per prompt, 3 per decode step); `broken`
 * reads back zeros, as a failed GPU submission does.
 */
class CountingExecutor implements Executor {
  readonly backend = 'fake';
  readonly contextLength = 64;
  readonly vocabSize = 16;
  position = 0;
  lastDispatches = 0;
  resets = 0;
  constructor(private readonly broken = false) {}
  async forward(tokens: readonly number[]): Promise<Float32Array> {
    this.position += tokens.length;
    this.lastDispatches = tokens.length > 1 ? 10 : 3;
    const logits = new Float32Array(this.vocabSize);
    if (!this.broken) logits[(this.position * 5) % this.vocabSize] = 1;
    return logits;
  }
  async forwardGreedy(tokens: readonly number[]): Promise<number> {
    return argmax(await this.forward(tokens));
  }
  truncate(length: number): void {
    this.position = length;
  }
  reset(): void {
    this.position = 0;
    this.resets++;
  }
  async dispose(): Promise<void> {}
}

describe('benchmark()', () => {
  it('runs warm-up and measured runs from an empty cache and reports dispatches', async () => {
    const ex = new CountingExecutor();
    const s = await benchmark(ex, { promptTokens: 6, genTokens: 4, runs: 3, warmup: 2 });
    expect(s.runs).toHaveLength(3);
    expect(ex.resets).toBe(2 + 3 + 1);
    expect(ex.position).toBe(0);
    expect(s.prefillDispatches).toBe(10);
    expect(s.decodeDispatchesPerToken).toBe(3);
    expect(s.generated).toEqual([(6 * 5) % 16, (7 * 5) % 16, (8 * 5) % 16, (9 * 5) % 16]);
    expect(s.logitsOk).toBe(true);
  });

  it('decodes from a fresh cache at --decode-depth: positions depth…depth+gen−1', async () => {
    // Each decode step records the position its token goes to.
    class Positions extends CountingExecutor {
      steps: number[] = [];
      override async forwardGreedy(tokens: readonly number[]): Promise<number> {
        if (tokens.length === 1) this.steps.push(this.position);
        return super.forwardGreedy(tokens);
      }
    }
    for (const [depth, first] of [[undefined, 6], [0, 0], [3, 3]] as const) {
      const ex = new Positions();
      await benchmark(ex, { promptTokens: 6, genTokens: 4, runs: 1, warmup: 0, ...(depth !== undefined ? { decodeDepth: depth } : {}) });
      // The last step reads its logits through forward(), so three greedy steps are recorded.
      expect(ex.steps).toEqual([first, first + 1, first + 2]);
    }
    await expect(benchmark(new CountingExecutor(), { promptTokens: 6, genTokens: 4, runs: 1, warmup: 0, decodeDepth: 7 })).rejects.toThrow(/decode depth must be an integer in 0\.\.6/);
    // A short depth lets more tokens fit: 60 + 5 exceeds 64, 40 + 5 (from depth 40) does not.
    const deep = await benchmark(new CountingExecutor(), { promptTokens: 60, genTokens: 5, runs: 1, warmup: 0, decodeDepth: 40 });
    expect(deep.generated).toHaveLength(5);
  });

  it('flags a backend whose logits show that nothing ran', async () => {
    const s = await benchmark(new CountingExecutor(true), { promptTokens: 4, genTokens: 2, runs: 1, warmup: 0 });
    expect(s.logitsOk).toBe(false);
  });

  it('refuses what does not fit the context', async () => {
    await expect(benchmark(new CountingExecutor(), { promptTokens: 60, genTokens: 5, runs: 1, warmup: 0 })).rejects.toThrow(/exceed the context of 64/);
  });
});

const gpuReason = gpuSkipReason('WebGPU bench --profile');

describe.runIf(hasShared('models', 'stories260K'))('tessera bench', () => {
  const bin = sharedPath('models', 'stories260K', 'stories260K.bin');
  const tiny = ['--prompt-tokens', '8', '--gen-tokens', '4', '--runs', '1', '--warmup', '0', '--backend', 'reference'];

  it('--json prints one object with the figures peers.sh reads', async () => {
    const r = await cli('bench', '-m', bin, ...tiny, '--json');
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const j = JSON.parse(r.stdout);
    for (const key of ['backend', 'threads', 'prefill_tok_s', 'decode_tok_s', 'peak_rss_bytes', 'prompt_tokens', 'gen_tokens', 'runs', 'model', 'weights_bytes']) {
      expect(j).toHaveProperty(key);
    }
    expect(j.backend).toBe('reference');
    expect(j.backend_reason).toBe('reference: requested');
    expect(j.threads).toBe(1);
    expect(j).toMatchObject({ prompt_tokens: 8, gen_tokens: 4, decode_from: 8, runs: 1, warmup: 0, model: bin });
    const fresh = JSON.parse((await cli('bench', '-m', bin, ...tiny, '--decode-depth', '0', '--json')).stdout);
    expect(fresh.decode_from).toBe(0);
    expect(j.prefill_tok_s).toBeGreaterThan(0);
    expect(j.decode_tok_s).toBeGreaterThan(0);
    expect(j.prefill_tok_s_runs).toHaveLength(1);
    // stories260K: 512×64 embedding (tied) + 5 layers of 64-wide attention (4 kv heads) and a 172-wide MLP, in f32.
    expect(j.weights_bytes).toBeGreaterThan(200_000 * 4);
    expect(j.weights_bytes).toBeLessThan(300_000 * 4);
    expect(j.weights_dtype).toBe('f32');
    expect(j.peak_rss_bytes).toBeGreaterThan(j.weights_bytes);
    // The interpreter has no linear memory of its own.
    expect(j.wasm_memory_bytes).toBeNull();
    // The reference interpreter does not count dispatches.
    expect(j.decode_dispatches_per_token).toBeNull();
    expect(j.generated_head).toHaveLength(4);
    expect(j.logits_ok).toBe(true);
  });

  it('the same seed drives the same greedy tokens', async () => {
    const a = JSON.parse((await cli('bench', '-m', bin, ...tiny, '--seed', '3', '--json')).stdout);
    const b = JSON.parse((await cli('bench', '-m', bin, ...tiny, '--seed', '3', '--json')).stdout);
    expect(b.generated_head).toEqual(a.generated_head);
  });

  it('prints a small table by default', async () => {
    const r = await cli('bench', '-m', bin, ...tiny, '--threads', '2');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^model {4}stories260K\.bin · weights [\d.]+ MiB \(f32\) · passes none/);
    expect(r.stdout).toMatch(/backend  reference: requested · threads 1/);
    expect(r.stdout).toMatch(/^prefill +8 +0–7 +[\d.]+ +[\d.]+ +[\d.]+–[\d.]+$/m);
    expect(r.stdout).toMatch(/^decode +4 +8–11 +[\d.]+ +[\d.]+ +[\d.]+–[\d.]+$/m);
    expect(r.stdout).not.toMatch(/dispatches/);
  });

  it('--profile times every wasm launch per kernel family and phase; other backends say they cannot', async () => {
    const wasm = ['--prompt-tokens', '8', '--gen-tokens', '4', '--runs', '1', '--warmup', '0', '--backend', 'wasm', '--threads', '2', '--profile'];
    const j = JSON.parse((await cli('bench', '-m', bin, ...wasm, '--json')).stdout);
    const rows = j.profile as { phase: string; kernel: string; ms_per_step: number; launches_per_step: number }[];
    for (const phase of ['prefill', 'decode']) {
      const mine = rows.filter((r) => r.phase === phase);
      // stories260K: 5 layers of 7 matmuls, plus the classifier.
      expect(mine.filter((r) => r.kernel.startsWith('matmul_f32')).reduce((n, r) => n + r.launches_per_step, 0)).toBe(36);
      expect(mine.find((r) => r.kernel.startsWith('embedding'))?.launches_per_step).toBe(1);
      // A number for every row (NaN would arrive as null, and null >= 0 is true).
      expect(mine.filter((r) => !(Number.isFinite(r.ms_per_step) && r.ms_per_step >= 0)), phase).toEqual([]);
    }
    // Its linear memory holds the weights (the tied table once), and the process's peak holds it.
    expect(j.wasm_memory_bytes).toBeGreaterThan(j.weights_bytes);
    expect(j.wasm_memory_bytes).toBeLessThan(j.peak_rss_bytes);
    const table = await cli('bench', '-m', bin, ...wasm);
    expect(table.stdout).toMatch(/peak RSS [\d.]+ MiB \(wasm memory [\d.]+ MiB\)/);
    expect(table.stdout).toMatch(/^decode \(4 steps, [\d.]+ ms\/step profiled, [\d.]+ unprofiled\)/m);
    expect(table.stdout).toMatch(/^ {2}matmul_f32 \[1, 512\] +[\d.]+ +1\.0 +[\d.]+ %$/m);
    const ref = await cli('bench', '-m', bin, ...tiny, '--profile');
    expect(ref.code).toBe(0);
    expect(ref.stderr).toMatch(/the reference backend cannot profile its launches; --profile ignored/);
  });

  it('--profile on WebGPU: every dispatch timed by timestamp queries, the host share beside', async (t) => {
    if (gpuReason()) return t.skip();
    const args = ['--prompt-tokens', '8', '--gen-tokens', '4', '--runs', '1', '--warmup', '0', '--backend', 'webgpu', '--passes', 'default', '--profile', '--json'];
    const r = await cli('bench', '-m', bin, ...args);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    const rows = j.profile as { phase: string; kernel: string; ms_per_step: number; launches_per_step: number }[];
    const decode = rows.filter((x) => x.phase === 'decode');
    const kernels = decode.filter((x) => !x.kernel.startsWith('(host)'));
    // Every dispatch of a step is in the table, the dims kernel first among them.
    expect(kernels.reduce((n, x) => n + x.launches_per_step, 0)).toBe(j.decode_dispatches_per_token);
    expect(decode.find((x) => x.kernel.startsWith('step dims'))?.launches_per_step).toBe(1);
    expect(decode.filter((x) => x.kernel.startsWith('(host)')).map((x) => x.kernel).sort()).toEqual(['(host) encode and submit', '(host) waiting beyond the kernels: gaps, sync, read-back']);
    expect(rows.filter((x) => !(Number.isFinite(x.ms_per_step) && x.ms_per_step >= 0))).toEqual([]);
    expect(decode.reduce((n, x) => n + x.ms_per_step, 0)).toBeGreaterThan(0);
    expect(j.decode_weight_bytes_per_token).toBeGreaterThan(0);
    expect(j.decode_weight_bytes_per_token).toBeLessThanOrEqual(j.weights_bytes);
  });

  it('rejects counts that do not fit the context, and bad numbers', async () => {
    const long = await cli('bench', '-m', bin, '--backend', 'reference', '--prompt-tokens', '500', '--gen-tokens', '100');
    expect(long.code).toBe(1);
    expect(long.stderr).toMatch(/--prompt-tokens 500 \+ --gen-tokens 100 exceed the model's context of 512/);
    const bad = await cli('bench', '-m', bin, '--runs', '0');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--runs must be ≥ 1, got 0/);
  });
});
