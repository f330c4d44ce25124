// The gap check: every registered op has a kernel on every code generator that does not declare
// it unsupported (OpDef.unsupported, with a reason), and cases in the op table to run it with.
import { CODEGEN_TARGETS, type CodegenTarget, findOp, listOps } from '../../ir/index.js';
import type { OpCases } from './case.js';
import { hasKernel } from './harness.js';

export interface Gap {
  readonly op: string;
  readonly target?: CodegenTarget;
  readonly problem: string;
}

export function opGaps(table: readonly OpCases[]): Gap[] {
  const gaps: Gap[] = [];
  const rows = new Set(table.map((r) => r.op));
  for (const row of table) if (!findOp(row.op)) gaps.push({ op: row.op, problem: 'the op table has cases for an op that is not registered' });
  for (const def of listOps()) {
    let runs = false;
    for (const target of CODEGEN_TARGETS) {
      const reason = def.unsupported?.[target];
      const has = hasKernel(def.name, target);
      if (!reason && !has) gaps.push({ op: def.name, target, problem: `no ${target} kernel, and registerOp declares no unsupported.${target} reason` });
      if (reason && has) gaps.push({ op: def.name, target, problem: `declared unsupported on ${target} ("${reason}") but it has a kernel there: drop the declaration` });
      runs ||= !reason;
    }
    if (runs && !rows.has(def.name)) gaps.push({ op: def.name, problem: 'no cases in the op table (src/ops-check/cases/)' });
  }
  return gaps;
}

export function formatGap(g: Gap): string {
  return `${g.op}${g.target ? ` on ${g.target}` : ''}: ${g.problem}`;
}
