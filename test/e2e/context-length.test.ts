// The contextLength load option (--ctx on the decoder commands): the KV cache and activations are
// sized to it, tokens past it are a typed error, and a bad value is refused naming the option.
import { afterAll, describe, expect, it } from 'vitest';
import { ContextFullError } from '../../runtime/executor.js';
import { OptionError } from '../../runtime/options.js';
import { WasmExecutor } from '../../runtime/wasm/executor.js';
import { main } from '../../src/cli.js';
import { Model } from '../../src/model.js';
import { greedy } from '../helpers/generate.js';
import { hasShared, sharedPath } from '../helpers/shared.js';

async function cli(...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) }, cwd: process.cwd(), env: process.env });
  return { code, stdout, stderr };
}

describe.runIf(hasShared('models', 'stories260K'))('contextLength', () => {
  const bin = sharedPath('models', 'stories260K', 'stories260K.bin');
  const models: Model[] = [];
  afterAll(async () => { for (const m of models) await m.dispose(); });
  const open = async (contextLength?: number) => {
    const m = await Model.open(bin, { backend: 'wasm', threads: 1, maxChunk: 8, ...(contextLength ? { contextLength } : {}) });
    models.push(m);
    return m;
  };

  it('wasm: the KV cache holds contextLength rows, not the model context, and decodes the same tokens', async () => {
    const full = await open();
    const short = await open(24);
    expect(short.executor.contextLength).toBe(24);
    expect(full.executor.contextLength).toBe(full.config.maxPositions);
    const c = full.config;
    // K and V of every layer: the rows the shorter context saves, at f32.
    const kvRowBytes = 2 * c.numLayers * c.numKvHeads * c.headDim * 4;
    const saved = (full.executor as WasmExecutor).memoryBytes - (short.executor as WasmExecutor).memoryBytes;
    expect(saved).toBeGreaterThanOrEqual((c.maxPositions - 24) * kvRowBytes);
    expect((await greedy(short, 'Once upon a time', 12)).ids).toEqual((await greedy(full, 'Once upon a time', 12)).ids);
  });

  it('tokens past the context are a ContextFullError; generation stops at it', async () => {
    const m = await open(24);
    const ex = m.executor;
    ex.reset();
    await ex.forward(Array.from({ length: 20 }, (_, i) => 10 + i), 'last');
    await expect(ex.forward([1, 2, 3, 4, 5], 'last')).rejects.toThrow(ContextFullError);
    await expect(ex.forward([1, 2, 3, 4, 5], 'last')).rejects.toThrow(/context of 24/);
    const long = Array.from({ length: 30 }, (_, i) => 10 + i);
    await expect(m.logits(long)).rejects.toThrow(ContextFullError);
    const it = m.generate(long.slice(0, 20), { maxTokens: 50 });
    let n = 0;
    let r = await it.next();
    while (!r.done) { n++; r = await it.next(); }
    expect(n).toBe(24 - 20 + 1); // the last token is sampled from the logits at row 24 and not fed back
    expect(r.value.stopReason).toBe('context');
  });

  it('the reference backend takes it too', () => {
    const m = Model.load(bin, { contextLength: 8 });
    expect(m.executor.contextLength).toBe(8);
    return m.dispose();
  });

  it('a context longer than the model, zero or fractional is an OptionError naming contextLength', async () => {
    expect(() => Model.load(bin, { contextLength: 100_000 })).toThrow(OptionError);
    expect(() => Model.load(bin, { contextLength: 100_000 })).toThrow(/contextLength 100000 is longer than the model's context of 512/);
    await expect(Model.open(bin, { backend: 'wasm', contextLength: 0 })).rejects.toThrow(/contextLength/);
    expect(() => Model.load(bin, { contextLength: 1.5 })).toThrow(OptionError);
  });

  it('--ctx on the CLI: checked as a whole number, and the KV cache limits generation', async () => {
    const bad = await cli('generate', '-m', bin, '-p', 'Once', '--ctx', 'x', '--backend', 'wasm');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--ctx must be a whole number, got 'x'/);
    const zero = await cli('logits', '-m', bin, '--ids', '1,2', '--ctx', '0', '--backend', 'wasm');
    expect(zero.code).toBe(2);
    expect(zero.stderr).toMatch(/--ctx must be ≥ 1|--ctx must be .*1/);
    const tooLong = await cli('generate', '-m', bin, '-p', 'Once', '--ctx', '4096', '--backend', 'reference');
    expect(tooLong.code).toBe(2);
    expect(tooLong.stderr).toMatch(/contextLength 4096 is longer than the model's context of 512 tokens \(valid: 1…512; --ctx on the command line\)/);
    const ok = await cli('generate', '-m', bin, '-p', 'Once upon a time', '-n', '100', '--ctx', '16', '--backend', 'wasm', '--threads', '1');
    expect(ok.code).toBe(0);
    expect(ok.stderr).toMatch(/context limit of 16 tokens|stop: context/);
  });
});
