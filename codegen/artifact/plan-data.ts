// Memory plans to and from manifest data. Storages are matched to values by name, so the plan
// restores onto the graph parsed back from the manifest's IR text.
import { dimToString } from '../../ir/dim.js';
import type { Graph, Value } from '../../ir/graph.js';
import type { DimBounds, MemoryPlan, Storage, StorageRole } from '../../ir/memory.js';
import { parseDim } from '../../ir/parse/dim.js';
import type { PlanData } from './manifest.js';

function allValues(g: Graph): Value[] {
  return [...g.inputs, ...g.params, ...g.nodes.flatMap((n) => n.outputs)];
}

export function planToData(plan: MemoryPlan, bounds: DimBounds, g: Graph): PlanData {
  const storageOf: Record<string, number> = {};
  for (const v of allValues(g)) {
    const s = plan.storageOf.get(v);
    if (s) storageOf[v.name] = s.id;
  }
  return {
    bounds: { ...bounds },
    arenaBytes: plan.arenaBytes,
    peakActivationBytes: dimToString(plan.peakActivationBytes),
    unsharedActivationBytes: plan.unsharedActivationBytes,
    storages: plan.storages.map((s) => ({
      id: s.id, role: s.role, owner: s.owner.name, bytes: dimToString(s.bytes), maxBytes: s.maxBytes,
      ...(s.offset !== undefined ? { offset: s.offset } : {}), firstDef: s.firstDef, lastUse: s.lastUse,
      ...(s.tailOf !== undefined ? { tailOf: s.tailOf } : {}),
    })),
    storageOf,
  };
}

export function planFromData(d: PlanData, g: Graph): MemoryPlan {
  const byName = new Map(allValues(g).map((v) => [v.name, v]));
  const value = (name: string): Value => {
    const v = byName.get(name);
    if (!v) throw new Error(`the memory plan names %${name}, which the graph does not have`);
    return v;
  };
  const storages: Storage[] = d.storages.map((s, i) => {
    if (s.id !== i) throw new Error(`memory plan storage ${i} has id ${s.id}`);
    if ((s.role === 'tail') !== (s.tailOf !== undefined)) throw new Error(`memory plan storage ${i}: role ${s.role}${s.tailOf !== undefined ? ` with tailOf ${s.tailOf}` : ' without tailOf'}`);
    return {
      id: s.id, role: s.role as StorageRole, owner: value(s.owner), bytes: parseDim(s.bytes, g.symbols), maxBytes: s.maxBytes,
      ...(s.offset !== undefined ? { offset: s.offset } : {}), firstDef: s.firstDef, lastUse: s.lastUse,
      ...(s.tailOf !== undefined ? { tailOf: s.tailOf } : {}),
    };
  });
  for (const s of storages) {
    if (s.tailOf !== undefined && storages[s.tailOf]?.role !== 'state') throw new Error(`memory plan storage ${s.id} is the tail of storage ${s.tailOf}, which is not a state`);
  }
  const storageOf = new Map<Value, Storage>();
  for (const [name, id] of Object.entries(d.storageOf)) {
    const s = storages[id];
    if (!s) throw new Error(`memory plan: %${name} points at storage ${id}, which does not exist`);
    storageOf.set(value(name), s);
  }
  return {
    storages, storageOf, arenaBytes: d.arenaBytes,
    peakActivationBytes: parseDim(d.peakActivationBytes, g.symbols),
    unsharedActivationBytes: d.unsharedActivationBytes,
  };
}
