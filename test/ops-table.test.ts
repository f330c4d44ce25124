// The op table (src/ops-check) under vitest: fast-check draws every op's shapes and attributes,
// each case runs on wasm (1 and 2 threads, one module for the whole table) and on webgpu, and is
// compared with the reference interpreter by one metric (NMSE, src/ops-check/metric.ts). The gap
// test fails when a registered op has no kernel on a target that does not declare it unsupported.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wgslTargetFor } from '../codegen/wgsl/target.js';
import { destroyGpu, probeGpu } from '../runtime/webgpu/device.js';
import { type CaseResult, type CheckBackend, type Draw, formatGap, OP_TABLE, type OpCase, OpChecker, opGaps } from '../src/ops-check/index.js';
import { isCI } from './helpers/shared.js';

/** Draws per op: each draw is one to three cases (attribute variants), kept small so the file stays fast. */
const RUNS = 4;
const SEED = Number(process.env.TESSERA_OPS_SEED ?? 17);

/** fast-check as the table's Draw. */
function fcDraw(g: fc.GeneratorValue): Draw {
  return {
    int: (min, max) => g(fc.integer, { min, max }),
    bool: () => g(fc.boolean),
    pick: (xs) => xs[g(fc.integer, { min: 0, max: xs.length - 1 })],
    seed: () => g(fc.nat),
  };
}

/** Every op's cases, drawn up front: one wasm module is compiled for all of them. */
const cases: OpCase[] = OP_TABLE.flatMap((row, i) => fc.sample(fc.gen().map((g) => row.draw(fcDraw(g))), { numRuns: RUNS, seed: SEED + i }).flat());

const probe = await probeGpu();
const gpu = probe.ok ? { ctx: probe.ctx, target: wgslTargetFor(probe.ctx.features, probe.ctx.limits, probe.ctx.adapterInfo.isSoftware) } : undefined;
const backends: CheckBackend[] = gpu ? ['wasm', 'webgpu'] : ['wasm'];

function failures(results: readonly CaseResult[]): string {
  return results.filter((r) => r.failure).slice(0, 6).map((r) => `${r.backend}${r.variant ? ` (${r.variant})` : ''}: ${r.c.label}\n    ${r.failure}`).join('\n');
}

describe('op table coverage', () => {
  it('covers every registered op on every target that does not declare it unsupported', () => {
    expect(opGaps(OP_TABLE).map(formatGap)).toEqual([]);
  });
});

describe('op table', () => {
  it.skipIf(gpu !== undefined)('runs without webgpu only outside CI (no adapter: an error under CI, a warning elsewhere)', () => {
    const reason = probe.ok ? '' : probe.reason;
    expect(isCI(), `no WebGPU adapter under CI: ${reason}`).toBe(false);
    console.warn(`[tessera tests] the op table runs WITHOUT webgpu: ${reason}`);
  });

  let checker: OpChecker;
  beforeAll(async () => { checker = await OpChecker.create(cases, backends, gpu); }, 300_000);
  afterAll(async () => {
    await checker?.dispose();
    if (gpu) await destroyGpu(gpu.ctx);
  });

  it.each(OP_TABLE.map((row) => row.op))('%s matches the reference on every backend', async (op) => {
    const results = await checker.check(op);
    expect(results.filter((r) => !r.skipped).length, `no case of ${op} ran`).toBeGreaterThan(0);
    expect(failures(results), `${results.filter((r) => r.failure).length} of ${results.length} runs failed`).toBe('');
  }, 120_000);
});
