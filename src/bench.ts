// Throughput measurement for any Executor: prefill (one forward over a seeded random prompt) and
// greedy decode (one token per forward), repeated and reduced to medians. Backend-agnostic: a
// backend that counts its GPU dispatches (WebGPU's `lastDispatches`) gets them reported too.
import { argmax } from '../runtime/sampler.js';
import type { Executor } from '../runtime/executor.js';
import { canProfile, type ProfileRow } from '../runtime/profile.js';

export interface BenchParams {
  /** Prompt length of the prefill forward. */
  readonly promptTokens: number;
  /** Single-token decode forwards after the prefill. */
  readonly genTokens: number;
  /**
   * Context the decode steps start from: undefined (default) continues after the whole prompt;
   * N ≤ promptTokens restarts from an empty cache with the prompt's first N tokens (unmeasured),
   * so the steps run at positions N…N+genTokens−1. 0 is llama-bench's tg test (positions 0…).
   */
  readonly decodeDepth?: number;
  /** Measured runs; the figures reported are their medians. */
  readonly runs: number;
  /** Unmeasured runs first: JIT tiers, kernel compilation and caches settle in these. */
  readonly warmup: number;
  /** Seed of the prompt's token ids, so every backend and every run sees the same prompt. */
  readonly seed?: number;
  /** After the measured runs, one more run with per-launch timing (backends that can profile). */
  readonly profile?: boolean;
}

export interface BenchRun {
  readonly prefillMs: number;
  readonly decodeMs: number;
  /** The prefill's and the last step's logits were finite and not all equal. */
  readonly logitsOk: boolean;
  /** Dispatches of the prefill forward, when the backend counts them. */
  readonly prefillDispatches?: number;
  /** Mean dispatches per decode forward, when the backend counts them. */
  readonly decodeDispatchesPerToken?: number;
}

export interface BenchSummary {
  readonly runs: readonly BenchRun[];
  readonly prefillMs: number;
  readonly decodeMs: number;
  readonly prefillTokensPerSecond: number;
  readonly decodeTokensPerSecond: number;
  readonly prefillDispatches?: number;
  readonly decodeDispatchesPerToken?: number;
  /** Decode time per dispatch in microseconds: the fixed cost per kernel launch shows here. */
  readonly decodeMicrosPerDispatch?: number;
  /** The greedy tokens of the last run; equal across backends that agree with the reference. */
  readonly generated: readonly number[];
  /**
   * False when some run's logits were non-finite or constant: the backend computed nothing (a
   * failed GPU submission reads back zeros), so its timings mean nothing either.
   */
  readonly logitsOk: boolean;
  /** Time per kernel family and phase, from one extra profiled run (when asked and supported). */
  readonly profile?: readonly ProfileRow[];
}

/** Deterministic token ids in [lo, vocab): mulberry32, the generator make-synthetic.mjs uses. */
export function seededTokens(count: number, vocab: number, seed = 1): number[] {
  // Ids 0–2 are <unk>/<s>/</s> in llama-family vocabularies; a prompt of ordinary tokens avoids them.
  const lo = vocab > 3 ? 3 : 0;
  let state = seed >>> 0 || 1;
  const ids: number[] = [];
  for (let i = 0; i < count; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    ids.push(lo + Math.floor(u * (vocab - lo)));
  }
  return ids;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Finite and not all equal: a cheap sign that the forward pass really ran. */
export function logitsLookComputed(v: Float32Array): boolean {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (!Number.isFinite(x)) return false;
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  return v.length > 0 && hi > lo;
}

/** The executor's dispatch count of its last forward, for backends that keep one. */
function dispatchCount(ex: Executor): number | undefined {
  const n = (ex as Executor & { lastDispatches?: unknown }).lastDispatches;
  return typeof n === 'number' ? n : undefined;
}

/** A run as measured, with the logits it read kept for checking after the timed runs. */
interface TimedRun extends Omit<BenchRun, 'logitsOk'> {
  readonly logits: readonly Float32Array[];
}

async function runOnce(ex: Executor, prompt: readonly number[], genTokens: number, generated: number[], decodeDepth?: number): Promise<TimedRun> {
  ex.reset();
  generated.length = 0;
  const t0 = performance.now();
  const prefillLogits = await ex.forward(prompt, 'last');
  const prefillMs = performance.now() - t0;
  const prefillDispatches = dispatchCount(ex);
  let next: number;
  if (decodeDepth === undefined) {
    next = argmax(prefillLogits);
  } else {
    ex.reset();
    // From an empty cache, the first step feeds the prompt's first token at position 0.
    next = decodeDepth > 0 ? await ex.forwardGreedy(prompt.slice(0, decodeDepth)) : prompt[0];
  }
  let dispatches = 0;
  let lastLogits = prefillLogits;
  const t1 = performance.now();
  // Greedy decoding as `generate` does it: the backend picks the token (WebGPU and wasm compute the
  // argmax in the graph, so no logits are copied out), except for the last step, whose logits
  // are read to check that the backend really computed them.
  for (let i = 0; i < genTokens; i++) {
    generated.push(next);
    if (i < genTokens - 1) {
      next = await ex.forwardGreedy([next]);
    } else {
      lastLogits = await ex.forward([next], 'last');
    }
    dispatches += dispatchCount(ex) ?? 0;
  }
  const decodeMs = performance.now() - t1;
  const logits = [prefillLogits, lastLogits];
  return prefillDispatches === undefined
    ? { prefillMs, decodeMs, logits }
    : { prefillMs, decodeMs, logits, prefillDispatches, decodeDispatchesPerToken: genTokens ? dispatches / genTokens : 0 };
}

/**
 * The run with its logits checked. Checked only after every timed run: scanning 32000 logits in
 * code V8 has not optimised yet boxes each one (~0.5 MB of garbage a scan), and the scavenges
 * that set off landed inside later runs' timed decode (12–20 ms each on 2 cores).
 */
function checked({ logits, ...run }: TimedRun): BenchRun {
  return { ...run, logitsOk: logits.every(logitsLookComputed) };
}

/** Warms up, then measures `runs` times from an empty cache and reports medians. */
export async function benchmark(ex: Executor, p: BenchParams): Promise<BenchSummary> {
  if (p.promptTokens < 1) throw new RangeError('bench: the prompt needs at least one token');
  if (p.runs < 1) throw new RangeError('bench: at least one measured run');
  const depth = p.decodeDepth;
  if (depth !== undefined && !(Number.isInteger(depth) && depth >= 0 && depth <= p.promptTokens)) {
    throw new RangeError(`bench: the decode depth must be an integer in 0..${p.promptTokens} (the prompt's length), got ${depth}`);
  }
  const needed = Math.max(p.promptTokens, (depth ?? p.promptTokens) + p.genTokens);
  if (needed > ex.contextLength) {
    throw new RangeError(`bench: ${depth ?? p.promptTokens} tokens of context + ${p.genTokens} generated tokens exceed the context of ${ex.contextLength}`);
  }
  const prompt = seededTokens(p.promptTokens, ex.vocabSize, p.seed);
  const generated: number[] = [];
  for (let i = 0; i < p.warmup; i++) await runOnce(ex, prompt, p.genTokens, generated, depth);
  const timed: TimedRun[] = [];
  for (let i = 0; i < p.runs; i++) timed.push(await runOnce(ex, prompt, p.genTokens, generated, depth));
  const runs = timed.map(checked);
  let profile: ProfileRow[] | undefined;
  if (p.profile && canProfile(ex)) {
    // A separate run: reading the clock around every launch must not colour the figures above.
    ex.startProfile();
    try {
      await runOnce(ex, prompt, p.genTokens, [], depth);
    } finally {
      profile = ex.stopProfile();
    }
  }
  ex.reset();

  const prefillMs = median(runs.map((r) => r.prefillMs));
  const decodeMs = median(runs.map((r) => r.decodeMs));
  const perSecond = (tokens: number, ms: number) => (ms > 0 ? (tokens * 1000) / ms : Infinity);
  const summary = {
    runs,
    prefillMs,
    decodeMs,
    prefillTokensPerSecond: perSecond(p.promptTokens, prefillMs),
    decodeTokensPerSecond: p.genTokens ? perSecond(p.genTokens, decodeMs) : 0,
    generated: [...generated],
    logitsOk: runs.every((r) => r.logitsOk),
    ...(profile ? { profile } : {}),
  };
  const last = runs[runs.length - 1];
  if (last.decodeDispatchesPerToken === undefined) return summary;
  const perToken = last.decodeDispatchesPerToken;
  return {
    ...summary,
    prefillDispatches: last.prefillDispatches,
    decodeDispatchesPerToken: perToken,
    decodeMicrosPerDispatch: perToken > 0 && p.genTokens > 0 ? (decodeMs * 1000) / (p.genTokens * perToken) : undefined,
  };
}

/** Peak resident set of this process so far, in bytes (the loaded weights included). */
export function peakRssBytes(): number {
  // maxRSS is in kilobytes on Linux and macOS; fall back to the current RSS where it is missing.
  const kb = process.resourceUsage().maxRSS;
  return kb > 0 ? kb * 1024 : process.memoryUsage().rss;
}
