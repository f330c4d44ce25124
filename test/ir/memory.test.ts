import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../ir/builder.js';
import { evalDim, dimToString, sym } from '../../ir/dim.js';
import { planMemory, type MemoryPlan } from '../../ir/memory.js';
import '../../ir/ops/index.js';
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

describe('memory plan: rows appended to a KV cache computed at its tail (appendAtTail)', () => {
  /** k and v split from one projection, reshaped and appended; `extraReader` also reads v. */
  function graph(opts: { extraReader?: boolean; batched?: boolean } = {}) {
    const b = new GraphBuilder('appends', ['S', 'P']);
    const lead = opts.batched ? [2] : [];
    const x = b.input('x', 'f32', [...lead, sym('S'), 12]);
    const kPast = b.input('k', 'f32', [...lead, sym('P'), 2, 2], { state: true });
    const vPast = b.input('v', 'f32', [...lead, sym('P'), 2, 2], { state: true });
    const [q, k, v] = b.ops('split', [x], { sizes: [4, 4, 4] }, ['q', 'k.rows', 'v.rows']);
    const kView = b.op('reshape', [k], { shape: [...lead, sym('S'), 2, 2] }, 'k.view');
    const vView = b.op('reshape', [v], { shape: [...lead, sym('S'), 2, 2] }, 'v.view');
    const kAll = b.op('kv_append', [kPast, kView], {}, 'k.all');
    const vAll = b.op('kv_append', [vPast, vView], {}, 'v.all');
    b.output('q', q);
    if (opts.extraReader) b.output('v.copy', b.op('scale', [v], { factor: 2 }, 'v.scaled'));
    // (A batched state has no update: states grow along their first axis.)
    if (opts.batched) {
      b.output('k.all', kAll);
      b.output('v.all', vAll);
    } else {
      b.update(kPast, kAll);
      b.update(vPast, vAll);
    }
    return b.finish();
  }
  const value = (g: ReturnType<typeof graph>, name: string) => g.nodes.flatMap((n) => n.outputs).find((v) => v.name === name)!;

  it('gives an appended value only the append reads the tail of its state, and leaves the default plan alone', () => {
    const g = graph();
    const plan = planMemory(g, { S: 8, P: 16 }, { appendAtTail: true });
    for (const [rows, view, past] of [['k.rows', 'k.view', 'k'], ['v.rows', 'v.view', 'v']]) {
      const s = plan.storageOf.get(value(g, rows))!;
      expect(s.role).toBe('tail');
      expect(plan.storageOf.get(value(g, view))).toBe(s);
      expect(plan.storages[s.tailOf!]).toBe(plan.storageOf.get(g.inputs.find((v) => v.name === past)!));
      expect(plan.storages[s.id]).toBe(s);
    }
    expect(plan.storageOf.get(value(g, 'q'))!.role).toBe('output');
    checkNoOverlap(plan);
    const plain = planMemory(g, { S: 8, P: 16 });
    expect(plain.storages.some((s) => s.role === 'tail')).toBe(false);
    expect(plain.storageOf.get(value(g, 'k.rows'))!.role).toBe('activation');
  });

  it('keeps a value another node reads, or one appended to a batched cache (rows at P not contiguous), in the arena', () => {
    const read = graph({ extraReader: true });
    const plan = planMemory(read, { S: 8, P: 16 }, { appendAtTail: true });
    expect(plan.storageOf.get(value(read, 'v.rows'))!.role).toBe('activation');
    expect(plan.storageOf.get(value(read, 'k.rows'))!.role).toBe('tail');
    const batched = graph({ batched: true });
    const batchedPlan = planMemory(batched, { S: 8, P: 16 }, { appendAtTail: true });
    expect(batchedPlan.storages.some((s) => s.role === 'tail')).toBe(false);
  });
});
