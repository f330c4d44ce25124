// `tessera compile --quantize RECIPE`: the choices are the quantize pass's recipes, a bad one is a
// usage error listing them, and a good one runs the pass with that recipe (the artifact's manifest
// records the pipeline and the weights' types).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isRecipeName, RECIPE_NAMES } from '../../passes/quantize-recipes.js';
import { main } from '../../src/cli.js';
import { hasShared, sharedPath } from '../helpers/shared.js';

async function cli(argv: readonly string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) }, cwd: process.cwd(), env: process.env });
  return { code, stdout, stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'tessera-quantize-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The param types of an artifact's stored decode graph, by param name. */
function paramTypes(out: string): Map<string, string> {
  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { passes: string; graphs: Record<string, { params: { name: string; type: { dtype: string } }[] }> };
  return new Map(Object.values(manifest.graphs)[0].params.map((p) => [p.name, p.type.dtype]));
}

describe('compile --quantize', () => {
  it('refuses a name that is not a recipe, listing the recipes (exit 2)', async () => {
    const r = await cli(['compile', '-m', 'whatever.bin', '-o', join(dir, 'never'), '--quantize', 'q4_k_x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--quantize/);
    for (const name of RECIPE_NAMES) expect(r.stderr).toContain(name);
    expect(r.stdout).toBe('');
  });

  const model = ['models', 'stories260K', 'stories260K.bin'];
  it.skipIf(!hasShared(...model))('q4_0: every matmul weight and the tied table in Q4_0, held once, the pipeline recorded', async () => {
    const out = join(dir, 'q4_0');
    const r = await cli(['compile', '-m', sharedPath(...model), '-o', out, '--target', 'none', '--quantize', 'q4_0', '-q']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')).passes).toMatch(/^quantize\{recipe=q4_0,heads=true,tables=true\},default$/);
    const types = paramTypes(out);
    // 5 layers × (qkv and gate-up merged by the default passes, wo, w_down), and the table the
    // head is tied to, quantized in place as llama-quantize quantizes a tied token_embd.
    expect([...types].filter(([, t]) => t === 'q4_0').length).toBe(5 * 4 + 1);
    expect(types.get('embed')).toBe('q4_0');
    expect([...types.keys()].filter((n) => n.startsWith('embed'))).toEqual(['embed']);
  });

  const adapter = ['models', 'lora', 'tinystories-656k-r8', 'adapter.gguf'];
  const ggufModel = ['models', 'tinystories-656k', 'TinyStories-656K.f16.gguf'];
  it.skipIf(!hasShared(...adapter) || !hasShared(...ggufModel))('with --lora, adapters are merged before the recipe quantizes', async () => {
    const out = join(dir, 'lora-q8_0');
    const r = await cli(['compile', '-m', sharedPath(...ggufModel), '--lora', sharedPath(...adapter), '-o', out, '--target', 'none', '--quantize', 'q8_0', '-q']);
    expect(r.code).toBe(0);
    expect(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')).passes).toMatch(/^lora-merge\{[^}]*\},quantize\{recipe=q8_0,heads=true,tables=true\},default$/);
  });

  // TinyStories' 128-wide rows: Q4_K_M's K-quants fall back to Q5_0, its Q6_K layers to Q8_0.
  const tiny = ['models', 'tinystories-656k', 'TinyStories-656K.f16.gguf'];
  it.skipIf(!hasShared(...tiny) || !isRecipeName('q4_k_m'))(`q4_k_m: llama.cpp's mix, with its fallbacks for 128-wide rows${isRecipeName('q4_k_m') ? '' : ' (skipped: q4_k is not a dtype row yet)'}`, async () => {
    const out = join(dir, 'q4_k_m');
    const r = await cli(['compile', '-m', sharedPath(...tiny), '-o', out, '--target', 'none', '--passes', 'none', '--quantize', 'q4_k_m', '-q']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const types = paramTypes(out);
    expect(types.get('l0.wv')).toBe('q5_0');
    expect(types.get('l1.wv')).toBe('q8_0');
    expect(types.get('l1.w_down')).toBe('q8_0');
    expect(types.get('l1.wq')).toBe('q5_0');
  });
});
