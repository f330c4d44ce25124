// lora-attach{adapter=PATH, slot=I, slots=N}: the run-time form of a LoRA adapter. Each projection
// whose weight reads an adapted tensor becomes matmul_lora (ir/ops/lora.ts) with the adapter's
// factors as parameters of their own, beside the untouched base weight; the adapter's scale is
// entry I of one parameter %lora.scales [N] (leaf `lora.scales`), which the runtime supplies and
// may change between requests. Attaching a second adapter to a projection stacks its factors
// (a: rows, b: columns) onto the first's. Like lora-merge, it runs first, on weights as the
// builder bound them; factor rows are cut for fused tensors the same way.
import { type Graph, type Node, type Value } from '../ir/graph.js';
import { ModelFormatError } from '../ir/errors.js';
import { projectionOf } from '../ir/op.js';
import { tensorType } from '../ir/types.js';
import { weightCall, type WeightExpr, weightLeaves, weightTensor } from '../ir/weights.js';
import { checkProjectionOnly, loraAdapterAt, type LoraMergeAdapter, type LoraMergeTarget, rowsRead } from './lora-merge.js';
import type { PassContext } from './pass.js';
import { registerPass } from './registry.js';
import { addParam, attrsOf, dropDeadParams, newNode, replaceNode, sourceOf, transform, typedWeight, Uses } from './rewrite.js';

/** The leaf the runtime resolves to the current adapter scales. */
export const LORA_SCALES_LEAF = 'lora.scales';

function scalesParam(g: Graph, slots: number, fail: (m: string) => never): Value {
  const found = g.params.find((p) => { const s = sourceOf(p); return s?.kind === 'tensor' && s.name === LORA_SCALES_LEAF; });
  if (found) {
    if (found.type.shape[0] !== slots) fail(`the graph's %${found.name} holds ${String(found.type.shape[0])} adapter scales, but slots=${slots}`);
    return found;
  }
  return addParam(g, 'lora.scales', { source: weightTensor(LORA_SCALES_LEAF), type: tensorType('f32', [slots]) });
}

export function attachLora(g: Graph, adapter: LoraMergeAdapter, slot: number, slots: number, ctx: Pick<PassContext, 'stat'>): boolean {
  const fail = (message: string): never => { throw new ModelFormatError(`LoRA adapter ${adapter.name}: ${message}`); };
  if (!(slot >= 0 && slot < slots)) fail(`slot ${slot} is outside 0..${slots - 1}`);
  const byTensor = new Map(adapter.targets.map((t) => [t.tensor, t]));
  const uses = new Uses(g);
  const used = new Set<string>();
  const aParams = new Map<string, Value>();
  const scales = scalesParam(g, slots, fail);
  const dead: Value[] = [];
  for (const p of [...g.params]) {
    const source = sourceOf(p);
    if (!source || p === scales) continue;
    const hits = [...new Set(weightLeaves(source))].filter((l) => byTensor.has(l));
    if (hits.length === 0) continue;
    const target = byTensor.get(hits[0])!;
    if (hits.length > 1) fail(`%${p.name} combines the adapted tensors ${hits.join(', ')}; run lora-attach before passes that merge weights`);
    checkProjectionOnly(p, uses, target.tensor, fail);
    const rows = rowsRead(source, target.tensor);
    if (!rows) fail(`%${p.name} reads "${target.tensor}" as a form lora-attach cannot adapt; run it first`);
    const a = aParams.get(target.tensor) ?? addParam(g, `${p.name}.lora_a`, { source: weightTensor(target.a), type: tensorType(target.aType.dtype, target.aType.shape) });
    aParams.set(target.tensor, a);
    const b = addParam(g, `${p.name}.lora_b`, bSource(target, rows!, p, fail));
    for (const n of [...uses.of(p)]) {
      if (projectionOf(n.op)?.weight !== 1 || n.inputs[1] !== p) continue;
      replaceNode(g, n, attached(g, n, a, b, scales, target, slot, dead));
      ctx.stat('projections-attached');
    }
    used.add(target.tensor);
  }
  const unused = adapter.targets.filter((t) => !used.has(t.tensor));
  if (unused.length) fail(`"${unused[0].a}" adapts "${unused[0].tensor}", which no weight of this model reads; the adapter was made for another architecture or file layout`);
  dropDeadParams(g, dead);
  return used.size > 0;
}

function bSource(t: LoraMergeTarget, rows: 'all' | { start: number; end: number }, p: Value, fail: (m: string) => never): { source: WeightExpr; type: ReturnType<typeof tensorType> } {
  const whole = weightTensor(t.b);
  if (rows === 'all') return { source: whole, type: tensorType(t.bType.dtype, t.bType.shape) };
  if (rows.end > t.bType.shape[0]) fail(`"${t.b}" has ${t.bType.shape[0]} rows, but %${p.name} reads rows ${rows.start}..${rows.end} of "${t.tensor}"`);
  return { source: weightCall('slice', [whole], { axis: 0, start: rows.start, end: rows.end }), type: tensorType(t.bType.dtype, [rows.end - rows.start, t.bType.shape[1]]) };
}

/** matmul → matmul_lora with one block; matmul_lora → the same with this adapter's block stacked on. */
function attached(g: Graph, n: Node, a: Value, b: Value, scales: Value, t: LoraMergeTarget, slot: number, dead: Value[]): Node {
  // The replacement takes over the old results' names (replaceNode redirects every use).
  const names = n.outputs.map((v) => v.name);
  const rank = t.aType.shape[0];
  if (n.op === 'matmul_lora') {
    const [x, w, a0, b0, s, bias] = n.inputs;
    const at = attrsOf(n);
    const stackedA = addParam(g, a0.name, transform('concat', [typedWeight(a0), typedWeight(a)], { axis: 0 }));
    const stackedB = addParam(g, b0.name, transform('concat', [typedWeight(b0), typedWeight(b)], { axis: 1 }));
    dead.push(a0, b0, a, b);
    const attrs = { ranks: [...(at.ranks as number[]), rank], slots: [...(at.slots as number[]), slot], factors: [...(at.factors as number[]), t.factor] };
    return newNode('matmul_lora', [x, w, stackedA, stackedB, s, ...(bias ? [bias] : [])], attrs, names);
  }
  if (n.op !== 'matmul') throw new ModelFormatError(`lora-attach: ${n.op} reads %${n.inputs[1].name}; only plain matmuls take run-time adapters (run lora-attach before fusing passes)`);
  const [x, w, bias] = n.inputs;
  return newNode('matmul_lora', [x, w, a, b, scales, ...(bias ? [bias] : [])], { ranks: [rank], slots: [slot], factors: [t.factor] }, names);
}

registerPass({
  name: 'lora-attach',
  description: 'apply a LoRA adapter at run time: projections it adapts become matmul_lora, its scale one entry of %lora.scales',
  options: {
    adapter: { type: 'string', doc: 'the adapter: a PEFT folder or a llama.cpp GGUF adapter' },
    slot: { type: 'int', default: 0, doc: "this adapter's index in %lora.scales" },
    slots: { type: 'int', default: 1, doc: 'how many adapters %lora.scales holds' },
  },
  run(g, ctx) {
    const adapter = loraAdapterAt(ctx.options.adapter as string, 'lora-attach');
    return { changed: attachLora(g, adapter, ctx.options.slot as number, ctx.options.slots as number, ctx) };
  },
});
