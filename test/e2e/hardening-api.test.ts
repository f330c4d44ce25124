// The API refuses what would silently go wrong (issue 18, items 1, 9, 11, 12, 13): a second stream or
// call on a model while one is active (they would share one KV cache), use after dispose() — the
// same typed error on every backend —, options out of range or unknown, and prompts the model
// cannot take. Every error is a TesseraError of the kind that says whose move it is.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  ArtifactError, BackendError, ConfigError, ContextFullError, Encoder, EncoderInputError, FormatError, GpuDeviceLostError, GpuOutOfMemoryError,
  GpuUnavailableError, InputError, IRError, KvCacheFullError, Model, ModelBusyError, ModelDisposedError, ModelFormatError, NonFiniteLogitsError, OptionError, PassError, PipelineError,
  ResourceError, StateError, TesseraError, TokenRangeError, UnsupportedModelError, UsageError, type BackendName, type EmbedOptions, type GeneratedToken, type GenerateParams,
} from '../../src/index.js';
import { buildDecoderGraph } from '../../models/arch/decoder.js';
import type { ModelConfig } from '../../models/config/model-config.js';
import { openModel } from '../../models/open.js';
import { webgpuIfAdapter } from '../helpers/gpu.js';
import { hasShared, sharedPath } from '../helpers/shared.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const MODEL = () => sharedPath('models', 'stories260K', 'stories260K.bin');
const PROMPT = [1, 403, 407, 261, 378];

async function drain(stream: AsyncGenerator<GeneratedToken, unknown>): Promise<number[]> {
  const ids: number[] = [];
  for await (const t of stream) if (t.id >= 0) ids.push(t.id);
  return ids;
}

/** Collects garbage until the finalizers of dropped objects have run. */
async function collect(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, 10));
    gc();
  }
}

describe('the error hierarchy', () => {
  it('every exported error is a TesseraError of the kind that says whose move it is', () => {
    const kinds: [Error, abstract new (...a: never[]) => Error][] = [
      [new OptionError('maxTokens', 'x'), UsageError],
      [new PipelineError('x'), UsageError],
      [new ContextFullError(4, 5), InputError],
      [new TokenRangeError(9, 4), InputError],
      [new EncoderInputError('x'), InputError],
      [new ConfigError('f', 'x'), ModelFormatError],
      [new UnsupportedModelError('x'), ModelFormatError],
      [new FormatError('f', 'x'), ModelFormatError],
      [new ArtifactError('d', 'x'), ModelFormatError],
      [new NonFiniteLogitsError(0, NaN), ModelFormatError],
      [new BackendError('x'), ResourceError],
      [new GpuUnavailableError('x'), ResourceError],
      [new GpuOutOfMemoryError('x', 'gpu', 1), ResourceError],
      [new GpuDeviceLostError('x', 'gpu', 'destroyed'), ResourceError],
      [new KvCacheFullError(2, 8), ResourceError],
      [new ModelBusyError('x'), StateError],
      [new ModelDisposedError('x'), StateError],
      [new IRError('x'), TesseraError],
      [new PassError('x', 'p'), TesseraError],
    ];
    for (const [e, kind] of kinds) {
      expect(e, e.name).toBeInstanceOf(kind);
      expect(e, e.name).toBeInstanceOf(TesseraError);
      expect(e.name, 'the name is the class name').toBe(e.constructor.name);
    }
    expect(new TypeError('x')).not.toBeInstanceOf(TesseraError);
  });
});

describe.runIf(hasShared('models', 'stories260K'))('one model, one stream or call at a time (reference)', () => {
  let model: Model;
  let solo: number[];
  beforeAll(async () => {
    model = Model.load(MODEL());
    solo = await drain(model.generate(PROMPT, { maxTokens: 8 }));
  });
  afterAll(() => model.dispose());

  it('a second stream consumed interleaved with the first is refused at its first next(), and the first is unharmed', async () => {
    const a = model.generate(PROMPT, { maxTokens: 8 });
    const b = model.generate([1, 2], { maxTokens: 8 });
    const first = await a.next();
    await expect(b.next()).rejects.toThrow(ModelBusyError);
    await expect(b.next(), 'the refused stream is finished').resolves.toMatchObject({ done: true });
    const rest = await drain(a);
    expect([(first.value as GeneratedToken).id, ...rest].filter((id) => id >= 0)).toEqual(solo);
  });

  it('generate() and logits() while a stream is active are refused at once, naming the model and what holds it', async () => {
    const a = model.generate(PROMPT, { maxTokens: 8 });
    await a.next();
    expect(() => model.generate(PROMPT)).toThrow(/stories260K\.bin: generate\(\) while generate\(\) is still active/);
    await expect(model.logits([1, 2])).rejects.toThrow(ModelBusyError);
    await a.return(undefined as never);
    expect((await model.logits([1, 2])).length).toBe(2 * model.config.vocabSize);
  });

  it('two logits() calls at once: the second is refused, the first is right', async () => {
    const alone = await model.logits([1, 2, 3]);
    const both = await Promise.allSettled([model.logits([1, 2, 3]), model.logits([4, 5])]);
    expect(both[0]).toEqual({ status: 'fulfilled', value: alone });
    expect(both[1].status).toBe('rejected');
    expect((both[1] as PromiseRejectedResult).reason).toBeInstanceOf(ModelBusyError);
  });

  it('a stream left by break, return() or never started releases the model', async () => {
    for await (const t of model.generate(PROMPT, { maxTokens: 8 })) if (t) break;
    expect(await drain(model.generate(PROMPT, { maxTokens: 8 }))).toEqual(solo);

    const returned = model.generate(PROMPT, { maxTokens: 8 });
    await returned.next();
    await returned.return(undefined as never);
    model.generate(PROMPT, { maxTokens: 8 }); // created, never started: holds nothing
    expect(await drain(model.generate(PROMPT, { maxTokens: 8 }))).toEqual(solo);
  });

  it('a stream dropped mid-way releases the model once it is collected', async () => {
    let dropped: AsyncGenerator<GeneratedToken, unknown> | undefined = model.generate(PROMPT, { maxTokens: 8 });
    await dropped.next();
    expect(() => model.generate(PROMPT)).toThrow(ModelBusyError);
    const ref = new WeakRef(dropped);
    dropped = undefined;
    await collect();
    expect(ref.deref(), 'the stream was collected').toBeUndefined();
    expect(await drain(model.generate(PROMPT, { maxTokens: 8 }))).toEqual(solo);
  });
});

describe.runIf(hasShared('models', 'stories260K'))('use after dispose() throws ModelDisposedError on every backend', async () => {
  const backends: BackendName[] = ['reference', 'wasm', ...(await webgpuIfAdapter('use after dispose'))];

  it.each(backends)('%s', async (backend) => {
    const model = await Model.open(MODEL(), { backend, threads: 2 });
    // A stream suspended at a yield when the model is disposed fails at its next step.
    const stream = model.generate(PROMPT, { maxTokens: 8 });
    await stream.next();
    await model.dispose();
    await expect(stream.next()).rejects.toThrow(ModelDisposedError);
    expect(() => model.generate(PROMPT)).toThrow(/generate\(\) after dispose\(\); open the model again/);
    await expect(model.logits([1, 2])).rejects.toThrow(ModelDisposedError);
    expect(() => model.executor).toThrow(ModelDisposedError);
    await model.dispose(); // a second dispose does nothing
  }, 120_000);
});

describe.runIf(hasShared('refs', 'bert'))('encoders: one call at a time, options checked, nothing after dispose()', () => {
  it('a second call while one runs is refused; a bad option is refused; after dispose every call throws ModelDisposedError', async () => {
    const bert = Encoder.load(sharedPath('refs', 'bert'));
    const [alone] = await bert.embed([[2, 45, 19, 3]]);
    const both = await Promise.allSettled([bert.embed([[2, 45, 19, 3]]), bert.embed([[2, 7, 3]])]);
    expect(both[0]).toEqual({ status: 'fulfilled', value: [alone] });
    expect((both[1] as PromiseRejectedResult).reason).toBeInstanceOf(ModelBusyError);
    expect(() => bert.embed([[2, 3]], { normalize: 'no' } as unknown as EmbedOptions)).toThrow(/^embed: normalize must be true or false, got 'no'$/);
    await bert.dispose();
    await expect(bert.embed([[2, 45, 19, 3]])).rejects.toThrow(ModelDisposedError);
    await expect(bert.run([{ ids: [2, 3] }])).rejects.toThrow(ModelDisposedError);
  });
});

describe.runIf(hasShared('models', 'stories260K'))('options and prompts are checked when generate() is called, before any work', () => {
  let model: Model;
  beforeAll(() => {
    model = Model.load(MODEL());
  });
  afterAll(() => model.dispose());

  it('a value out of range is an OptionError naming the option, its valid range and the value', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ maxTokens: -1 }, /^generate: maxTokens must be a whole number ≥ 0, got -1$/],
      [{ maxTokens: NaN }, /maxTokens must be a whole number ≥ 0, got NaN/],
      [{ maxTokens: 1e20 }, /maxTokens must be a whole number ≥ 0 \(at most 9007199254740991\), got 100000000000000000000/],
      [{ seed: NaN }, /seed must be a whole number in \[0, 4294967295\], got NaN/],
      [{ repetitionPenalty: 0 }, /repetitionPenalty must be a number > 0, got 0/],
      [{ topP: 1.5 }, /topP must be a number in \(0, 1\], got 1\.5/],
      [{ temperature: Infinity }, /temperature must be a number ≥ 0, got Infinity/],
      [{ logitBias: { 99999: 1 } }, /logitBias has the token id 99999; ids must be in the vocabulary \[0, 512\)/],
      [{ logitBias: { 2: NaN } }, /logitBias gives token 2 the bias NaN/],
      [{ stop: 'x' }, /stop must be an array of strings, got 'x'/],
      [{ stopAtEos: 'no' }, /stopAtEos must be true or false/],
    ];
    for (const [params, message] of cases) {
      const call = () => model.generate(PROMPT, params as GenerateParams);
      expect(call, JSON.stringify(params)).toThrow(OptionError);
      expect(call, JSON.stringify(params)).toThrow(message);
    }
    expect(() => model.generate(PROMPT, { logitBias: { 2: -Infinity } }), '-Infinity bans a token').not.toThrow();
  });

  it('an unknown option is a type error and a warning naming it and the options there are', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      const params = { maxTokens: 2, ignoreEos: true };
      // @ts-expect-error ignoreEos is not an option (stopAtEos is)
      const ids = await drain(model.generate(PROMPT, params));
      expect(ids.length).toBeGreaterThan(0);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(warn.mock.calls[0][0]).toMatch(/^generate: ignoring the unknown option 'ignoreEos'; the options are .*stopAtEos/);
      // @ts-expect-error the same for load options
      Model.load(MODEL(), { thread: 2 }).dispose();
      expect(warn.mock.calls[1][0]).toMatch(/^Model\.load: ignoring the unknown option 'thread' \(did you mean 'threads'\?\)/);
    } finally {
      warn.mockRestore();
    }
  });

  it('load options out of range are refused before the model is read', async () => {
    await expect(Model.open(MODEL(), { threads: 0 })).rejects.toThrow(/^Model\.open: threads must be a whole number in \[1, 1024\], got 0$/);
    await expect(Model.open(MODEL(), { backend: 'cuda' as BackendName })).rejects.toThrow(/backend must be one of 'auto', 'reference', 'wasm', 'webgpu', got 'cuda'/);
    expect(() => Model.load(MODEL(), { tokenizer: '/no/such/tokenizer.bin' })).toThrow(/Model\.load: tokenizer '\/no\/such\/tokenizer\.bin' does not exist/);
    expect(() => Encoder.load(MODEL(), { batchSize: 0 })).toThrow(/Encoder\.load: batchSize must be a whole number ≥ 1, got 0/);
  });

  it('a prompt the model cannot take is an InputError: too long, an id outside the vocabulary, empty', () => {
    const long = new Array<number>(model.config.maxPositions + 1).fill(5);
    expect(() => model.generate(long)).toThrow(ContextFullError);
    expect(() => model.generate(long)).toThrow(`the prompt has ${long.length} tokens, more than the model's context of ${model.config.maxPositions}; shorten it`);
    expect(() => model.generate([1, 999999])).toThrow(TokenRangeError);
    expect(() => model.generate([])).toThrow(InputError);
  });
});

describe.runIf(hasShared('models', 'stories260K'))('a model step graph is verified as a graph that runs (item 12)', () => {
  it('eps 0 that got past the config is refused when the graph is built, naming the attribute', () => {
    const source = openModel(MODEL());
    const build = (config: ModelConfig) => buildDecoderGraph(config, source.decoderWeights(), (n) => source.leafType(n));
    expect(() => build(source.config)).not.toThrow();
    expect(() => build({ ...source.config, norm: { ...source.config.norm, eps: 0 } })).toThrow(/attribute 'eps' is 0; it must be a finite number > 0/);
  });
});
