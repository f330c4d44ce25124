// The per-pass timing and statistics table printed by `tessera dump --timing`.
import type { PipelineRun } from './pass-manager.js';

const ms = (x: number) => x.toFixed(2);
const pct = (x: number, total: number) => `${total > 0 ? ((100 * x) / total).toFixed(1) : '0.0'}%`;

/** Left-aligns text columns and right-aligns numeric ones. */
function table(rows: readonly string[][], numeric: readonly boolean[]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows
    .map((r) => r.map((cell, c) => (numeric[c] ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd())
    .join('\n');
}

/**
 * One row per pass: wall time of the pass, of the verification after it, share of the total,
 * whether it changed the graph, and its statistics (`name=count`, sorted by name).
 */
export function formatTimingReport(run: PipelineRun): string {
  const rows: string[][] = [['#', 'pass', 'pass ms', 'verify ms', 'share', 'changed', 'statistics']];
  if (run.inputVerifyMs > 0) rows.push(['0', '(input)', ms(0), ms(run.inputVerifyMs), pct(run.inputVerifyMs, run.totalMs), '', '']);
  run.records.forEach((r, i) => {
    const stats = Object.keys(r.stats)
      .sort()
      .map((k) => `${k}=${r.stats[k]}`)
      .join(', ');
    rows.push([String(i + 1), r.text, ms(r.ms), ms(r.verifyMs), pct(r.ms + r.verifyMs, run.totalMs), r.changed ? 'yes' : 'no', stats]);
  });
  const passMs = run.records.reduce((s, r) => s + r.ms, 0);
  const verifyMs = run.inputVerifyMs + run.records.reduce((s, r) => s + r.verifyMs, 0);
  rows.push(['', 'total', ms(passMs), ms(verifyMs), pct(passMs + verifyMs, run.totalMs), '', `wall ${ms(run.totalMs)} ms`]);
  const body = table(rows, [true, false, true, true, true, false, false]);
  return `// ----- pass timing (${run.records.length} pass${run.records.length === 1 ? '' : 'es'}) -----\n${body}\n`;
}
