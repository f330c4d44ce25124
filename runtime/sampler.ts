// Token sampling: logit bias, repetition/frequency/presence penalties, then greedy or
// temperature → top-k → top-p → min-p → a draw from a seeded generator.
import { ModelFormatError, UsageError } from '../ir/errors.js';
import { checkOptions, type NumberRange, numberRule, type OptionRule, type OptionRules } from './options.js';

export interface SamplingParams {
  /** 0 = greedy (argmax). Default 0. */
  readonly temperature?: number;
  /** Keep the k most likely tokens; 0 = off. */
  readonly topK?: number;
  /** Keep the smallest set whose probability reaches p; 1 = off. */
  readonly topP?: number;
  /** Drop tokens less likely than minP × the most likely one; 0 = off. */
  readonly minP?: number;
  /** HF-style: positive logits of seen tokens are divided by it, negative ones multiplied; 1 = off. */
  readonly repetitionPenalty?: number;
  /** OpenAI-style: logit −= count × frequencyPenalty. */
  readonly frequencyPenalty?: number;
  /** OpenAI-style: logit −= presencePenalty once a token has appeared. */
  readonly presencePenalty?: number;
  /** How many recent tokens the penalties look at; 0 = all of the context. */
  readonly penaltyWindow?: number;
  /** Added to the logits of the given token ids before anything else. */
  readonly logitBias?: Readonly<Record<number, number>>;
  /** Same seed, same model, same prompt → same text. */
  readonly seed?: number;
}

/** xoshiro128** seeded through splitmix32: small, fast, and reproducible across platforms. */
export class Rng {
  private s = new Uint32Array(4);
  constructor(seed: number) {
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }
  private nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }
  /** Uniform in [0, 1) with 53 random bits. */
  next(): number {
    return (this.nextU32() * 2 ** 21 + (this.nextU32() >>> 11)) / 2 ** 53;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/**
 * Logits holding NaN or +Infinity: the model's arithmetic broke down. `step` names the forward
 * step (the generation loop adds it); the message says what to check.
 */
export class NonFiniteLogitsError extends ModelFormatError {
  constructor(readonly token: number, readonly value: number, readonly step?: string) {
    super(`${step ? `${step}: ` : ''}the logits hold ${value} (token ${token}), so no token can be chosen: the model's numbers overflowed or became undefined. ` +
      'Check the weights (a damaged, truncated or wrongly scaled checkpoint) and the config (a norm eps that is 0 or tiny, scales that are not finite)');
  }

  /** The same error, naming the step it happened in. */
  at(step: string): NonFiniteLogitsError {
    return new NonFiniteLogitsError(this.token, this.value, step);
  }
}

/**
 * Index of the largest logit (ties: the first). The same scan refuses NaN and +Infinity
 * (NonFiniteLogitsError); -Infinity is a banned token.
 */
export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 0; i < logits.length; i++) {
    const x = logits[i];
    if (!(x < Infinity)) throw new NonFiniteLogitsError(i, x);
    if (x > logits[best]) best = i;
  }
  return best;
}

/** For a token the backend picked without the host seeing the logits: its own logit must be finite. */
export function checkPicked(token: number, logit: number): number {
  if (!(logit < Infinity) || logit === -Infinity) throw new NonFiniteLogitsError(token, logit);
  return token;
}

/** Something that forbids tokens before sampling (a grammar): sets their logits to -Infinity in place. */
export interface LogitConstraint {
  apply(logits: Float32Array): void;
}

export class Sampler {
  private readonly rng: Rng;
  constructor(readonly params: SamplingParams = {}, ctx: SamplingContext = {}) {
    checkSamplingParams(params, ctx);
    this.rng = new Rng(params.seed ?? (Math.random() * 2 ** 32) >>> 0);
  }

  get greedy(): boolean {
    return (this.params.temperature ?? 0) === 0;
  }

  /** Greedy with nothing that depends on the history or on other tokens' logits: argmax alone decides. */
  get plainGreedy(): boolean {
    const p = this.params;
    return this.greedy && !p.logitBias && (p.repetitionPenalty ?? 1) === 1 && (p.frequencyPenalty ?? 0) === 0 && (p.presencePenalty ?? 0) === 0;
  }

  /**
   * Picks the next token. `history` is the context so far (prompt and generated ids);
   * `constraint` (a grammar) masks the logits after bias and penalties, before any sampler.
   */
  sample(logits: Float32Array, history: readonly number[] = [], constraint?: LogitConstraint): number {
    let adjusted = this.adjust(logits, history);
    if (constraint) {
      if (adjusted === logits) adjusted = Float32Array.from(logits);
      constraint.apply(adjusted);
    }
    if (this.greedy) return argmax(adjusted);
    return this.draw(adjusted);
  }

  /** Applies bias and penalties; returns a copy (the caller's logits stay untouched). */
  adjust(logits: Float32Array, history: readonly number[]): Float32Array {
    const p = this.params;
    const rep = p.repetitionPenalty ?? 1;
    const freq = p.frequencyPenalty ?? 0;
    const pres = p.presencePenalty ?? 0;
    const needsPenalty = rep !== 1 || freq !== 0 || pres !== 0;
    if (!p.logitBias && !needsPenalty) return logits;
    const out = Float32Array.from(logits);
    for (const [id, bias] of Object.entries(p.logitBias ?? {})) {
      const i = Number(id);
      if (i >= 0 && i < out.length) out[i] += bias;
    }
    if (needsPenalty) {
      const window = p.penaltyWindow ?? 0;
      const recent = window > 0 ? history.slice(-window) : history;
      const counts = new Map<number, number>();
      for (const id of recent) counts.set(id, (counts.get(id) ?? 0) + 1);
      for (const [id, n] of counts) {
        if (id < 0 || id >= out.length) continue;
        let v = out[id];
        if (rep !== 1) v = v > 0 ? v / rep : v * rep;
        v -= n * freq + pres;
        out[id] = v;
      }
    }
    return out;
  }

  private draw(logits: Float32Array): number {
    const p = this.params;
    const temp = p.temperature ?? 1;
    // Candidates sorted by logit, best first; top-k limits how many are kept.
    // One scan keeps the candidates and refuses NaN / +Infinity (-Infinity is a banned token).
    const ids = candidatesBestFirst(logits);
    if (ids.length === 0) throw new UsageError('sampling: every token is banned (each logit is -Infinity after logitBias); ban fewer tokens');
    const k = p.topK ?? 0;
    let n = k > 0 ? Math.min(k, ids.length) : ids.length;
    // Typed arrays and plain loops: the same arithmetic in the same order as map/reduce, without
    // allocating a 32000-element array per step.
    const max = logits[ids[0]];
    const probs = new Float64Array(n);
    let total = 0;
    for (let j = 0; j < n; j++) total += probs[j] = Math.exp((logits[ids[j]] - max) / temp);
    for (let j = 0; j < n; j++) probs[j] /= total;
    const topP = p.topP ?? 1;
    if (topP < 1) {
      let acc = 0;
      let keep = 0;
      while (keep < n && acc < topP) acc += probs[keep++];
      n = Math.max(keep, 1);
    }
    const minP = p.minP ?? 0;
    if (minP > 0) {
      const cut = probs[0] * minP;
      let keep = 0;
      while (keep < n && !(probs[keep] < cut)) keep++;
      n = Math.max(1, keep);
    }
    total = 0;
    for (let j = 0; j < n; j++) total += probs[j];
    let r = this.rng.next() * total;
    for (let i = 0; i < n; i++) {
      r -= probs[i];
      if (r < 0) return ids[i];
    }
    return ids[n - 1];
  }
}

/**
 * The ids of the logits that are not -Infinity, by logit from highest, ties by id from lowest;
 * NaN or +Infinity throws NonFiniteLogitsError. A comparator sort of a 32000-token vocabulary took
 * ~20 ms a step (a native Float64Array sort ~4 ms), more than a small model's forward pass; this is
 * a stable LSD radix sort (four byte passes) of the logits' bits made order-preserving and
 * inverted, so equal logits keep their ids in ascending order: the comparator's order exactly.
 */
export function candidatesBestFirst(logits: Float32Array): number[] {
  const n = logits.length;
  const bits = new Uint32Array(logits.buffer, logits.byteOffset, n);
  let keys = new Uint32Array(n);
  let ids = new Uint32Array(n);
  let m = 0;
  for (let i = 0; i < n; i++) {
    const x = logits[i];
    if (!(x < Infinity)) throw new NonFiniteLogitsError(i, x);
    if (x === -Infinity) continue;
    const b = x === 0 ? 0 : bits[i]; // -0 ties with +0, as the comparator has it
    const ascending = b & 0x80000000 ? ~b >>> 0 : (b | 0x80000000) >>> 0;
    keys[m] = 0xffffffff - ascending;
    ids[m++] = i;
  }
  let keysOut = new Uint32Array(m);
  let idsOut = new Uint32Array(m);
  const counts = new Uint32Array(256);
  for (let shift = 0; shift < 32; shift += 8) {
    counts.fill(0);
    for (let j = 0; j < m; j++) counts[(keys[j] >>> shift) & 255]++;
    for (let d = 0, at = 0; d < 256; d++) { const c = counts[d]; counts[d] = at; at += c; }
    for (let j = 0; j < m; j++) {
      const to = counts[(keys[j] >>> shift) & 255]++;
      keysOut[to] = keys[j];
      idsOut[to] = ids[j];
    }
    const k = keys; keys = keysOut; keysOut = k;
    const d = ids; ids = idsOut; idsOut = d;
  }
  const out = new Array<number>(m);
  for (let j = 0; j < m; j++) out[j] = ids[j];
  return out;
}

/** What the checks may know of the model: its vocabulary size, for logit-bias ids. */
export interface SamplingContext {
  readonly vocabSize?: number;
}

/** Valid values of the numeric sampling parameters (the CLI checks its flags against these too). */
export const SAMPLING_RANGES = {
  temperature: { min: 0 },
  topK: { integer: true, min: 0 },
  topP: { above: 0, max: 1 },
  minP: { min: 0, max: 1 },
  repetitionPenalty: { above: 0 },
  frequencyPenalty: {},
  presencePenalty: {},
  penaltyWindow: { integer: true, min: 0 },
  seed: { integer: true, min: 0, max: 2 ** 32 - 1 },
} as const satisfies Record<Exclude<keyof SamplingParams, 'logitBias'>, NumberRange>;

/** Ids in the vocabulary (when known) mapped to finite biases, or -Infinity to ban a token. */
const logitBiasRule: OptionRule<SamplingContext> = (v, ctx) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'must be an object mapping token ids to biases';
  const ids = ctx.vocabSize === undefined ? 'whole numbers ≥ 0' : `in the vocabulary [0, ${ctx.vocabSize})`;
  for (const [key, bias] of Object.entries(v)) {
    const id = Number(key);
    if (!Number.isSafeInteger(id) || id < 0 || (ctx.vocabSize !== undefined && id >= ctx.vocabSize)) return `has the token id ${key}; ids must be ${ids}`;
    if (typeof bias !== 'number' || !(Number.isFinite(bias) || bias === -Infinity)) return `gives token ${key} the bias ${String(bias)}; a bias must be a finite number, or -Infinity to ban the token`;
  }
  return undefined;
};

export const SAMPLING_RULES: OptionRules<SamplingParams, SamplingContext> = {
  ...(Object.fromEntries(Object.entries(SAMPLING_RANGES).map(([k, r]) => [k, numberRule(r)])) as Record<keyof typeof SAMPLING_RANGES, OptionRule<SamplingContext>>),
  logitBias: logitBiasRule,
};

/** Throws an OptionError for a sampling parameter out of range; other keys are left to the caller. */
export function checkSamplingParams(p: SamplingParams, ctx: SamplingContext = {}): void {
  checkOptions('sampling', p, SAMPLING_RULES, ctx, false);
}
