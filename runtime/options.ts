// Checking option objects given to the API before anything runs. Each option has a rule that
// says in words what it accepts, so a bad value gets a message with the valid range. A key that
// no rule knows is a type error in TypeScript (see Exact) and a warning at run time: a misspelt
// option would otherwise be ignored in silence.
import { UsageError } from '../ir/errors.js';
import { didYouMean } from '../ir/parse/suggest.js';

/** An API option of the wrong type or out of range. */
export class OptionError extends UsageError {
  constructor(readonly option: string, message: string) {
    super(message);
  }
}

/**
 * `T` allowing no other keys of `P`: a type parameter bounded as `<O extends Exact<T, O>>(opts?: O)`
 * makes an unknown option a type error, in a variable as well as in an object literal.
 */
export type Exact<T, P> = T & { readonly [K in Exclude<keyof P, keyof T>]: never };

/** Valid numbers: finite, whole when `integer` (and exact, at most 2^53 − 1), within the bounds. */
export interface NumberRange {
  readonly integer?: boolean;
  /** Inclusive lower bound. */
  readonly min?: number;
  /** Exclusive lower bound. */
  readonly above?: number;
  readonly max?: number;
}

/** The bounds alone, in words: "≥ 0", "> 0", "in [0, 1]", "in (0, 1]"; '' when unbounded. */
export function describeBounds(r: NumberRange): string {
  const low = r.min ?? r.above;
  if (low !== undefined && r.max !== undefined) return `in ${r.min !== undefined ? '[' : '('}${low}, ${r.max}]`;
  if (r.min !== undefined) return `≥ ${r.min}`;
  if (r.above !== undefined) return `> ${r.above}`;
  if (r.max !== undefined) return `≤ ${r.max}`;
  return '';
}

/** The range in words: "a whole number ≥ 0", "a number in (0, 1]". */
export function describeRange(r: NumberRange): string {
  const bounds = describeBounds(r);
  return `${r.integer ? 'a whole number' : 'a number'}${bounds ? ` ${bounds}` : ''}`;
}

/** Whether `v` is of the range's kind (a finite number; an exact whole one when `integer`), bounds aside. */
export function isNumberOfKind(v: unknown, r: NumberRange): v is number {
  return typeof v === 'number' && (r.integer ? Number.isSafeInteger(v) : Number.isFinite(v));
}

/** Whether `v` lies within the range's bounds (a number of its kind assumed). */
export function withinBounds(v: number, r: NumberRange): boolean {
  return (r.min === undefined || v >= r.min) && (r.above === undefined || v > r.above) && (r.max === undefined || v <= r.max);
}

/** Says what an option must be, or undefined when `value` is acceptable; `ctx` carries what the model knows. */
export type OptionRule<C> = (value: unknown, ctx: C) => string | undefined;

/** A rule per option; the mapped type keeps the table and the option interface in step. */
export type OptionRules<T, C = void> = { readonly [K in keyof Required<T>]: OptionRule<C> };

export const numberRule = (r: NumberRange): OptionRule<unknown> => (v) => {
  if (isNumberOfKind(v, r) && withinBounds(v, r)) return undefined;
  const tooBig = typeof v === 'number' && Number.isInteger(v) && !Number.isSafeInteger(v) && r.integer;
  return `must be ${describeRange(r)}${tooBig ? ` (at most ${Number.MAX_SAFE_INTEGER})` : ''}`;
};
export const booleanRule: OptionRule<unknown> = (v) => (typeof v === 'boolean' ? undefined : 'must be true or false');
export const stringRule: OptionRule<unknown> = (v) => (typeof v === 'string' ? undefined : 'must be a string');
export const stringListRule: OptionRule<unknown> = (v) => (Array.isArray(v) && v.every((s) => typeof s === 'string') ? undefined : 'must be an array of strings');
export const functionRule: OptionRule<unknown> = (v) => (typeof v === 'function' ? undefined : 'must be a function');
export const oneOfRule = (choices: readonly string[]): OptionRule<unknown> => (v) => (typeof v === 'string' && choices.includes(v) ? undefined : `must be one of ${choices.map((c) => `'${c}'`).join(', ')}`);
export const abortSignalRule: OptionRule<unknown> = (v) => (typeof v === 'object' && v !== null && typeof (v as AbortSignal).aborted === 'boolean' ? undefined : 'must be an AbortSignal');

/** A value as a message shows it: strings quoted, NaN and objects readable. */
export function formatValue(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v);
  if (typeof v === 'function') return 'a function';
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/**
 * Checks every option `opts` sets (undefined counts as unset) against its rule, throwing an
 * OptionError that names `what` (e.g. 'generate'), the option, the valid range and the value;
 * unknown keys go to `warn` with the nearest known name (false: the caller checks them).
 */
export function checkOptions<T extends object, C>(what: string, opts: T | undefined, rules: OptionRules<T, C>, ctx: C, warn: ((message: string) => void) | false = console.warn): void {
  if (opts === undefined) return;
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts)) throw new OptionError('', `${what}: options must be an object, got ${formatValue(opts)}`);
  const known = Object.keys(rules);
  for (const [key, value] of Object.entries(opts)) {
    const rule = (rules as Record<string, OptionRule<C> | undefined>)[key];
    if (!rule) {
      if (warn) warn(`${what}: ignoring the unknown option '${key}'${didYouMean(key, known)}; the options are ${known.join(', ')}`);
      continue;
    }
    if (value === undefined) continue;
    const problem = rule(value, ctx);
    if (problem) throw new OptionError(key, `${what}: ${key} ${problem}, got ${formatValue(value)}`);
  }
}
