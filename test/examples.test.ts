// The scripts in examples/ run as a user runs them (`node examples/x.mjs` from the repository
// root, against the built dist/ that `npm test` builds first) and print what they promise.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasShared, SHARED_DIR } from './helpers/shared.js';

const ROOT = resolve(__dirname, '..');

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function runExample(name: string, args: readonly string[] = [], env: Record<string, string> = {}): Promise<Run> {
  if (!existsSync(resolve(ROOT, 'dist', 'src', 'index.js'))) throw new Error('dist/ is missing: build first (npx tsc -p tsconfig.json; npm test does)');
  return new Promise((done) => {
    execFile(process.execPath, [`examples/${name}`, ...args], {
      cwd: ROOT,
      env: { ...process.env, TESSERA_SHARED: SHARED_DIR, ...env },
      timeout: 150_000,
      maxBuffer: 16 << 20,
    }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

function expectOk(r: Run): void {
  expect(r.code, `exit code; stderr:\n${r.stderr.slice(-3000)}\nstdout:\n${r.stdout.slice(-2000)}`).toBe(0);
}

describe.runIf(hasShared('models'))('examples/', () => {
  it('generate.mjs streams a story and says which backend ran it', async () => {
    const r = await runExample('generate.mjs', ['Once upon a time', '24']);
    expectOk(r);
    expect(r.stdout.startsWith('Once upon a time')).toBe(true);
    // 24 sampled tokens of TinyStories English: some words beyond the prompt.
    expect(r.stdout.trim().split(/\s+/).length).toBeGreaterThan(8);
    expect(r.stderr).toMatch(/^backend: (wasm|webgpu): /m);
    expect(r.stderr).toMatch(/^\d+ tokens, prefill \d+ tok\/s, decode \d+ tok\/s, stop: (max_tokens|eos)$/m);
  }, 180_000);

  it('logits.mjs prints the top 5 next tokens at every position', async () => {
    const r = await runExample('logits.mjs');
    expectOk(r);
    const lines = r.stdout.trim().split('\n');
    // BOS + "Once upon a time" is 5 tokens in the 512-token llama2.c vocabulary.
    expect(lines).toHaveLength(5);
    for (const [s, line] of lines.entries()) {
      expect(line).toMatch(new RegExp(`^${s}\\t\\d+ ".*"\\t→ `));
      const cells = line.split('→ ')[1].split(' | ');
      expect(cells).toHaveLength(5);
      const probs = cells.map((c) => Number(c.slice(c.lastIndexOf(' ') + 1)));
      expect(probs.every((p) => p >= 0 && p <= 1)).toBe(true);
      expect([...probs].sort((a, b) => b - a)).toEqual(probs);
    }
    // The model has learnt its stories' first line.
    expect(lines[1]).toMatch(/→ \d+ " upon" /);
    expect(lines[3]).toMatch(/→ \d+ " time" /);
  }, 180_000);

  it.runIf(hasShared('refs', 'bert'))('embed.mjs prints unit vectors and their cosine similarities', async () => {
    const r = await runExample('embed.mjs');
    expectOk(r);
    const rows = [...r.stdout.matchAll(/^row (\d): dim 64, norm ([\d.]+),/gm)];
    expect(rows.map((m) => m[1])).toEqual(['0', '1', '2']);
    for (const m of rows) expect(Number(m[2])).toBeCloseTo(1, 3);
    const cos = [...r.stdout.matchAll(/^cosine\(row 0, row (\d)\) = (-?[\d.]+)$/gm)].map((m) => Number(m[2]));
    expect(cos).toHaveLength(2);
    for (const c of cos) expect(Math.abs(c)).toBeLessThanOrEqual(1);
    // Rows 0 and 1 differ in one id of five; row 2 shares only its first and last ids with row 0.
    expect(cos[0]).toBeGreaterThan(cos[1]);
  }, 180_000);

  it('compile-and-run.mjs compiles an artifact, opens it and generates', async () => {
    const r = await runExample('compile-and-run.mjs');
    expectOk(r);
    expect(r.stdout).toMatch(/^compiled into .+ for webgpu \+ wasm: \d+ tensors/m);
    expect(r.stdout).toMatch(/^files: .*cpu\.wasm.*manifest\.json.*weights\.bin/m);
    expect(r.stdout).toMatch(/^compiled artifact: true$/m);
    const story = r.stdout.trim().split('\n').at(-1)!;
    expect(story.startsWith('Once upon a time')).toBe(true);
    expect(story.length).toBeGreaterThan('Once upon a time'.length + 30);
    expect(r.stderr).toMatch(/^backend: (wasm|webgpu): /m);
  }, 180_000);
});
