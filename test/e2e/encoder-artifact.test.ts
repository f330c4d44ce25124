// Compiled encoder artifacts (BERT embeddings, the BERT cross-encoder): they load in a fresh
// process with the compiler forbidden, on every compiled backend, and give transformers' numbers
// and the uncompiled path's; the public API takes them too; tampered ones are refused.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACT_VERSION } from '../../codegen/artifact/manifest.js';
import { compile, type CompileOptions } from '../../src/compile.js';
import { Encoder } from '../../src/encoder.js';
import { copyCheckpoint, writeBertTokenizer } from '../helpers/encoder-fixtures.js';
import { webgpuIfAdapter } from '../helpers/gpu.js';
import { maxAbsDiff, readRef, refModels, type RefModel } from '../helpers/refs.js';
import { hasShared, sharedPath } from '../helpers/shared.js';

const CLI = resolve(__dirname, '../../bin/tessera.js');
const TOL = 1e-4;

/** Runs the built CLI in a new process that is forbidden to compile anything. */
function runNoCompiler(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, TESSERA_FORBID_COMPILER: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The ref's padded rows cut back to their real tokens, as arrays and as --ids / --token-types text. */
function refRows(arch: string) {
  const ref = readRef(arch);
  const n = (ref.json.attention_mask as number[][]).map((m) => m.reduce((s, x) => s + x, 0));
  const ids = ref.inputIds.map((r, b) => r.slice(0, n[b]));
  const tokenTypes = (ref.json.token_type_ids as number[][]).map((r, b) => r.slice(0, n[b]));
  const flag = (rows: number[][]) => rows.map((r) => r.join(',')).join(';');
  return { ids, tokenTypes, idsFlag: flag(ids), typesFlag: flag(tokenTypes) };
}

/** Runs `f` with the compiler forbidden in this process too. */
async function forbidCompiler<T>(f: () => Promise<T>): Promise<T> {
  process.env.TESSERA_FORBID_COMPILER = '1';
  try {
    return await f();
  } finally {
    delete process.env.TESSERA_FORBID_COMPILER;
  }
}

/** How each kind of encoder is run from the CLI, and the reference tensor its output must match. */
const BY_TASK: Record<Exclude<RefModel['task'], 'decoder'>, { readonly command: 'embed' | 'rerank'; readonly ref: string }> = {
  encoder: { command: 'embed', ref: 'mean_pooled_normalized' },
  'cross-encoder': { command: 'rerank', ref: 'scores' },
};

/** Every encoder in ../shared/refs (the tests after the first use bert and bert_reranker by name). */
const CASES = refModels().flatMap(({ name, task }) => (task === 'decoder' ? [] : [{ arch: name, ...BY_TASK[task] }]));

describe.runIf(hasShared('refs', 'bert') && hasShared('refs', 'bert_reranker'))('compiled encoder artifacts', () => {
  let tmp: string;
  const compiled = async (model: string, name: string, opts: Omit<CompileOptions, 'out'> = {}) => {
    const out = join(tmp, name);
    await compile(model, { out, ...opts });
    return out;
  };
  const dirs: Record<string, string> = {};
  let backends: string[] = [];
  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'tessera-enc-art-'));
    // The default passes and both kernel targets, as `tessera compile` does without options.
    for (const { arch } of CASES) dirs[arch] = await compiled(sharedPath('refs', arch), arch);
    backends = ['reference', 'wasm', ...(await webgpuIfAdapter('compiled encoder artifacts'))];
  }, 180_000);
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  for (const { arch, command, ref } of CASES) {
    it(`${arch}: \`tessera ${command}\` in a fresh process without the compiler matches transformers and the uncompiled path on every backend`, async () => {
      const rows = refRows(arch);
      const want = readRef(arch).tensor(ref).data;
      for (const backend of backends) {
        const r = runNoCompiler(command, '-m', dirs[arch], '--ids', rows.idsFlag, '--token-types', rows.typesFlag, '--backend', backend);
        expect(r.stderr).not.toMatch(/compiler was invoked|internal error/);
        expect(r.code, r.stderr).toBe(0);
        const got = Float32Array.from((JSON.parse(r.stdout) as number[] | number[][]).flat());
        expect(maxAbsDiff(got, want), backend).toBeLessThan(TOL);

        const source = await Encoder.open(sharedPath('refs', arch), { backend: backend as 'reference' | 'wasm' | 'webgpu', passes: 'default' });
        const uncompiled = command === 'embed'
          ? Float32Array.from((await source.embed(rows.ids, { tokenTypes: rows.tokenTypes })).flatMap((v) => Array.from(v)))
          : Float32Array.from(await source.scorePairs(rows.ids, rows.tokenTypes));
        await source.dispose();
        // On the CPU the artifact holds the very program the uncompiled path builds; the
        // interpreter runs the generic pipeline and WebGPU picks kernels for this device instead.
        if (backend === 'wasm') expect(Array.from(got)).toEqual(Array.from(uncompiled));
        else expect(maxAbsDiff(got, uncompiled), backend).toBeLessThan(1e-6);
      }
    }, 300_000);
  }

  it('the API opens artifacts: Encoder.open on a backend and Encoder.load, without the compiler', async () => {
    const rows = refRows('bert');
    const ref = readRef('bert');
    await forbidCompiler(async () => {
      const e = await Encoder.open(dirs.bert, { backend: 'wasm', threads: 1 });
      expect(e.compiled).toBe(true);
      expect(e.backend).toBe('wasm');
      expect(e.info().outputs).toEqual(['last_hidden_state', 'pooler_output', 'mean_pooled', 'embeddings']);
      const raw = await e.embed(rows.ids, { tokenTypes: rows.tokenTypes, normalize: false });
      expect(maxAbsDiff(Float32Array.from(raw.flatMap((v) => Array.from(v))), ref.tensor('mean_pooled').data)).toBeLessThan(TOL);
      const out = await e.run([{ ids: rows.ids[0], tokenTypes: rows.tokenTypes[0] }], { outputs: ['pooler_output'] });
      expect(maxAbsDiff(out.pooler_output.data as Float32Array, ref.tensor('pooler_output').data.subarray(0, 64))).toBeLessThan(TOL);
      await expect(e.run([{ ids: [1, 2] }], { hiddenStates: true })).rejects.toThrow(/returns last_hidden_state, pooler_output, mean_pooled, embeddings only, not hidden states/);
      await e.dispose();
      // One row per pass (no padding) gives the vectors of the whole padded batch.
      const one = await Encoder.open(dirs.bert, { backend: 'wasm', batchSize: 1 });
      const alone = await one.embed(rows.ids, { tokenTypes: rows.tokenTypes, normalize: false });
      expect(maxAbsDiff(Float32Array.from(alone.flatMap((v) => Array.from(v))), Float32Array.from(raw.flatMap((v) => Array.from(v))))).toBeLessThan(1e-6);
      await one.dispose();
      const reranker = Encoder.load(dirs.bert_reranker);
      expect(reranker.hasClassifier).toBe(true);
      const pairs = refRows('bert_reranker');
      const scores = Float32Array.from(await reranker.scorePairs(pairs.ids, pairs.tokenTypes));
      expect(maxAbsDiff(scores, readRef('bert_reranker').tensor('scores').data)).toBeLessThan(TOL);
    });
  }, 120_000);

  it('info and dump read encoder artifacts without compiling; the guard stops the uncompiled path', () => {
    const info = runNoCompiler('info', '-m', dirs.bert_reranker);
    expect(info.code, info.stderr).toBe(0);
    expect(info.stdout).toMatch(/\(artifact\)\narchitecture: BertForSequenceClassification — bert cross-encoder/);
    const dump = runNoCompiler('dump', '-m', dirs.bert);
    expect(dump.code, dump.stderr).toBe(0);
    expect(dump.stdout).toMatch(/^graph @bert<B, S>/);
    const source = runNoCompiler('embed', '-m', sharedPath('refs', 'bert'), '--ids', '1,2');
    expect(source.code).not.toBe(0);
    expect(source.stderr).toMatch(/the compiler was invoked \(building the bert graph\)/);
  });

  it('text reranking with the tokenizer the artifact carries', async () => {
    const model = copyCheckpoint(sharedPath('refs', 'bert_reranker'), join(tmp, 'reranker-tok'), (n) => n);
    writeBertTokenizer(model);
    const dir = await compiled(model, 'reranker-tok-art', { targets: [] });
    const query = 'where is the cat?';
    const docs = ['a dog runs fast', 'the cat sat on the mat.', 'who is slow?'];
    const r = runNoCompiler('rerank', '-m', dir, '-q', query, ...docs.flatMap((d) => ['-d', d]));
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual((await Encoder.load(model).rerank(query, docs)).ranked);
  });

  it('an encoder artifact runs only its kernels, and stale or tampered ones are refused', async () => {
    const dir = await compiled(sharedPath('refs', 'bert'), 'bert-reference-only', { targets: [], passes: 'none' });
    await expect(Encoder.open(dir, { backend: 'wasm' })).rejects.toThrow(/was compiled for no kernel target, not wasm: compile again with --target wasm/);
    const auto = await Encoder.open(dir, { backend: 'auto' });
    expect(auto.backend).toBe('reference');
    expect(auto.backendReason).toMatch(/the artifact has no (wasm|webgpu) kernels/);
    expect(() => Encoder.load(dir, { passes: 'default' })).toThrow(/already ran its passes/);
    const manifest = join(dir, 'manifest.json');
    const original = readFileSync(manifest, 'utf8');
    writeFileSync(manifest, original.replace(`"version": ${ARTIFACT_VERSION}`, '"version": 99'));
    expect(() => Encoder.load(dir)).toThrow(/artifact format version 99 is not the one this Tessera reads/);
    writeFileSync(manifest, original);
    const weights = join(dir, 'weights.bin');
    const bytes = readFileSync(weights);
    bytes[100] ^= 0xff;
    writeFileSync(weights, bytes);
    expect(() => Encoder.load(dir)).toThrow(/weights\.bin does not match its checksum/);
  });
});
