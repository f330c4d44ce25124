// generate, logits and info through the CLI entry point, in process.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseGraph } from '../../ir/parser.js';
import { printGraph } from '../../ir/printer.js';
import { main } from '../../src/cli.js';
import { hasShared, sharedPath } from '../helpers/shared.js';

async function cli(...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) }, cwd: process.cwd(), env: process.env });
  return { code, stdout, stderr };
}

describe.runIf(hasShared('models', 'stories260K'))('model commands', () => {
  const bin = sharedPath('models', 'stories260K', 'stories260K.bin');

  it('generate streams only text to stdout and statistics to stderr', async () => {
    const golden = JSON.parse(readFileSync(sharedPath('golden', 'stories260K-llama2c.json'), 'utf8')).cases[0];
    const r = await cli('generate', '-m', bin, '-p', golden.prompt, '-n', '30');
    expect(r.code).toBe(0);
    expect(golden.text.startsWith(r.stdout.trimEnd())).toBe(true);
    expect(r.stdout.length).toBeGreaterThan(golden.prompt.length + 50);
    expect(r.stderr).toMatch(/prefill \d+ tokens: [\d.]+ tok\/s · decode 30 tokens: [\d.]+ tok\/s · first token \d+ ms after opening · stop: max_tokens/);
  });

  it('the same seed gives the same sampled text; stop sequences cut the text', async () => {
    const args = ['generate', '-m', bin, '-p', 'Once', '-n', '40', '-t', '0.9', '--top-p', '0.95', '--top-k', '40'];
    const a = await cli(...args, '--seed', '7');
    const b = await cli(...args, '--seed', '7');
    expect(a.stdout).toBe(b.stdout);
    const stopped = await cli('generate', '-m', bin, '-p', 'Once upon a time', '-n', '100', '--stop', 'Lily');
    expect(stopped.stdout).not.toMatch(/Lily/);
    expect(stopped.stderr).toMatch(/stop: stop/);
  });

  it('logits writes JSON or raw f32 of shape [S, vocab]', async () => {
    const r = await cli('logits', '-m', bin, '--ids', '1,403,407');
    const json = JSON.parse(r.stdout);
    expect(json.shape).toEqual([3, 512]);
    const out = join(mkdtempSync(join(tmpdir(), 'tessera-')), 'l.bin');
    await cli('logits', '-m', bin, '--ids', '1,403,407', '-o', out);
    const raw = new Float32Array(readFileSync(out).buffer.slice(0));
    expect(raw.length).toBe(3 * 512);
    expect(raw[512 + 5]).toBeCloseTo(json.logits[1][5], 5);
  });

  it('info describes the model', async () => {
    const r = await cli('info', '-m', bin);
    expect(r.stdout).toMatch(/llama2\.c v0 — llama decoder/);
    expect(r.stdout).toMatch(/5 layers · hidden 64 · 8 heads \(4 kv\)/);
    const j = JSON.parse((await cli('info', '-m', bin, '--json')).stdout);
    expect(j.parameters).toBeGreaterThan(200_000);
  });

  it('dump --model prints the step graph, which parses back to the same text', async () => {
    const r = await cli('dump', '-m', bin, '--logits', 'last');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^graph @llama<S, P>\(%tokens: i32\[S\], %pos: i32\[S\], state %k\.0: f32\[P, 4, 8\]/);
    expect(printGraph(parseGraph(r.stdout))).toBe(r.stdout);
    const dot = await cli('dump', '-m', bin, '--format', 'dot');
    expect(dot.stdout).toMatch(/^digraph "llama" \{/);
    expect((await cli('dump')).stderr).toMatch(/give either a graph file or --model PATH/);
    const stats = await cli('dump', '-m', bin, '--passes', 'default', '--stats');
    expect(stats.stderr).toMatch(/^op +before +after +Δ$/m);
    expect(stats.stderr).toMatch(/^attention +5 +0 +-5$/m);
    expect(stats.stderr).toMatch(/^flash_attention +0 +5 +\+5$/m);
  });

  it('bad input gets a clear message and a non-zero exit', async () => {
    expect((await cli('generate', '-m', bin, '-p', 'x', '-t', 'hot')).stderr).toMatch(/--temperature must be a number, got 'hot'/);
    expect((await cli('logits', '-m', bin, '--ids', '1,x')).stderr).toMatch(/item 2 \('x'\) is not a token id/);
    expect((await cli('logits', '-m', bin, '--ids', '1,9999')).stderr).toMatch(/token id 9999 is outside the vocabulary \[0, 512\)/);
    const missing = await cli('info', '-m', '/nonexistent/model.bin');
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toBe('tessera info: /nonexistent/model.bin: no such file or directory\n');
  });
});
