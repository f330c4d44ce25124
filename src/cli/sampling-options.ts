// The sampling flags shared by the text-generating commands (generate, chat): one spec and one
// parser, each value checked against the API's ranges before the model loads.
import type { SamplingParams } from '../../runtime/sampler.js';
import { SAMPLING_RANGES } from '../../runtime/sampler.js';
import { type Invocation, listOpt, type OptionSpec, UsageError } from './command.js';
import { numberOpt } from './model-options.js';

export const SAMPLING_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  temperature: { type: 'string', short: 't', value: 'T', help: '0 = greedy (default); higher is more random' },
  'top-k': { type: 'string', value: 'K', help: 'sample among the K most likely tokens (0 = off)' },
  'top-p': { type: 'string', value: 'P', help: 'nucleus sampling: the smallest set with probability ≥ P (1 = off)' },
  'min-p': { type: 'string', value: 'P', help: 'drop tokens below P × the most likely one (0 = off)' },
  'repeat-penalty': { type: 'string', value: 'R', help: 'divide logits of seen tokens by R (1 = off)' },
  'frequency-penalty': { type: 'string', value: 'F', help: 'subtract F × count from logits of seen tokens' },
  'presence-penalty': { type: 'string', value: 'F', help: 'subtract F from logits of tokens seen at all' },
  'penalty-window': { type: 'string', value: 'N', help: 'the penalties look at the last N tokens (0 = all)' },
  seed: { type: 'string', short: 's', value: 'N', help: 'random seed for sampling' },
  'logit-bias': { type: 'string', multiple: true, value: 'ID=BIAS', help: 'add BIAS to the logit of token ID (repeatable; e.g. 2=-100 bans EOS)' },
};

/** The sampling options the flags ask for (greedy unless --temperature says otherwise). */
export function samplingParams(inv: Invocation): SamplingParams {
  return {
    temperature: numberOpt(inv, 'temperature', SAMPLING_RANGES.temperature) ?? 0,
    topK: numberOpt(inv, 'top-k', SAMPLING_RANGES.topK),
    topP: numberOpt(inv, 'top-p', SAMPLING_RANGES.topP),
    minP: numberOpt(inv, 'min-p', SAMPLING_RANGES.minP),
    repetitionPenalty: numberOpt(inv, 'repeat-penalty', SAMPLING_RANGES.repetitionPenalty),
    frequencyPenalty: numberOpt(inv, 'frequency-penalty', SAMPLING_RANGES.frequencyPenalty),
    presencePenalty: numberOpt(inv, 'presence-penalty', SAMPLING_RANGES.presencePenalty),
    penaltyWindow: numberOpt(inv, 'penalty-window', SAMPLING_RANGES.penaltyWindow),
    seed: numberOpt(inv, 'seed', SAMPLING_RANGES.seed),
    logitBias: parseLogitBias(listOpt(inv, 'logit-bias'), inv.command),
  };
}

/** ["2=-100", "13=1.5"] → { 2: -100, 13: 1.5 }. */
function parseLogitBias(items: readonly string[], command: string): Record<number, number> | undefined {
  if (items.length === 0) return undefined;
  const bias: Record<number, number> = {};
  for (const item of items) {
    const m = /^\s*(\d+)\s*=\s*([-+]?[\d.]+(?:e[-+]?\d+)?)\s*$/i.exec(item);
    if (!m || !Number.isFinite(Number(m[2])) || !Number.isSafeInteger(Number(m[1]))) throw new UsageError(`--logit-bias expects ID=BIAS, a token id and a finite number (e.g. 2=-100), got '${item}'`, command);
    bias[Number(m[1])] = Number(m[2]);
  }
  return bias;
}
