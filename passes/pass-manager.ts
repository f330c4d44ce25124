// The pass manager: runs a pipeline over a graph, verifying after every pass, timing each pass,
// collecting its statistics and calling the instruments (IR printing, dumps, user hooks).
import { TesseraError } from '../ir/errors.js';
import type { Graph } from '../ir/graph.js';
import { verifyIssues } from '../ir/verifier.js';
import { assertCompilerAllowed } from '../ir/compiler-guard.js';
import { DumpDirInstrument, type PassFilter, type PassInstrument, passLabel, type PassPosition, type PassRecord, PrintIRInstrument } from './instruments.js';
import type { PassContext } from './pass.js';
import { formatPipeline, formatStep, type PipelineStep, resolvePipeline } from './pipeline.js';

/** A pass threw, or left a graph that does not verify. Names the pass and its place in the pipeline. */
export class PassError extends TesseraError {
  constructor(message: string, readonly pass: string | undefined, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PassError';
  }
}

export interface PassManagerOptions {
  /** Verify the input and the graph after every pass (default true). */
  readonly verifyEach?: boolean;
  /** Selects target-specific named pipelines and is passed to every pass. */
  readonly target?: string;
  readonly printIRBefore?: PassFilter;
  readonly printIRAfter?: PassFilter;
  /** Print after a pass only when its output differs (alone: after every pass that changed the IR). */
  readonly printIRAfterChange?: boolean;
  /** Where printed IR goes (default: standard error, as compilers do, keeping stdout for the result). */
  readonly log?: (text: string) => void;
  /** Writes 000-input.ir and NNN-<pass>.ir files here. */
  readonly dumpDir?: string;
  /** More instruments, called after the built-in ones. */
  readonly instruments?: readonly PassInstrument[];
}

export interface PipelineRun {
  readonly graph: Graph;
  readonly changed: boolean;
  readonly records: readonly PassRecord[];
  /** Wall time of the whole run, verification included. */
  readonly totalMs: number;
  /** Time spent verifying the input graph (before any pass). */
  readonly inputVerifyMs: number;
}

const firstIssues = (g: Graph): string | undefined => {
  const issues = verifyIssues(g);
  if (issues.length === 0) return undefined;
  const shown = issues.slice(0, 20).map((i) => `  ${i.loc ? `${i.loc.line}:${i.loc.column}: ` : ''}${i.message}`);
  if (issues.length > shown.length) shown.push(`  … and ${issues.length - shown.length} more`);
  return shown.join('\n');
};

export class PassManager {
  readonly steps: readonly PipelineStep[];
  private readonly instruments: PassInstrument[] = [];

  /** `pipeline` is a pipeline string (`canonicalize,default`) or already resolved steps. */
  constructor(pipeline: string | readonly PipelineStep[], private readonly options: PassManagerOptions = {}) {
    this.steps = typeof pipeline === 'string' ? resolvePipeline(pipeline, { target: options.target }) : pipeline;
    const log = options.log ?? ((t: string) => process.stderr.write(t));
    if (options.printIRBefore || options.printIRAfter || options.printIRAfterChange) {
      this.instruments.push(new PrintIRInstrument({ before: options.printIRBefore, after: options.printIRAfter, afterChange: options.printIRAfterChange, write: log }));
    }
    if (options.dumpDir) this.instruments.push(new DumpDirInstrument(options.dumpDir));
    this.instruments.push(...(options.instruments ?? []));
  }

  addInstrument(instrument: PassInstrument): this {
    this.instruments.push(instrument);
    return this;
  }

  /** Runs every step; rewrites `graph` in place unless a pass returns a new graph. Throws PassError. */
  run(graph: Graph): PipelineRun {
    if (this.steps.length) assertCompilerAllowed(`pass pipeline ${formatPipeline(this.steps)}`);
    const verifyEach = this.options.verifyEach ?? true;
    const start = performance.now();
    let inputVerifyMs = 0;
    if (verifyEach) {
      const t = performance.now();
      const bad = firstIssues(graph);
      inputVerifyMs = performance.now() - t;
      if (bad) throw new PassError(`the input graph @${graph.name} is invalid (before any pass):\n${bad}`, undefined);
    }
    for (const i of this.instruments) i.beforePipeline?.(graph, this.steps);

    const records: PassRecord[] = [];
    let current = graph;
    this.steps.forEach((step, index) => {
      const pos: PassPosition = { step, index, count: this.steps.length };
      for (const i of this.instruments) i.beforePass?.(pos, current);
      const stats: Record<string, number> = {};
      const ctx: PassContext = {
        options: step.options,
        target: this.options.target,
        stat(name, n = 1) {
          stats[name] = (stats[name] ?? 0) + n;
        },
      };
      const t0 = performance.now();
      let changed: boolean;
      try {
        const result = step.pass.run(current, ctx);
        changed = result.changed;
        if (result.graph) current = result.graph;
      } catch (e) {
        const err = new PassError(`pass ${passLabel(pos)} failed: ${(e as Error).message}`, step.pass.name, { cause: e });
        for (const i of this.instruments) i.afterPassFailed?.(pos, current, err);
        throw err;
      }
      const ms = performance.now() - t0;
      let verifyMs = 0;
      if (verifyEach) {
        const t1 = performance.now();
        const bad = firstIssues(current);
        verifyMs = performance.now() - t1;
        if (bad) {
          const err = new PassError(`pass ${passLabel(pos)} produced an invalid graph:\n${bad}`, step.pass.name);
          for (const i of this.instruments) i.afterPassFailed?.(pos, current, err);
          throw err;
        }
      }
      const record: PassRecord = { name: step.pass.name, text: formatStep(step), ms, verifyMs, changed, stats };
      records.push(record);
      for (const i of this.instruments) i.afterPass?.(pos, current, record);
    });

    for (const i of this.instruments) i.afterPipeline?.(current, records);
    return { graph: current, changed: records.some((r) => r.changed), records, totalMs: performance.now() - start, inputVerifyMs };
  }
}

/** Resolves `pipeline` and runs it over `graph` (see PassManager). */
export function runPipeline(graph: Graph, pipeline: string | readonly PipelineStep[], options: PassManagerOptions = {}): PipelineRun {
  return new PassManager(pipeline, options).run(graph);
}
