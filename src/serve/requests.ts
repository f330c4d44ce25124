// The OpenAI request bodies Tessera answers, checked field by field into generation options.
// A wrong field is a 400 naming it (`param`), as the OpenAI API does.
import { checkMessages, type ChatMessage } from '../chat/messages.js';
import type { GenerateParams } from '../../runtime/generate.js';
import { InputError } from '../../ir/errors.js';
import { badRequest } from './http-error.js';
import type { LoraRequest } from '../lora.js';
import { responseFormat } from './response-format.js';

export interface GenerationRequest {
  readonly model: string;
  readonly stream: boolean;
  /** stream_options.include_usage: a last chunk with the usage. */
  readonly includeUsage: boolean;
  readonly params: GenerateParams;
  /** llama.cpp's per-request `lora`: run-time adapters by id (index or name) and scale. */
  readonly lora?: readonly LoraRequest[];
}

export interface ChatRequest extends GenerationRequest {
  readonly messages: readonly ChatMessage[];
}

export interface CompletionRequest extends GenerationRequest {
  /** Text, or token ids. */
  readonly prompt: string | readonly number[];
  /** Echo the prompt before the completion. */
  readonly echo: boolean;
}

export interface EmbeddingRequest {
  readonly model: string;
  readonly input: readonly string[] | readonly (readonly number[])[];
  readonly base64: boolean;
}

type Body = Record<string, unknown>;

/** The JSON body must be an object. */
export function asBody(json: unknown): Body {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw badRequest('the request body must be a JSON object');
  return json as Body;
}

export function chatRequest(body: Body): ChatRequest {
  let messages: readonly ChatMessage[];
  try {
    messages = checkMessages(body.messages);
  } catch (e) {
    if (e instanceof InputError) throw badRequest(e.message, 'messages');
    throw e;
  }
  return { ...generationRequest(body, 'max_completion_tokens'), messages };
}

export function completionRequest(body: Body): CompletionRequest {
  let prompt = body.prompt;
  // A list holding one prompt is one prompt (n and batches of prompts are not served).
  if (Array.isArray(prompt) && prompt.length === 1 && (typeof prompt[0] === 'string' || Array.isArray(prompt[0]))) prompt = prompt[0];
  const ok = typeof prompt === 'string' || (Array.isArray(prompt) && prompt.length > 0 && prompt.every((t) => Number.isInteger(t) && (t as number) >= 0));
  if (!ok) throw badRequest('prompt must be a string or a list of token ids (one prompt per request)', 'prompt');
  return { ...generationRequest(body, 'max_tokens'), prompt: prompt as string | number[], echo: optional(body, 'echo', 'boolean') ?? false };
}

export function embeddingRequest(body: Body): EmbeddingRequest {
  const model = requiredModel(body);
  const input = body.input;
  const isIds = (v: unknown) => Array.isArray(v) && v.length > 0 && v.every((t) => Number.isInteger(t) && (t as number) >= 0);
  let rows: string[] | number[][];
  if (typeof input === 'string') rows = [input];
  else if (isIds(input)) rows = [input as number[]];
  else if (Array.isArray(input) && input.length > 0 && input.every((s) => typeof s === 'string')) rows = input as string[];
  else if (Array.isArray(input) && input.length > 0 && input.every(isIds)) rows = input as number[][];
  else throw badRequest('input must be a string, a list of strings, a list of token ids or a list of such lists (none empty)', 'input');
  const format = optional(body, 'encoding_format', 'string') ?? 'float';
  if (format !== 'float' && format !== 'base64') throw badRequest(`encoding_format must be "float" or "base64", got "${format}"`, 'encoding_format');
  if (body.dimensions !== undefined) throw badRequest('dimensions is not supported: the model\'s own size is returned', 'dimensions');
  return { model, input: rows, base64: format === 'base64' };
}

function generationRequest(body: Body, maxName: 'max_tokens' | 'max_completion_tokens'): GenerationRequest {
  const model = requiredModel(body);
  const n = optional(body, 'n', 'number');
  if (n !== undefined && n !== 1) throw badRequest('n must be 1: one choice per request is served', 'n');
  if (body.logprobs === true || (typeof body.logprobs === 'number' && body.logprobs > 0)) throw badRequest('logprobs are not supported', 'logprobs');
  const maxTokens = optional(body, maxName, 'number') ?? optional(body, 'max_tokens', 'number');
  if (maxTokens !== undefined && (!Number.isInteger(maxTokens) || maxTokens < 1)) throw badRequest(`${maxName} must be a whole number ≥ 1`, maxName);
  const stop = body.stop;
  let stops: string[] | undefined;
  if (typeof stop === 'string') stops = [stop];
  else if (Array.isArray(stop) && stop.length <= 4 && stop.every((s) => typeof s === 'string')) stops = stop as string[];
  else if (stop !== undefined && stop !== null) throw badRequest('stop must be a string or a list of at most 4 strings', 'stop');
  const temperature = optional(body, 'temperature', 'number');
  if (temperature !== undefined && (temperature < 0 || temperature > 2)) throw badRequest('temperature must be between 0 and 2', 'temperature');
  const topP = optional(body, 'top_p', 'number');
  if (topP !== undefined && (topP <= 0 || topP > 1)) throw badRequest('top_p must be in (0, 1]', 'top_p');
  const seed = optional(body, 'seed', 'number');
  if (seed !== undefined && !Number.isInteger(seed)) throw badRequest('seed must be an integer', 'seed');
  const penalty = (name: string) => {
    const v = optional(body, name, 'number');
    if (v !== undefined && (v < -2 || v > 2)) throw badRequest(`${name} must be between -2 and 2`, name);
    return v;
  };
  const streamOptions = body.stream_options as { include_usage?: unknown } | undefined | null;
  const params: GenerateParams = {
    maxTokens: maxTokens ?? 256,
    // The OpenAI API samples at temperature 1 unless told otherwise.
    temperature: temperature ?? 1,
    ...(topP !== undefined ? { topP } : {}),
    // OpenAI seeds are any integer; the sampler's are 32-bit.
    ...(seed !== undefined ? { seed: ((seed % 2 ** 32) + 2 ** 32) % 2 ** 32 } : {}),
    ...(stops ? { stop: stops } : {}),
    ...definedPenalty('frequencyPenalty', penalty('frequency_penalty')),
    ...definedPenalty('presencePenalty', penalty('presence_penalty')),
    ...logitBias(body.logit_bias),
    ...responseFormat(body.response_format),
  };
  const lora = loraField(body.lora);
  return { model, stream: optional(body, 'stream', 'boolean') ?? false, includeUsage: streamOptions?.include_usage === true, params, ...(lora ? { lora } : {}) };
}

/** `lora: [{ id, scale }]`: ids are checked against the loaded adapters when the request runs. */
function loraField(v: unknown): LoraRequest[] | undefined {
  if (v === undefined || v === null) return undefined;
  const ok = Array.isArray(v) && v.every((l) => typeof l === 'object' && l !== null && (typeof l.id === 'string' || Number.isInteger(l.id)) && typeof l.scale === 'number' && Number.isFinite(l.scale));
  if (!ok) throw badRequest('lora must be a list of { "id": adapter index or name, "scale": number }', 'lora');
  return (v as LoraRequest[]).map(({ id, scale }) => ({ id, scale }));
}

function definedPenalty(name: 'frequencyPenalty' | 'presencePenalty', v: number | undefined): Partial<GenerateParams> {
  return v === undefined || v === 0 ? {} : { [name]: v };
}

function logitBias(v: unknown): Partial<GenerateParams> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw badRequest('logit_bias must map token ids to biases between -100 and 100', 'logit_bias');
  const bias: Record<number, number> = {};
  for (const [k, b] of Object.entries(v as Record<string, unknown>)) {
    if (!/^\d+$/.test(k) || typeof b !== 'number' || b < -100 || b > 100) throw badRequest(`logit_bias: "${k}": ${String(b)} is not a token id with a bias between -100 and 100`, 'logit_bias');
    bias[Number(k)] = b;
  }
  return Object.keys(bias).length ? { logitBias: bias } : {};
}

function requiredModel(body: Body): string {
  if (typeof body.model !== 'string' || body.model === '') throw badRequest('model is required (see GET /v1/models)', 'model');
  return body.model;
}

function optional(body: Body, name: string, type: 'number'): number | undefined;
function optional(body: Body, name: string, type: 'boolean'): boolean | undefined;
function optional(body: Body, name: string, type: 'string'): string | undefined;
function optional(body: Body, name: string, type: 'number' | 'boolean' | 'string'): unknown {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== type || (type === 'number' && !Number.isFinite(v))) throw badRequest(`${name} must be a ${type}`, name);
  return v;
}
