// Pipelines: the text form `canonicalize,flash-attention{tile=64},memory-plan`, named pipelines
// (`none`, `default`, possibly different per target), and their resolution into passes to run.
import { type AttrValue, type Attrs, attrEquals, normalizeAttrs } from '../ir/attrs.js';
import { UsageError } from '../ir/errors.js';
import { formatAttr } from '../ir/printer.js';
import type { Pass } from './pass.js';
import { findPass, listPasses } from './registry.js';
import { didYouMean } from '../ir/parse/suggest.js';

/** A malformed pipeline string, an unknown pass or pipeline name, or a bad pass option. */
export class PipelineError extends UsageError {
  constructor(message: string) {
    super(message);
    this.name = 'PipelineError';
  }
}

/** One step as written: a name and its raw options, before names are looked up. */
export interface PipelineItem {
  readonly name: string;
  readonly options: Readonly<Record<string, AttrValue>>;
  /** 1-based column of the name in the pipeline string, for error messages. */
  readonly column: number;
}

/** One pass to run, with its checked options (defaults filled in). */
export interface PipelineStep {
  readonly pass: Pass;
  readonly options: Attrs;
}

// ---- syntax ----

const NAME = /[A-Za-z0-9_-]/;

/** Splits a pipeline string into steps. Only the syntax is checked here; names are resolved later. */
export function parsePipelineText(text: string): PipelineItem[] {
  let i = 0;
  const fail = (what: string): never => {
    throw new PipelineError(`pipeline '${text}': ${what} at column ${i + 1}`);
  };
  const skipSpace = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const name = (what: string): string => {
    const start = i;
    while (i < text.length && NAME.test(text[i])) i++;
    if (i === start) fail(`expected ${what}${i < text.length ? `, found '${text[i]}'` : ''}`);
    return text.slice(start, i);
  };
  const value = (): AttrValue => {
    if (text[i] === '"') {
      const m = /^"(?:[^"\\]|\\.)*"/.exec(text.slice(i));
      if (!m) fail('unterminated string');
      i += m![0].length;
      return JSON.parse(m![0]) as string;
    }
    if (text[i] === '[') {
      const close = text.indexOf(']', i);
      if (close < 0) fail("unterminated list (missing ']')");
      const items = text.slice(i + 1, close).split(',').map((s) => s.trim()).filter((s) => s !== '');
      const nums = items.map(Number);
      if (nums.some((n) => Number.isNaN(n))) fail('lists may only hold numbers');
      i = close + 1;
      return nums;
    }
    const start = i;
    while (i < text.length && !/[\s,}]/.test(text[i])) i++;
    const raw = text.slice(start, i);
    if (!raw) fail('expected a value');
    if (raw === 'true' || raw === 'false') return raw === 'true';
    if (/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(raw)) return Number(raw);
    return raw;
  };
  const options = (): Record<string, AttrValue> => {
    const opts: Record<string, AttrValue> = {};
    i++; // '{'
    skipSpace();
    while (text[i] !== '}') {
      if (i >= text.length) fail("unterminated options (missing '}')");
      const key = name('an option name');
      skipSpace();
      if (text[i] !== '=') fail(`expected '=' after option '${key}'`);
      i++;
      skipSpace();
      if (key in opts) fail(`option '${key}' is given twice`);
      opts[key] = value();
      skipSpace();
      // Options may be separated by commas or by spaces, as in MLIR.
      if (text[i] === ',') {
        i++;
        skipSpace();
      }
    }
    i++; // '}'
    return opts;
  };

  const items: PipelineItem[] = [];
  skipSpace();
  if (i === text.length) return items;
  for (;;) {
    skipSpace();
    const column = i + 1;
    const n = name('a pass name');
    skipSpace();
    const opts = text[i] === '{' ? options() : {};
    items.push({ name: n, options: opts, column });
    skipSpace();
    if (i === text.length) return items;
    if (text[i] !== ',') fail(`expected ',' between passes, found '${text[i]}'`);
    i++;
  }
}

/** The text form of steps, as `parsePipelineText` reads it (defaults are left out). */
export function formatPipeline(steps: readonly PipelineStep[]): string {
  return steps.map(formatStep).join(',');
}

export function formatStep(step: PipelineStep): string {
  const schema = step.pass.options ?? {};
  const opts = Object.keys(step.options)
    .sort()
    .filter((k) => schema[k]?.default === undefined || !attrEquals(schema[k].default!, step.options[k]))
    .map((k) => `${k}=${formatAttr(step.options[k], schema[k])}`);
  return opts.length ? `${step.pass.name}{${opts.join(',')}}` : step.pass.name;
}

// ---- named pipelines ----

export interface PipelineDef {
  readonly name: string;
  /** A pipeline string; it may name other pipelines. Checked when the pipeline is resolved. */
  readonly passes: string;
  /** The target this definition is for; absent for the fallback used by every target. */
  readonly target?: string;
  readonly description: string;
}

const pipelines = new Map<string, PipelineDef>();
const key = (name: string, target?: string) => (target ? `${name}@${target}` : name);

/**
 * Defines (or redefines: the last registration wins) a named pipeline, optionally for one target.
 * Pass names are checked only when the pipeline is used, so a table may name passes that
 * register later.
 */
export function registerPipeline(name: string, passes: string, opts: { target?: string; description?: string } = {}): void {
  if (findPass(name)) throw new Error(`pipeline '${name}' has the name of a pass`);
  parsePipelineText(passes); // syntax errors surface at registration, where the typo is
  pipelines.set(key(name, opts.target), { name, passes, target: opts.target, description: opts.description ?? passes });
}

/** The definition used for `target`: the target's own when there is one, else the general one. */
export function findPipeline(name: string, target?: string): PipelineDef | undefined {
  return (target ? pipelines.get(key(name, target)) : undefined) ?? pipelines.get(name);
}

export function listPipelines(): PipelineDef[] {
  return [...pipelines.values()].sort((a, b) => a.name.localeCompare(b.name) || (a.target ?? '').localeCompare(b.target ?? ''));
}

function knownNames(): string {
  const p = listPasses().map((x) => x.name);
  const l = [...new Set(listPipelines().map((x) => x.name))];
  return `known passes: ${p.join(', ') || '(none)'}; pipelines: ${l.join(', ') || '(none)'}`;
}

/** Checks raw options against the pass's schema and fills defaults. */
export function passOptions(pass: Pass, raw: Readonly<Record<string, AttrValue>>): Attrs {
  const { attrs, errors } = normalizeAttrs(pass.options ?? {}, raw);
  if (errors.length) throw new PipelineError(`pass '${pass.name}': ${errors.map((e) => e.replace(/attribute/g, 'option')).join('; ')}`);
  return attrs;
}

/**
 * The passes a pipeline string stands for, with named pipelines expanded for `target`.
 * Unknown names fail with the list of known passes and pipelines.
 */
export function resolvePipeline(text: string, opts: { target?: string } = {}): PipelineStep[] {
  const out: PipelineStep[] = [];
  const expand = (t: string, stack: readonly string[]) => {
    for (const item of parsePipelineText(t)) {
      const pass = findPass(item.name);
      if (pass) {
        out.push({ pass, options: passOptions(pass, item.options) });
        continue;
      }
      const def = findPipeline(item.name, opts.target);
      if (!def) {
        const names = [...listPasses().map((p) => p.name), ...listPipelines().map((p) => p.name)];
        throw new PipelineError(`pipeline '${t}': unknown pass or pipeline '${item.name}' at column ${item.column}${didYouMean(item.name, names)} (${knownNames()})`);
      }
      if (Object.keys(item.options).length) throw new PipelineError(`pipeline '${t}': '${item.name}' is a pipeline; options go on its passes`);
      if (stack.includes(def.name)) throw new PipelineError(`pipeline '${def.name}' includes itself (${[...stack, def.name].join(' → ')})`);
      expand(def.passes, [...stack, def.name]);
    }
  };
  expand(text, []);
  return out;
}
