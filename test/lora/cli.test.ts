// --lora through the CLI entry point, in process: info describes the shared adapter (and checks it
// against a model), logits merges it at load, compile bakes it into an artifact whose logits are
// the merged model's; a misfit adapter is a one-line error.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { Model } from '../../src/model.js';
import { maxAbsDiff } from '../helpers/refs.js';
import { hasShared, sharedPath } from '../helpers/shared.js';

async function cli(...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) }, cwd: process.cwd(), env: process.env });
  return { code, stdout, stderr };
}

const ADAPTER = ['models', 'lora', 'tinystories-656k-r8'] as const;
const GGUF = ['models', 'tinystories-656k', 'TinyStories-656K.f16.gguf'] as const;

it('every decoder command and compile take --lora', async () => {
  for (const command of ['generate', 'chat', 'logits', 'serve', 'compile', 'info']) {
    const r = await cli('help', command);
    expect(r.stdout, command).toMatch(/--lora PATH/);
  }
});

describe.runIf(hasShared(...ADAPTER) && hasShared(...GGUF))('--lora on the command line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-lora-cli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const adapter = () => sharedPath(...ADAPTER, 'adapter.gguf');
  const model = () => sharedPath(...GGUF);
  const ids = [1, 80, 147, 201];

  it('info --lora lists format, rank, alpha and targets; --json too', async () => {
    const r = await cli('info', '--lora', adapter());
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/format: +GGUF \(llama\.cpp\), for llama/);
    expect(r.stdout).toMatch(/rank: +8\n +alpha: +16\n +targets: +14 tensors: attn_q\.weight, attn_k\.weight, attn_v\.weight, attn_output\.weight, ffn_gate\.weight, ffn_up\.weight, ffn_down\.weight/);
    const j = await cli('info', '--lora', sharedPath(...ADAPTER, 'peft'), '--json');
    const info = JSON.parse(j.stdout) as { format: string; ranks: number[]; alpha: number; targets: { tensor: string; factor: number }[] };
    expect([info.format, info.ranks, info.alpha, info.targets.length]).toEqual(['peft', [8], 16, 14]);
    expect(info.targets[0]).toMatchObject({ tensor: 'model.layers.0.self_attn.q_proj.weight', factor: 2 });
  });

  it('info -m with --lora checks the fit: the GGUF adapter on the HF model is refused', async () => {
    const r = await cli('info', '-m', sharedPath('models', 'tinystories-656k'), '--lora', adapter());
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/adapter\.gguf: a GGUF LoRA adapter names llama\.cpp's tensors, but .* is an HF checkpoint/);
  });

  it('logits --lora PATH:SCALE equals the API, and compile --lora bakes the same model into an artifact', async () => {
    const want = await Model.load(model(), { lora: [{ path: adapter(), scale: 0.5 }] }).logits(ids);
    const out = join(dir, 'logits.bin');
    expect((await cli('logits', '-m', model(), '--lora', `${adapter()}:0.5`, '--ids', ids.join(','), '-o', out, '--backend', 'reference')).code).toBe(0);
    const got = new Float32Array(readFileSync(out).buffer.slice(0));
    expect(maxAbsDiff(got, want)).toBe(0);

    const art = join(dir, 'artifact');
    const c = await cli('compile', '-m', model(), '--lora', `${adapter()}:0.5`, '-o', art, '--target', 'none', '--passes', 'none', '-q');
    expect(c.code, c.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(art, 'manifest.json'), 'utf8')).passes).toBe(`lora-merge{adapter=${JSON.stringify(adapter())},scale=0.5}`);
    const compiled = Model.load(art);
    expect(maxAbsDiff(await compiled.logits(ids), want)).toBe(0);
    // The artifact already holds merged weights.
    expect(() => Model.load(art, { lora: [{ path: adapter() }] })).toThrow(/a compiled artifact already has its weights; LoRA adapters are merged when compiling/);
  });
});
