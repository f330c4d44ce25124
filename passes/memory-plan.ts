// memory-plan: liveness and buffer reuse (ir/memory.ts planMemory), as statistics for a person
// (`tessera dump --passes 'memory-plan{bounds="S=512,P=2047"}' --timing`). The graph is not
// changed, and no named pipeline runs it: the code generators plan the final graph themselves,
// because the plan depends on what this pass cannot know (each program's own bounds: a decoder's
// `last` and `all` step graphs, an encoder's batch; and the backend's placement: the CPU's
// `appendAtTail`), and an artifact's graphs are parsed back from text, so a plan kept beside the
// graph object would not follow them. The statistics say what reuse buys at the bounds (arena
// vs every activation in its own buffer) and give the peak of live activation bytes as a
// function of the symbolic dims, e.g.
//   peak-activation-bytes[max(1024*S, 512*P+512*S)] = 33554432
// (the bracketed expression is part of the statistic's name; the count is its value at the bounds).
// memoryPlanOf(graph) returns the last plan made for a graph, for tools that print more.
import { type DimBindings, dimToString, evalDim } from '../ir/dim.js';
import type { Graph } from '../ir/graph.js';
import { type MemoryPlan, planMemory } from '../ir/memory.js';
import type { PassContext } from './pass.js';
import { registerPass } from './registry.js';

const plans = new WeakMap<Graph, MemoryPlan>();

/** The plan the last memory-plan run made for this graph. */
export function memoryPlanOf(g: Graph): MemoryPlan | undefined {
  return plans.get(g);
}

/** `S=512,P=2047` → bounds; every other symbol of the graph gets `fallback`. */
export function parseBounds(text: string, symbols: readonly string[], fallback: number): DimBindings {
  const bounds: Record<string, number> = Object.fromEntries(symbols.map((s) => [s, fallback]));
  for (const item of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(\d+)$/.exec(item);
    if (!m) throw new Error(`memory-plan: bound '${item}' is not SYMBOL=COUNT (as in bounds="S=512,P=2047")`);
    bounds[m[1]] = Number(m[2]);
  }
  return bounds;
}

export function reportMemory(g: Graph, ctx: Pick<PassContext, 'stat' | 'options'>): MemoryPlan {
  const bounds = parseBounds(ctx.options.bounds as string, g.symbols, ctx.options.default_bound as number);
  const plan = planMemory(g, bounds);
  plans.set(g, plan);
  ctx.stat('arena-bytes', plan.arenaBytes);
  ctx.stat('unshared-bytes', plan.unsharedActivationBytes);
  ctx.stat('saved-bytes', Math.max(0, plan.unsharedActivationBytes - plan.arenaBytes));
  ctx.stat('buffers', plan.storages.filter((s) => s.role === 'activation').length);
  ctx.stat(`peak-activation-bytes[${dimToString(plan.peakActivationBytes)}]`, evalDim(plan.peakActivationBytes, bounds));
  return plan;
}

registerPass({
  name: 'memory-plan',
  description: 'liveness and buffer reuse (planMemory) as statistics only: arena bytes, savings and the symbolic peak of activation bytes (backends plan for themselves)',
  options: {
    bounds: { type: 'string', default: '', doc: 'upper bounds of the symbolic dims, e.g. "S=512,P=2047"' },
    default_bound: { type: 'int', default: 1024, doc: 'bound of every symbol that bounds does not name' },
  },
  run(g, ctx) {
    reportMemory(g, ctx);
    return { changed: false };
  },
});
