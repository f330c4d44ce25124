import { describe, expect, it } from 'vitest';
import { evalDim, dimToString } from '../../ir/dim.js';
import { planMemory, type MemoryPlan } from '../../ir/memory.js';
import { Model } from '../../src/model.js';
import { hasShared, sharedPath } from '../helpers/shared.js';

function checkNoOverlap(plan: MemoryPlan): void {
  const acts = plan.storages.filter((s) => s.role === 'activation');
  for (const a of acts) {
    for (const b of acts) {
      if (a === b) continue;
      const liveTogether = a.firstDef <= b.lastUse && b.firstDef <= a.lastUse;
      const overlap = a.offset! < b.offset! + b.maxBytes && b.offset! < a.offset! + a.maxBytes;
      if (liveTogether && overlap && a.maxBytes > 0 && b.maxBytes > 0) throw new Error(`%${a.owner.name} and %${b.owner.name} overlap while both live`);
    }
    expect(a.offset! + a.maxBytes).toBeLessThanOrEqual(plan.arenaBytes);
  }
}

describe.runIf(hasShared('refs'))('memory plan', () => {
  for (const arch of ['llama', 'gemma2', 'gpt2']) {
    it(`${arch}: views and KV appends alias, live activations never overlap, reuse saves memory`, () => {
      const model = Model.load(sharedPath('refs', arch));
      const g = model.graph({ logits: 'last' });
      const bounds = { S: 64, P: 64 };
      const plan = planMemory(g, bounds);
      for (const n of g.nodes) {
        if (n.op === 'reshape') expect(plan.storageOf.get(n.outputs[0])).toBe(plan.storageOf.get(n.inputs[0]));
        if (n.op === 'kv_append') expect(plan.storageOf.get(n.outputs[0])!.role).toBe('state');
      }
      checkNoOverlap(plan);
      expect(plan.arenaBytes).toBeLessThan(plan.unsharedActivationBytes / 2);
      const peakAtBounds = evalDim(plan.peakActivationBytes, bounds);
      expect(peakAtBounds).toBeGreaterThan(0);
      expect(peakAtBounds).toBeLessThanOrEqual(plan.arenaBytes);
      expect(dimToString(plan.peakActivationBytes)).toMatch(/S/);
    });
  }
});
