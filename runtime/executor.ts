// What every backend offers the generation loop: run new tokens through the model, keep the KV
// cache, hand back logits.
import { InputError } from '../ir/errors.js';

export type LogitsWanted = 'last' | 'all';

export interface Executor {
  /** 'reference', 'wasm' or 'webgpu'. */
  readonly backend: string;
  /** The most tokens the cache holds. */
  readonly contextLength: number;
  readonly vocabSize: number;
  /** Tokens in the cache. */
  readonly position: number;
  /**
   * Runs `tokens` at positions [position, position + tokens.length), appending them to the
   * cache. Returns the logits of the last token ([vocab]) or of every token ([tokens, vocab]).
   */
  forward(tokens: readonly number[], want: LogitsWanted): Promise<Float32Array>;
  /**
   * Like forward(tokens, 'last') but returns only the argmax of the last logits, computed where
   * the logits are (on a GPU: one id comes back instead of a vocabulary-sized row).
   */
  forwardGreedy(tokens: readonly number[]): Promise<number>;
  /** Keeps the first `length` cached tokens. */
  truncate(length: number): void;
  reset(): void;
  dispose(): Promise<void>;
}

/** More tokens than the model's context holds. */
export class ContextFullError extends InputError {
  constructor(readonly contextLength: number, readonly needed: number, message = `the context is full: ${needed} tokens do not fit in the model's context of ${contextLength}`) {
    super(message);
  }
}

/** A token id outside the model's vocabulary. */
export class TokenRangeError extends InputError {
  constructor(readonly id: number, readonly vocabSize: number) {
    super(`token id ${id} is outside the vocabulary [0, ${vocabSize})`);
  }
}

/** The checks every forward pass makes: some tokens, room in the cache, ids in the vocabulary. */
export function checkStep(tokens: readonly number[], position: number, contextLength: number, vocabSize: number): void {
  if (tokens.length === 0) throw new InputError('forward: no tokens');
  if (position + tokens.length > contextLength) throw new ContextFullError(contextLength, position + tokens.length);
  for (const t of tokens) if (!Number.isInteger(t) || t < 0 || t >= vocabSize) throw new TokenRangeError(t, vocabSize);
}

/**
 * Position bookkeeping for backends whose KV cache is preallocated at full context: truncating
 * or resetting only moves the position, and the next step overwrites the rows past it.
 */
export abstract class PreallocatedCacheExecutor {
  protected length = 0;
  constructor(readonly contextLength: number, readonly vocabSize: number) {}

  get position(): number {
    return this.length;
  }

  truncate(length: number): void {
    if (length < 0 || length > this.length) throw new RangeError(`truncate: ${length} is outside [0, ${this.length}]`);
    this.length = length;
  }

  reset(): void {
    this.length = 0;
  }

  protected checkStep(tokens: readonly number[]): void {
    checkStep(tokens, this.length, this.contextLength, this.vocabSize);
  }
}
