// `tessera test-ops`: the op table (src/ops-check) from the command line, as llama.cpp's
// test-backend-ops: every op's cases on every backend against the reference interpreter, one
// pass/fail line per op and backend, per-op timings with --perf.
import { wgslTargetFor } from '../../codegen/wgsl/target.js';
import { CODEGEN_TARGETS, listOps } from '../../ir/index.js';
import { destroyGpu, probeGpu } from '../../runtime/webgpu/device.js';
import { type CaseResult, type CheckBackend, type CheckGpu, DEFAULT_NMSE, formatGap, OP_TABLE, type OpCase, OpChecker, opGaps, seededDraw, unsupportedReason } from '../ops-check/index.js';
import { CliError, EXIT_FAILURE, EXIT_OK, flagOpt, type Invocation, listOpt, UsageError } from './command.js';
import type { CliIO } from './io.js';
import { numberOpt } from './model-options.js';
import { registerCommand } from './registry.js';

/** Names given as repeated options or comma lists, each checked against `known`. */
function names(inv: Invocation, option: string, known: readonly string[]): string[] {
  const given = listOpt(inv, option).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  for (const name of given) if (!known.includes(name)) throw new UsageError(`--${option}: unknown '${name}' (known: ${known.join(', ')})`, inv.command);
  return given;
}

/** The GPU to run on, or why there is none; an explicit -b webgpu without an adapter is an error. */
async function openGpu(explicit: boolean, io: CliIO): Promise<CheckGpu | undefined> {
  const probe = await probeGpu();
  if (probe.ok) return { ctx: probe.ctx, target: wgslTargetFor(probe.ctx.features, probe.ctx.limits, probe.ctx.adapterInfo.isSoftware) };
  if (explicit) throw new CliError(`-b webgpu: no WebGPU adapter (${probe.reason})`);
  io.stderr.write(`webgpu left out: no adapter (${probe.reason})\n`);
  return undefined;
}

const fmtMs = (ms: number) => (ms >= 10 ? ms.toFixed(0) : ms.toPrecision(2));
const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);

/** One line for an op on one backend, plus the first failures under it. */
function report(op: string, backend: CheckBackend, results: readonly CaseResult[], perf: boolean): string {
  const ran = results.filter((r) => !r.skipped);
  const failed = ran.filter((r) => r.failure);
  const cases = new Set(ran.map((r) => r.c)).size;
  const skipped = results.length - ran.length;
  const status = failed.length ? 'FAIL' : 'ok  ';
  const worst = Math.max(0, ...ran.filter((r) => !r.failure).map((r) => r.error));
  let line = `${status}  ${op.padEnd(18)} ${backend.padEnd(7)} ${String(cases).padStart(3)} cases`;
  line += failed.length ? `  ${failed.length} of ${ran.length} runs failed` : `  max NMSE ${worst === 0 ? '0' : worst.toExponential(1)}`;
  if (skipped) line += `  (${skipped} skipped: ${results.find((r) => r.skipped)!.skipped})`;
  if (perf) {
    const variants = [...new Set(ran.map((r) => r.variant))];
    // Variant names without their parenthesis: "constants baked in (hardware GPU path)" → "constants baked in".
    line += `  ${variants.map((v) => `${v ? `${v.replace(/ \([^)]*\)/, '')}: ` : ''}${fmtMs(mean(ran.filter((r) => r.variant === v).map((r) => r.ms)))} ms`).join(', ')} per case`;
  }
  const details = failed.slice(0, 3).map((r) => `\n        ${r.variant ? `(${r.variant}) ` : ''}${r.c.label}\n          ${r.failure}`);
  return line + details.join('');
}

registerCommand({
  name: 'test-ops',
  summary: "check every op's kernels against the reference interpreter (the op table)",
  args: '',
  positionals: { min: 0, max: 0 },
  description: `Runs the op table (src/ops-check): for each op, cases drawn from a seeded generator (shapes
with odd sizes and 1s, symbolic dims, every dtype the op takes, its attributes) run as one-node
graphs on the wasm backend (at 1 and 2 threads) and on webgpu, each compared with the reference
interpreter by normalized MSE, Σ(got − want)² / Σ want², within ${DEFAULT_NMSE.toExponential(0)} unless a case allows more
(quantized products); integer results and layout ops bit for bit. Prints one line per op and
backend; exit code 1 if any case fails or an op has no kernel on a backend that does not declare
it unsupported. Without -b, webgpu is left out (with a note) when there is no adapter.`,
  options: {
    op: { type: 'string', short: 'o', multiple: true, value: 'OP', help: 'check only these ops (repeat or comma-separate; default: all)' },
    backend: { type: 'string', short: 'b', multiple: true, value: 'BACKEND', help: `check only these backends: ${CODEGEN_TARGETS.join(', ')} (default: both)` },
    perf: { type: 'boolean', help: 'also print the mean time per case of each op on each backend (and the reference)' },
    runs: { type: 'string', value: 'N', help: 'draws per op (each draw is one or a few cases; default 4)' },
    seed: { type: 'string', value: 'N', help: 'seed of the case generator (default 1); the same seed draws the same cases' },
  },
  examples: [
    { command: 'tessera test-ops', says: 'every op on wasm and webgpu' },
    { command: 'tessera test-ops -o matmul,rope -b wasm', says: 'two ops on the CPU backend only' },
    { command: 'tessera test-ops -o attention --perf --runs 10', says: 'more attention cases, with timings' },
  ],
  async run(inv, io) {
    const ops = names(inv, 'op', [...new Set([...OP_TABLE.map((r) => r.op), ...listOps().map((d) => d.name)])].sort());
    const asked = names(inv, 'backend', CODEGEN_TARGETS) as CheckBackend[];
    const runs = numberOpt(inv, 'runs', { min: 1, max: 1000, integer: true }) ?? 4;
    const seed = numberOpt(inv, 'seed', { min: 0, max: 2 ** 31 - 1, integer: true }) ?? 1;
    const perf = flagOpt(inv, 'perf');

    const gaps = opGaps(OP_TABLE).filter((g) => !ops.length || ops.includes(g.op));
    for (const g of gaps) io.stdout.write(`GAP   ${formatGap(g)}\n`);

    const rows = OP_TABLE.filter((r) => !ops.length || ops.includes(r.op));
    const draw = seededDraw(seed);
    const cases: OpCase[] = rows.flatMap((r) => Array.from({ length: runs }, () => r.draw(draw)).flat());

    const gpu = asked.length === 0 || asked.includes('webgpu') ? await openGpu(asked.includes('webgpu'), io) : undefined;
    const backends = (asked.length ? asked : [...CODEGEN_TARGETS]).filter((b) => b !== 'webgpu' || gpu);
    const checker = await OpChecker.create(cases, backends, gpu);
    let failedPairs = 0, pairs = 0;
    try {
      for (const row of rows) {
        const results = await checker.check(row.op);
        if (perf) {
          const ref = mean(cases.filter((c) => c.op === row.op).map((c) => checker.referenceMs(c)));
          io.stdout.write(`      ${row.op.padEnd(18)} ${'reference'.padEnd(7)} ${fmtMs(ref)} ms per case\n`);
        }
        for (const backend of backends) {
          const reason = unsupportedReason(row.op, backend);
          if (reason) {
            io.stdout.write(`skip  ${row.op.padEnd(18)} ${backend.padEnd(7)} unsupported: ${reason}\n`);
            continue;
          }
          const mine = results.filter((r) => r.backend === backend);
          pairs++;
          if (mine.some((r) => r.failure)) failedPairs++;
          io.stdout.write(`${report(row.op, backend, mine, perf)}\n`);
        }
      }
    } finally {
      await checker.dispose();
      if (gpu) await destroyGpu(gpu.ctx);
    }
    io.stdout.write(`${pairs - failedPairs} of ${pairs} op/backend pairs pass${gaps.length ? `; ${gaps.length} gap${gaps.length > 1 ? 's' : ''}` : ''} (seed ${seed}, ${runs} draws per op)\n`);
    return failedPairs || gaps.length ? EXIT_FAILURE : EXIT_OK;
  },
});
