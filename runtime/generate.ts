// The generation loop: chunked prefill, cached decode, sampling, stop conditions, streaming
// text deltas and throughput statistics. Backend-agnostic: it drives any Executor.
import { InputError, UsageError } from '../ir/errors.js';
import type { Tokenizer } from '../models/tokenizers/tokenizer.js';
import { TokenStream } from '../models/tokenizers/tokenizer.js';
import { ContextFullError, type Executor, TokenRangeError } from './executor.js';
import { abortSignalRule, booleanRule, checkOptions, type NumberRange, numberRule, type OptionRules, stringListRule } from './options.js';
import { NonFiniteLogitsError, SAMPLING_RULES, Sampler, type SamplingContext, type SamplingParams } from './sampler.js';
import { GrammarMatcher } from './grammar/matcher.js';
import { dropsLeadingSpace, grammarConstraint, STRUCTURED_OUTPUT_RULES, type StructuredOutputParams, structuredOutputGrammar } from './grammar/options.js';

export interface GenerateParams extends SamplingParams, StructuredOutputParams {
  /** New tokens at most. Default 256. */
  readonly maxTokens?: number;
  /** Stop when the text contains one of these (the stop text itself is not emitted). */
  readonly stop?: readonly string[];
  /** Stop at the model's end-of-sequence tokens. Default true. */
  readonly stopAtEos?: boolean;
  /** Prompt tokens per forward pass while prefilling; 0 = the whole prompt at once. */
  readonly prefillChunk?: number;
  readonly signal?: AbortSignal;
}

export interface GeneratedToken {
  readonly id: number;
  /** Text this token completes (may be '' while a character or a possible stop text is pending). */
  readonly text: string;
}

export type StopReason = 'eos' | 'max_tokens' | 'stop' | 'context' | 'aborted';

export interface GenerationStats {
  readonly promptTokens: number;
  /** Prompt tokens whose keys were already cached (not prefilled again). */
  readonly cachedPromptTokens: number;
  readonly generatedTokens: number;
  readonly prefillMs: number;
  readonly decodeMs: number;
  readonly prefillTokensPerSecond: number;
  readonly decodeTokensPerSecond: number;
  readonly stopReason: StopReason;
  /** A sentence for people when the stop was not the ordinary end (context full, aborted). */
  readonly message?: string;
}

export interface GenerationModel {
  readonly executor: Executor;
  /** Without one, tokens come with no text (prompts must be ids, and stop texts cannot apply). */
  readonly tokenizer?: Tokenizer;
  readonly eosIds: readonly number[];
  /**
   * Longrope models pick their RoPE factors by total length: once the sequence grows past this,
   * the cache is recomputed with the long factors (as HF generate() does).
   */
  readonly recomputeAbove?: number;
  /**
   * Leading prompt ids whose keys the executor's cache already holds (an earlier chat turn):
   * the cache is cut back to them and only the rest is prefilled. 0 or absent: start empty.
   */
  readonly cachedPrefix?: number;
}

/** Valid values of the numeric generation options (the CLI checks its flags against these too). */
export const GENERATE_RANGES = {
  maxTokens: { integer: true, min: 0 },
  prefillChunk: { integer: true, min: 0 },
} as const satisfies Record<string, NumberRange>;

export const GENERATE_RULES: OptionRules<GenerateParams, SamplingContext> = {
  ...SAMPLING_RULES,
  maxTokens: numberRule(GENERATE_RANGES.maxTokens),
  prefillChunk: numberRule(GENERATE_RANGES.prefillChunk),
  stop: stringListRule,
  stopAtEos: booleanRule,
  signal: abortSignalRule,
  ...STRUCTURED_OUTPUT_RULES,
};

/**
 * Checks everything before any work: the options (an OptionError names the option and its valid
 * range; unknown keys are warned about), then the prompt (InputError: empty, ids outside the
 * vocabulary, longer than the context).
 */
export function checkGenerate(model: GenerationModel, promptIds: readonly number[], params: GenerateParams): void {
  const { executor } = model;
  checkOptions('generate', params, GENERATE_RULES, { vocabSize: executor.vocabSize });
  if (!model.tokenizer && params.stop?.some((s) => s.length > 0)) throw new UsageError('generate: stop texts need a tokenizer (the model has none; pass one, or drop the stop texts)');
  if (promptIds.length === 0) throw new InputError('generate: the prompt has no tokens (enable BOS or give some text)');
  for (const id of promptIds) if (!Number.isInteger(id) || id < 0 || id >= executor.vocabSize) throw new TokenRangeError(id, executor.vocabSize);
  if (promptIds.length > executor.contextLength) {
    throw new ContextFullError(executor.contextLength, promptIds.length, `the prompt has ${promptIds.length} tokens, more than the model's context of ${executor.contextLength}; shorten it`);
  }
}

/**
 * Yields tokens as they are generated and returns the statistics. Options and prompt are checked
 * when this is called, before the first token is asked for.
 */
export function generateTokens(model: GenerationModel, promptIds: readonly number[], params: GenerateParams = {}): AsyncGenerator<GeneratedToken, GenerationStats> {
  checkGenerate(model, promptIds, params);
  return generateChecked(model, promptIds, params, grammarMatcher(model, promptIds, params));
}

/**
 * The matcher for the grammar, JSON schema or JSON mode the options ask for (compiled now, so a
 * malformed grammar or schema is refused before any work), or undefined for free text.
 */
function grammarMatcher(model: GenerationModel, promptIds: readonly number[], params: GenerateParams): GrammarMatcher | undefined {
  const grammar = structuredOutputGrammar(params);
  if (grammar === undefined) return undefined;
  if (!model.tokenizer) throw new UsageError('generate: grammar, jsonSchema and json need a tokenizer (the model has none), since tokens are matched by their text');
  const constraint = grammarConstraint(grammar, model.tokenizer, model.executor.vocabSize, model.eosIds);
  return new GrammarMatcher(constraint, dropsLeadingSpace(model.tokenizer, promptIds, constraint.vocabulary));
}

async function* generateChecked(model: GenerationModel, promptIds: readonly number[], params: GenerateParams, grammar: GrammarMatcher | undefined): AsyncGenerator<GeneratedToken, GenerationStats> {
  const { executor, tokenizer } = model;
  const sampler = new Sampler(params, { vocabSize: executor.vocabSize });
  const maxTokens = params.maxTokens ?? 256;
  const stops = (params.stop ?? []).filter((s) => s.length > 0);
  const eos = params.stopAtEos === false ? new Set<number>() : new Set(model.eosIds);
  const ids = [...promptIds];
  const stream = tokenizer ? new TokenStream(tokenizer) : undefined;
  if (stream) {
    for (const id of promptIds) stream.push(id);
    stream.flush();
  }

  // At least the last prompt token runs, for its logits; longrope caches are never reused (their
  // factors depend on the total length).
  const kept = model.recomputeAbove === undefined ? Math.min(model.cachedPrefix ?? 0, promptIds.length - 1, executor.position) : 0;
  if (kept > 0) executor.truncate(kept);
  else executor.reset();
  const t0 = performance.now();
  let stopReason: StopReason = 'max_tokens';
  let message: string | undefined;
  // Plain greedy decoding never needs the logits on the host: the backend returns the argmax.
  // A grammar needs them, to mask.
  const fast = sampler.plainGreedy && !grammar;
  // The step whose logits `result` holds, for an error that finds them NaN or infinite.
  let step = '';
  const advance = (tokens: readonly number[], fromEmpty: boolean) => {
    if (fromEmpty) return prefill(executor, tokens, params.prefillChunk ?? 0, fast, (s) => { step = s; });
    step = `decode step at position ${executor.position}`;
    return naming<Float32Array | number>(step, () => (fast ? executor.forwardGreedy(tokens) : executor.forward(tokens, 'last')));
  };
  let result = await advance(promptIds.slice(kept), true);
  const prefillMs = performance.now() - t0;
  const t1 = performance.now();
  let generated = 0;
  let pending = ''; // text held back because it may start a stop sequence
  let emittedText = '';

  while (generated < maxTokens) {
    if (params.signal?.aborted) { stopReason = 'aborted'; message = 'generation was cancelled'; break; }
    const logits = result;
    // A grammar ends generation when only end-of-sequence may follow, and on EOS once complete.
    if (grammar?.finished) { stopReason = 'eos'; break; }
    const next = typeof logits === 'number' ? logits : await naming(step, () => sampler.sample(logits, ids, grammar));
    if (eos.has(next) || grammar?.constraint.isEos(next)) { stopReason = 'eos'; break; }
    grammar?.accept(next);
    ids.push(next);
    generated++;
    pending += stream?.push(next) ?? '';
    const stopHit = findStop(emittedText + pending, stops, emittedText.length);
    if (stopHit !== undefined) {
      const keep = stopHit - emittedText.length;
      yield { id: next, text: pending.slice(0, keep) };
      stopReason = 'stop';
      pending = '';
      break;
    }
    const safe = pending.length - heldBack(emittedText + pending, stops);
    const out = pending.slice(0, Math.max(0, safe));
    pending = pending.slice(out.length);
    emittedText += out;
    yield { id: next, text: out };
    if (generated >= maxTokens) break;
    if (executor.position + 1 > executor.contextLength) {
      stopReason = 'context';
      message = `stopped at the context limit of ${executor.contextLength} tokens`;
      break;
    }
    if (model.recomputeAbove !== undefined && executor.position + 1 > model.recomputeAbove && executor.position <= model.recomputeAbove) {
      // Crossing the longrope boundary: every cached key must be recomputed with the long factors.
      executor.reset();
      result = await advance(ids, true);
    } else {
      result = await advance([next], false);
    }
  }
  if (stopReason !== 'stop') {
    const rest = pending + (stream?.flush() ?? '');
    if (rest) yield { id: -1, text: rest };
  }
  const decodeMs = performance.now() - t1;
  return {
    promptTokens: promptIds.length,
    cachedPromptTokens: kept,
    generatedTokens: generated,
    prefillMs,
    decodeMs,
    prefillTokensPerSecond: (promptIds.length - kept) / (prefillMs / 1000),
    decodeTokensPerSecond: generated / (decodeMs / 1000),
    stopReason,
    message,
  };
}

/**
 * Runs the prompt through the cache in chunks; the last chunk's logits (or its argmax when
 * greedy). `named` hears which chunk produced them.
 */
async function prefill(executor: Executor, ids: readonly number[], chunk: number, greedy: boolean, named: (step: string) => void): Promise<Float32Array | number> {
  const size = chunk > 0 ? chunk : ids.length;
  const chunks = Math.ceil(ids.length / size);
  let at = 0;
  for (; at + size < ids.length; at += size) await executor.forward(ids.slice(at, at + size), 'last');
  const step = `prefill chunk ${chunks} of ${chunks} (prompt tokens ${at}–${ids.length - 1})`;
  named(step);
  return naming<Float32Array | number>(step, () => (greedy ? executor.forwardGreedy(ids.slice(at)) : executor.forward(ids.slice(at), 'last')));
}

/** Runs `run`; a NonFiniteLogitsError it throws comes out naming `step`. */
async function naming<T>(step: string, run: () => Promise<T> | T): Promise<T> {
  try {
    return await run();
  } catch (e) {
    throw e instanceof NonFiniteLogitsError && e.step === undefined ? e.at(step) : e;
  }
}

/** Index where the first stop text begins, if one ends after `from`. */
function findStop(text: string, stops: readonly string[], from: number): number | undefined {
  let best: number | undefined;
  for (const s of stops) {
    const at = text.indexOf(s, Math.max(0, from - s.length + 1));
    if (at !== -1 && (best === undefined || at < best)) best = at;
  }
  return best;
}

/** How many trailing characters could still grow into a stop text. */
function heldBack(text: string, stops: readonly string[]): number {
  let hold = 0;
  for (const s of stops) {
    for (let n = Math.min(s.length - 1, text.length); n > hold; n--) {
      if (text.endsWith(s.slice(0, n))) { hold = n; break; }
    }
  }
  return hold;
}
