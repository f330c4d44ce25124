// Run-time LoRA in a batched step: each row belongs to a sequence with adapters of its own. The
// model's step graph reads one %lora.scales [N] (passes/lora-attach.ts) for every row; here every
// matmul_lora reads a graph input `lora_scales` [S, N] instead — one row of scales per row of the
// step, which the paged executors fill each step from the rows' sequences (ir/ops/lora.ts).
import { dimEquals } from '../../ir/dim.js';
import { type Graph, Value } from '../../ir/graph.js';
import { tensorType, typeToString } from '../../ir/types.js';

/** The input holding each row's adapter scales. */
export const LORA_ROWS_INPUT = 'lora_scales';

/**
 * Rewrites `g` (a paged step graph, in place) so that its matmul_lora nodes read per-row scales
 * from the input `lora_scales`; returns how many adapters a row holds (0: no run-time adapters,
 * the graph unchanged).
 */
export function perRowLoraScales(g: Graph): number {
  const nodes = g.nodes.filter((n) => n.op === 'matmul_lora');
  if (nodes.length === 0) return 0;
  const shared = new Set(nodes.map((n) => n.inputs[4]));
  if (shared.size !== 1) throw new Error(`graph @${g.name}: its matmul_lora nodes read ${shared.size} different scales; expected the one %lora.scales`);
  const [scales] = shared;
  if (scales.def.kind !== 'param' || scales.type.shape.length !== 1) throw new Error(`graph @${g.name}: %${scales.name} is not the adapter scales parameter [N] of lora-attach`);
  const adapters = scales.type.shape[0];
  const rows = g.inputs.find((v) => v.name === 'tokens')?.type.shape;
  if (typeof adapters !== 'number' || rows?.length !== 1) throw new Error(`graph @${g.name} is not a paged step graph with static adapter scales (a 'tokens' input [S] and %lora.scales [N])`);
  const input = new Value(g.freshName(LORA_ROWS_INPUT), tensorType('f32', [rows[0], adapters]), { kind: 'input', state: false });
  if (input.name !== LORA_ROWS_INPUT) throw new Error(`graph @${g.name} already has a value named '${LORA_ROWS_INPUT}'`);
  for (const n of nodes) {
    const x = n.inputs[0].type.shape;
    if (x.length !== 2 || !dimEquals(x[0], rows[0])) throw new Error(`graph @${g.name}: matmul_lora %${n.outputs[0].name} reads x ${typeToString(n.inputs[0].type)}, not one row per row of the step`);
    n.inputs[4] = input;
  }
  g.inputs.push(input);
  g.params = g.params.filter((p) => p !== scales);
  return adapters;
}
