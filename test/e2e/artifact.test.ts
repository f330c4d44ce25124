// Compiled artifacts: they load in a fresh process without the compiler and give the same
// tokens and logits as the uncompiled model; stale, truncated or tampered ones are refused.
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ARTIFACT_VERSION } from '../../codegen/artifact/manifest.js';
import { compile } from '../../src/compile.js';
import { Model } from '../../src/model.js';
import { webgpuIfAdapter } from '../helpers/gpu.js';
import { maxAbsDiff, refDecoders } from '../helpers/refs.js';
import { hasShared, sharedPath } from '../helpers/shared.js';

const CLI = resolve(__dirname, '../../bin/tessera.js');

/** Runs the built CLI in a new process that is forbidden to compile anything. */
function runNoCompiler(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, TESSERA_FORBID_COMPILER: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Refs decoders this file leaves out of its reference-backend round trip, to keep its time down,
 * each with the sibling that exercises the same artifact contents here; artifact-backends.test.ts
 * still compiles and runs every one of them (wasm and webgpu, fresh process, compiler forbidden).
 */
const COVERED_ELSEWHERE: Readonly<Record<string, string>> = {
  llama3: 'llama covers the layout; only the RoPE attributes differ (phi3_longrope covers scaled RoPE)',
  phi3: 'phi3_longrope has the same fused qkv_proj / gate_up_proj checkpoint layout',
  gemma: "gemma2 has gemma's (1 + w) norms, embedding scale and head_dim ≠ hidden / heads",
};

async function compiled(model: string, passes = 'none'): Promise<string> {
  const out = mkdtempSync(join(tmpdir(), 'tessera-art-'));
  await compile(model, { out, passes, targets: [] });
  return out;
}

describe.runIf(hasShared('models') && hasShared('refs'))('compiled artifacts', () => {
  const cases: [string, string][] = [
    ['stories260K', sharedPath('models', 'stories260K', 'stories260K.bin')],
    ['tinystories-656k', sharedPath('models', 'tinystories-656k')],
    ['tinystories Q8_0 GGUF', sharedPath('models', 'tinystories-656k', 'TinyStories-656K-Q8_0.gguf')],
    ...refDecoders().filter((a) => !(a in COVERED_ELSEWHERE)).map((a): [string, string] => [a, sharedPath('refs', a)]),
  ];
  it('leaves out only decoders that are in ../shared/refs', () => {
    expect(Object.keys(COVERED_ELSEWHERE).filter((a) => !refDecoders().includes(a))).toEqual([]);
  });

  for (const [name, path] of cases) {
    it(`${name}: a fresh process without the compiler gives the same logits and greedy text`, async () => {
      const dir = await compiled(path);
      const source = Model.load(path);
      const ids = [1, 5, 9, 14, 3, 7].map((i) => i % source.config.vocabSize);
      const want = await source.logits(ids);
      const r = runNoCompiler('logits', '-m', dir, '--ids', ids.join(','), '--backend', 'reference');
      expect(r.stderr).not.toMatch(/compiler was invoked|internal error/);
      expect(r.code).toBe(0);
      const got = Float32Array.from((JSON.parse(r.stdout).logits as number[][]).flat());
      expect(maxAbsDiff(got, want)).toBeLessThan(1e-5);
      if (source.source.tokenizerPath) {
        const a = runNoCompiler('generate', '-m', dir, '-p', 'Once upon a time', '-n', '16', '--backend', 'reference');
        expect(a.code).toBe(0);
        // The artifact knows its source's conventions (llama2.c stops at BOS, not the tokenizer's EOS).
        expect(a.stderr).not.toMatch(/the tokenizer's (BOS|EOS) id is/);
        let text = 'Once upon a time';
        for await (const t of source.generate('Once upon a time', { maxTokens: 16 })) text += t.text;
        expect(a.stdout.trimEnd()).toBe(text.trimEnd());
      }
      rmSync(dir, { recursive: true });
    });
  }

  it('info and dump read artifacts without compiling', async () => {
    const dir = await compiled(sharedPath('refs', 'qwen2'));
    const info = runNoCompiler('info', '-m', dir);
    expect(info.code).toBe(0);
    expect(info.stdout).toMatch(/\(artifact\)\narchitecture: Qwen2ForCausalLM — qwen2 decoder/);
    const dump = runNoCompiler('dump', '-m', dir, '--logits', 'last');
    expect(dump.code).toBe(0);
    expect(dump.stdout).toMatch(/^graph @qwen2<S, P>/);
    rmSync(dir, { recursive: true });
  });

  it('an artifact runs only the kernels it was compiled with', async () => {
    const dir = await compiled(sharedPath('refs', 'llama'));
    await expect(Model.open(dir, { backend: 'wasm' })).rejects.toThrow(/was compiled for no kernel target, not wasm: compile again with --target wasm/);
    const auto = await Model.open(dir, { backend: 'auto' });
    expect(auto.executor.backend).toBe('reference');
    expect(auto.backendReason).toMatch(/the artifact has no (wasm|webgpu) kernels/);
    await auto.dispose();
    rmSync(dir, { recursive: true });
  });

  it('the guard really stops the compiler', () => {
    const r = runNoCompiler('logits', '-m', sharedPath('refs', 'llama'), '--ids', '1,2', '--backend', 'reference');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/the compiler was invoked \(building the llama graph\)/);
  });

  it('an artifact compiled for wasm and webgpu runs on both in a fresh process, with the golden text', async () => {
    const golden = JSON.parse(readFileSync(sharedPath('golden', 'stories260K-llama2c.json'), 'utf8')).cases[0];
    const out = mkdtempSync(join(tmpdir(), 'tessera-art-'));
    const summary = await compile(sharedPath('models', 'stories260K', 'stories260K.bin'), { out, passes: 'none', targets: ['wasm', 'webgpu'], maxChunk: 16 });
    expect(summary.kernelFiles).toBeGreaterThan(5);
    const backends = ['wasm', ...(await webgpuIfAdapter('the wasm + webgpu artifact test'))];
    for (const backend of backends) {
      const r = runNoCompiler('generate', '-m', out, '-p', golden.prompt, '-n', '60', '--backend', backend);
      expect(r.stderr).not.toMatch(/compiler was invoked|internal error/);
      expect(r.code, `${backend}: ${r.stderr}`).toBe(0);
      expect(golden.text.startsWith(r.stdout.trimEnd()), `${backend} wrote:\n${r.stdout}`).toBe(true);
      expect(r.stdout.length, backend).toBeGreaterThan(150);
    }
    rmSync(out, { recursive: true });
  }, 300_000);

  it('optimised artifacts (default passes) match too', async () => {
    const dir = await compiled(sharedPath('refs', 'gemma2'), 'default');
    const a = await Model.load(dir).logits([3, 4, 5]);
    const b = await Model.load(sharedPath('refs', 'gemma2')).logits([3, 4, 5]);
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-4);
  });

  it('stale, truncated and tampered artifacts are refused with a clear message', async () => {
    const dir = await compiled(sharedPath('refs', 'llama'));
    const manifest = join(dir, 'manifest.json');
    const original = readFileSync(manifest, 'utf8');
    writeFileSync(manifest, original.replace(`"version": ${ARTIFACT_VERSION}`, '"version": 99'));
    expect(() => Model.load(dir)).toThrow(new RegExp(`artifact format version 99 is not the one this Tessera reads \\(${ARTIFACT_VERSION}\\): recompile it`));
    writeFileSync(manifest, original);
    const weights = join(dir, 'weights.bin');
    const bytes = readFileSync(weights);
    bytes[100] ^= 0xff;
    writeFileSync(weights, bytes);
    expect(() => Model.load(dir)).toThrow(/weights\.bin does not match its checksum/);
    truncateSync(weights, 1000);
    expect(() => Model.load(dir)).toThrow(/weights\.bin has 1000 bytes, the manifest says \d+ \(truncated/);
    appendFileSync(manifest, 'garbage');
    expect(() => Model.load(dir)).toThrow(/manifest\.json cannot be read/);
    unlinkSync(manifest);
    expect(() => Model.load(dir)).toThrow();
  });
});
