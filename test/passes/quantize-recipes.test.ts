// The quantize pass's recipes against llama-quantize: for every shared file llama.cpp made with
// one of our recipes, each tensor's type is the one the recipe table chooses — first the table
// alone (roles from llama.cpp's tensor names), then the pass on the real graph of the file's
// source model (roles from Tessera's parameter names, the tied head's copy as llama.cpp's
// token_embd). TinyStories-656K's 128-wide rows exercise the fallbacks, quant-mini the K-quants.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dtypeInfo, isQuantized } from '../../ir/dtype.js';
import type { Graph } from '../../ir/graph.js';
import { projectionOf } from '../../ir/op.js';
import { weightLeaves } from '../../ir/weights.js';
import { GgufStore } from '../../models/formats/gguf.js';
import '../../passes/index.js';
import { runPipeline } from '../../passes/pass-manager.js';
import { chooseType, isRecipeName, layerOf, RECIPE_TABLE, type WeightRole, weightRole } from '../../passes/quantize-recipes.js';
import { Model } from '../../src/model.js';
import { hasShared, sharedPath } from '../helpers/shared.js';

const QUANT = ['models', 'quant'];

/** The shared files llama-quantize made, with the recipe that reproduces each (pure files: the type's own). */
const FILES: Record<string, string> = {
  'TinyStories-656K-Q3_K_M.gguf': 'q3_k_m',
  'TinyStories-656K-Q4_K_M.gguf': 'q4_k_m',
  'TinyStories-656K-Q5_K_M.gguf': 'q5_k_m',
  'TinyStories-656K-Q6_K.gguf': 'q6_k',
  'quant-mini-Q3_K_M.gguf': 'q3_k_m',
  'quant-mini-Q4_K_M.gguf': 'q4_k_m',
  'quant-mini-Q5_K_M.gguf': 'q5_k_m',
  'quant-mini-Q2_K-pure.gguf': 'q2_k',
  'quant-mini-Q3_K_S-pure.gguf': 'q3_k',
  'quant-mini-Q4_K_M-pure.gguf': 'q4_k',
  'quant-mini-Q5_K_M-pure.gguf': 'q5_k',
  'quant-mini-Q6_K-pure.gguf': 'q6_k',
  'quant-mini-Q8_0-pure.gguf': 'q8_0',
  'quant-mini-Q4_0-pure.gguf': 'q4_0',
  'quant-mini-Q4_1-pure.gguf': 'q4_1',
  'quant-mini-Q5_0-pure.gguf': 'q5_0',
  'quant-mini-Q5_1-pure.gguf': 'q5_1',
};

/** llama.cpp's tensor names → roles; these models tie their output head to token_embd, which llama.cpp then quantizes as the output. */
const GGUF_ROLES: Record<string, WeightRole> = {
  attn_q: 'attn_q', attn_k: 'attn_k', attn_v: 'attn_v', attn_output: 'attn_output', ffn_gate: 'ffn_gate', ffn_up: 'ffn_up', ffn_down: 'ffn_down',
};

/** Every quantized 2-D tensor of a file: its type, role, layer and row length. */
function fileTensors(store: GgufStore): { name: string; type: string; role: WeightRole; layer?: number; rowLength: number }[] {
  return store.names().filter((n) => store.tensorInfo(n).dims.length === 2).map((name) => {
    const m = /^blk\.(\d+)\.(\w+)\.weight$/.exec(name);
    const role = name === 'token_embd.weight' ? 'output' : m ? GGUF_ROLES[m[2]] : undefined;
    if (!role) throw new Error(`no role for ${name}`);
    return { name, type: store.tensorInfo(name).typeName.toLowerCase(), role, layer: m ? Number(m[1]) : undefined, rowLength: store.tensorInfo(name).dims[0] };
  });
}

describe('the recipe table chooses the types llama-quantize chose', () => {
  for (const [file, recipe] of Object.entries(FILES)) {
    it.skipIf(!hasShared(...QUANT, file))(`${file}: ${recipe}`, () => {
      const store = new GgufStore(sharedPath(...QUANT, file));
      const tensors = fileTensors(store);
      const layers = new Set(tensors.flatMap((t) => (t.layer === undefined ? [] : [t.layer]))).size;
      expect(tensors.length).toBeGreaterThanOrEqual(15);
      for (const t of tensors) expect(chooseType(RECIPE_TABLE[recipe], { ...t, layers }).type, t.name).toBe(t.type);
    });
  }
});

// ---- the pass on the source models ----

/** The F32 model llama.cpp quantized each quant-mini file from, rebuilt by the shared generator. */
let scratch = '';
let quantMini = '';
const haveGenerator = hasShared('bench', 'make-synthetic.mjs');
// Without the data the tests below are skipped with a printed reason (hasShared; under CI it throws).
if (haveGenerator) beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'tessera-recipes-'));
  quantMini = join(scratch, 'quant-mini.bin');
  const made = spawnSync(process.execPath, [sharedPath('bench', 'make-synthetic.mjs'), 'quant-mini', quantMini], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`make-synthetic.mjs quant-mini failed: ${made.stderr}`);
});
afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** llama.cpp's name for a tensor of the llama2.c generator (Meta names). */
function ggufName(leaf: string): string {
  if (leaf === 'tok_embeddings.weight') return 'token_embd.weight';
  const m = /^layers\.(\d+)\.(attention|feed_forward)\.(\w+)\.weight$/.exec(leaf);
  const role: Record<string, string> = { wq: 'attn_q', wk: 'attn_k', wv: 'attn_v', wo: 'attn_output', w1: 'ffn_gate', w3: 'ffn_up', w2: 'ffn_down' };
  return m && role[m[3]] ? `blk.${m[1]}.${role[m[3]]}.weight` : leaf;
}

/** Each quantized parameter's type, by the llama.cpp name of the tensor it reads. */
function quantizedTypes(g: Graph, toGguf: (leaf: string) => string): Map<string, string> {
  const types = new Map<string, string>();
  for (const p of g.params) {
    if (!isQuantized(p.type.dtype) || p.def.kind !== 'param') continue;
    const leaves = weightLeaves(p.def.source);
    expect(leaves.length, p.name).toBe(1);
    types.set(toGguf(leaves[0]), dtypeInfo(p.type.dtype).ggml!.name.toLowerCase());
  }
  return types;
}

describe('the quantize pass on the source model gives each weight the type llama-quantize gave it', () => {
  for (const [file, recipe] of Object.entries(FILES)) {
    const tiny = file.startsWith('TinyStories');
    const source = tiny ? sharedPath('models', 'tinystories-656k', 'TinyStories-656K.f16.gguf') : undefined;
    const have = hasShared(...QUANT, file) && (tiny ? hasShared('models', 'tinystories-656k', 'TinyStories-656K.f16.gguf') : haveGenerator);
    // A recipe is offered once every type it may choose is a writable dtype (ir/dtype.ts).
    it.skipIf(!have || !isRecipeName(recipe))(`${file}: quantize{recipe=${recipe}, heads=true}${isRecipeName(recipe) ? '' : ` (skipped: ${recipe} needs a dtype row not written yet)`}`, () => {
      const g = Model.load(source ?? quantMini).graph({ logits: 'all' });
      const run = runPipeline(g, `quantize{recipe=${recipe}, heads=true}`);
      const got = quantizedTypes(run.graph, tiny ? (n) => n : ggufName);
      const want = fileTensors(new GgufStore(sharedPath(...QUANT, file)));
      expect([...got.keys()].sort()).toEqual(want.map((t) => t.name).sort());
      for (const t of want) expect(got.get(t.name), t.name).toBe(t.type);
    });
  }
});

// The roles come from parameter names; if a builder or a merging pass renamed its parameters, the
// mixes would silently treat every weight alike. Every matmul weight of a real model must have a
// role and a layer, as built and after the passes that rename.
describe('every matmul weight has a role and a layer, before and after the renaming passes', () => {
  const model = ['models', 'stories260K', 'stories260K.bin'];
  const separate: WeightRole[] = ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down'];
  const merged: WeightRole[] = ['attn_qkv', 'attn_output', 'ffn_gate', 'ffn_down'];
  // rmsnorm-matmul first leaves nothing for qkv-merge to merge (l0.wq.normed, …).
  const cases: [string, WeightRole[]][] = [['none', separate], ['qkv-merge,rmsnorm-matmul', merged], ['rmsnorm-matmul,qkv-merge', separate]];
  for (const [pipeline, want] of cases) {
    it.skipIf(!hasShared(...model))(pipeline, () => {
      const g = runPipeline(Model.load(sharedPath(...model)).graph({ logits: 'all' }), pipeline === 'none' ? [] : pipeline).graph;
      const roles = new Map<string, WeightRole>();
      for (const n of g.nodes) {
        const at = projectionOf(n.op)?.weight;
        const w = at === undefined ? undefined : n.inputs[at];
        if (!w || w.def.kind !== 'param' || w.name === 'embed') continue; // the tied head reads the table
        roles.set(w.name, weightRole(w.name));
        expect(layerOf(w.name), w.name).toBeTypeOf('number');
      }
      expect([...new Set(roles.values())].sort()).toEqual([...want].sort());
      expect(roles.size).toBe(5 * want.length);
    });
  }
});

describe('the pass counts what the recipe did', () => {
  const tiny = ['models', 'tinystories-656k', 'TinyStories-656K.f16.gguf'];
  it.skipIf(!hasShared(...tiny) || !isRecipeName('q4_k_m'))(`q4_k_m on TinyStories-656K: every weight falls back, two are promoted${isRecipeName('q4_k_m') ? '' : ' (skipped: q4_k is not a dtype row yet)'}`, () => {
    const run = runPipeline(Model.load(sharedPath(...tiny)).graph({ logits: 'all' }), 'quantize{recipe=q4_k_m, heads=true}');
    const stats = run.records[0].stats;
    // 2 layers × 7 projections and the tied head's copy, all on 128-wide rows; l1.wv and l1.w_down are use_more_bits layers.
    expect(stats['weights-quantized']).toBe(14);
    expect(stats['tied-heads-copied']).toBe(1);
    expect(stats['shape-fallbacks']).toBe(15);
    expect(stats['weights-promoted']).toBe(2);
  });
});

// The mixes' per-layer rules as llama.cpp's llama_tensor_get_type writes them (src/llama-quant.cpp,
// dense llama-type models, no importance matrix), spelled out as literal layer lists for the
// TinyLlama-1.1B shape (22 layers) and stories110M (12): use_more_bits is the first and last eighth
// of the layers (C integer division) and every third layer between them.
describe('the choice table for 22- and 12-layer models, rows of 2048', () => {
  const moreBits: Record<number, number[]> = { 22: [0, 1, 4, 7, 10, 13, 16, 19, 20, 21], 12: [0, 3, 6, 9, 10, 11] };
  const typesOver = (recipe: string, role: WeightRole, layers: number, rowLength = 2048) =>
    Array.from({ length: layers }, (_, layer) => chooseType(RECIPE_TABLE[recipe], { role, layer, layers, rowLength }).type);
  const promoted = (types: string[], to: string) => types.flatMap((t, i) => (t === to ? [i] : []));

  for (const layers of [22, 12]) {
    it(`${layers} layers: q4_k_m and q5_k_m give attn_v, a fused qkv and ffn_down Q6_K on use_more_bits layers only`, () => {
      for (const [recipe, base] of [['q4_k_m', 'q4_k'], ['q5_k_m', 'q5_k']]) {
        for (const role of ['attn_v', 'attn_qkv', 'ffn_down'] as const) {
          const types = typesOver(recipe, role, layers);
          expect(promoted(types, 'q6_k'), `${recipe} ${role}`).toEqual(moreBits[layers]);
          expect(new Set(types.filter((t) => t !== 'q6_k')), `${recipe} ${role}`).toEqual(new Set([base]));
        }
        for (const role of ['attn_q', 'attn_k', 'attn_output', 'ffn_gate', 'ffn_up', 'token_embd'] as const) {
          expect(new Set(typesOver(recipe, role, layers)), `${recipe} ${role}`).toEqual(new Set([base]));
        }
        expect(chooseType(RECIPE_TABLE[recipe], { role: 'output', layers, rowLength: 2048 }).type).toBe('q6_k');
      }
    });
  }

  it('q3_k_m, q3_k_l, q4_k_s: the attn_v, ffn_down and attn_output rules', () => {
    const n = 22;
    expect(promoted(typesOver('q3_k_m', 'attn_v', n), 'q5_k')).toEqual([0, 1]);
    expect(new Set(typesOver('q3_k_m', 'attn_v', n).slice(2))).toEqual(new Set(['q4_k']));
    expect(promoted(typesOver('q3_k_m', 'ffn_down', n), 'q5_k')).toEqual([0]); // n/16 = 1
    expect(new Set(typesOver('q3_k_m', 'ffn_down', n).slice(1))).toEqual(new Set(['q4_k']));
    expect(new Set(typesOver('q3_k_m', 'attn_output', n))).toEqual(new Set(['q4_k']));
    expect(new Set(typesOver('q3_k_m', 'attn_q', n))).toEqual(new Set(['q3_k']));
    for (const role of ['attn_v', 'ffn_down', 'attn_output'] as const) expect(new Set(typesOver('q3_k_l', role, n))).toEqual(new Set(['q5_k']));
    expect(promoted(typesOver('q4_k_s', 'attn_v', n), 'q5_k')).toEqual([0, 1, 2, 3]);
    expect(promoted(typesOver('q4_k_s', 'ffn_down', n), 'q5_k')).toEqual([0, 1]); // n/8 = 2
    expect(new Set(typesOver('q3_k_s', 'attn_v', n))).toEqual(new Set(['q3_k']));
  });

  it('rows that are not whole super-blocks fall back as tensor_type_fallback does; the head to Q8_0', () => {
    const at = (recipe: string, role: WeightRole, layer: number) => chooseType(RECIPE_TABLE[recipe], { role, layer, layers: 22, rowLength: 2048 + 32 });
    expect(at('q4_k_m', 'attn_q', 5)).toEqual({ type: 'q5_0', promoted: false, fellBack: true });
    expect(at('q4_k_m', 'attn_v', 0)).toEqual({ type: 'q8_0', promoted: true, fellBack: true });
    expect(at('q5_k_m', 'ffn_gate', 5).type).toBe('q5_1');
    expect(at('q3_k_m', 'attn_q', 5).type).toBe('q4_0');
    expect(at('iq4_xs', 'attn_q', 5).type).toBe('iq4_nl');
    expect(chooseType(RECIPE_TABLE.q4_k_m, { role: 'output', layers: 22, rowLength: 2080 }).type).toBe('q8_0');
    // A pure 32-element type needs no fallback.
    expect(at('q4_0', 'attn_q', 5)).toEqual({ type: 'q4_0', promoted: false, fellBack: false });
  });
});

// compile --quantize runs the recipe first, as llama-quantize sees the checkpoint: the default
// passes' merges then join only weights of one type, so every tensor keeps llama.cpp's type.
describe('quantize first, then the default passes: the types of llama-quantize survive the merges', () => {
  const file = 'quant-mini-Q4_K_M.gguf';
  it.skipIf(!hasShared(...QUANT, file) || !haveGenerator)(`${file}: quantize{recipe=q4_k_m, heads=true, tables=true},default`, () => {
    const g = runPipeline(Model.load(quantMini).graph({ logits: 'all' }), 'quantize{recipe=q4_k_m, heads=true, tables=true},default').graph;
    const got = new Map<string, string>();
    for (const p of g.params) {
      if (p.def.kind !== 'param' || !isQuantized(p.type.dtype)) continue;
      // A merged weight reads several leaves, each stored in the merged weight's type.
      for (const leaf of weightLeaves(p.def.source)) got.set(ggufName(leaf), dtypeInfo(p.type.dtype).ggml!.name.toLowerCase());
    }
    const want = fileTensors(new GgufStore(sharedPath(...QUANT, file)));
    expect([...got.keys()].sort()).toEqual(want.map((t) => t.name).sort());
    for (const t of want) expect(got.get(t.name), t.name).toBe(t.type);
    // Some merges still happen (Q and K of every layer share a type).
    expect(g.params.some((p) => /wq_k/.test(p.name))).toBe(true);
  });
});
