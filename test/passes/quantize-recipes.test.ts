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
