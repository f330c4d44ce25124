// Pass instrumentation: hooks the pass manager calls around each pass, and the two standard
// instruments, IR printing (before/after chosen passes, or only after a change) and IR dumps to
// numbered files. Timing and verification live in the manager itself since they decide its result.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Graph } from '../ir/graph.js';
import { printGraph } from '../ir/printer.js';
import { formatStep, PipelineError, type PipelineStep } from './pipeline.js';
import { findPass, listPasses } from './registry.js';
import { didYouMean } from '../ir/parse/suggest.js';

/** Where a pass sits in the pipeline being run. */
export interface PassPosition {
  readonly step: PipelineStep;
  /** 0-based. */
  readonly index: number;
  readonly count: number;
}

/** What the manager measured for one pass run. */
export interface PassRecord {
  readonly name: string;
  /** The step as written in a pipeline string, options included. */
  readonly text: string;
  readonly ms: number;
  /** Time spent verifying the graph after this pass (0 when verify-each is off). */
  readonly verifyMs: number;
  readonly changed: boolean;
  readonly stats: Readonly<Record<string, number>>;
}

export interface PassInstrument {
  beforePipeline?(graph: Graph, steps: readonly PipelineStep[]): void;
  beforePass?(pos: PassPosition, graph: Graph): void;
  afterPass?(pos: PassPosition, graph: Graph, record: PassRecord): void;
  /** The pass threw, or left a graph that does not verify (then `graph` is that graph). */
  afterPassFailed?(pos: PassPosition, graph: Graph, error: Error): void;
  afterPipeline?(graph: Graph, records: readonly PassRecord[]): void;
}

export const passLabel = (pos: PassPosition) => `${formatStep(pos.step)} (${pos.index + 1}/${pos.count})`;

/** Which passes an option selects: every pass, or the named ones. */
export type PassFilter = 'all' | readonly string[];

/** Checks that a filter names registered passes, so a typo is an error rather than silence. */
export function checkPassFilter(filter: PassFilter | undefined, option: string): void {
  if (!filter || filter === 'all') return;
  for (const name of filter) {
    if (!findPass(name)) {
      const known = listPasses().map((p) => p.name);
      throw new PipelineError(`${option}: unknown pass '${name}'${didYouMean(name, known)} (known passes: ${known.join(', ')})`);
    }
  }
}

const selects = (filter: PassFilter | undefined, pos: PassPosition) =>
  filter !== undefined && (filter === 'all' || filter.includes(pos.step.pass.name));

export interface PrintIROptions {
  readonly before?: PassFilter;
  readonly after?: PassFilter;
  /**
   * Print after a pass only when it changed the printed IR. With no `after` filter this means
   * after every pass (that changed something).
   */
  readonly afterChange?: boolean;
  readonly write: (text: string) => void;
}

/** Prints the IR around passes, each dump under a `// ----- IR after <pass> (i/n) -----` header. */
export class PrintIRInstrument implements PassInstrument {
  private readonly after: PassFilter | undefined;
  private textBefore: string | undefined;

  constructor(private readonly opts: PrintIROptions) {
    checkPassFilter(opts.before, 'print-ir-before');
    checkPassFilter(opts.after, 'print-ir-after');
    this.after = opts.after ?? (opts.afterChange ? 'all' : undefined);
  }

  beforePass(pos: PassPosition, graph: Graph): void {
    const wantBefore = selects(this.opts.before, pos);
    const wantAfter = selects(this.after, pos) && this.opts.afterChange;
    // Printing is the only reliable test of "changed the printed IR", so keep the text to compare.
    this.textBefore = wantBefore || wantAfter ? printGraph(graph) : undefined;
    if (wantBefore) this.opts.write(`// ----- IR before ${passLabel(pos)} -----\n${this.textBefore}`);
  }

  afterPass(pos: PassPosition, graph: Graph): void {
    if (!selects(this.after, pos)) return;
    const text = printGraph(graph);
    if (this.opts.afterChange && text === this.textBefore) return;
    this.opts.write(`// ----- IR after ${passLabel(pos)} -----\n${text}`);
  }

  afterPassFailed(pos: PassPosition, graph: Graph, error: Error): void {
    if (!selects(this.after, pos)) return;
    this.opts.write(`// ----- IR after ${passLabel(pos)} (failed: ${error.message.split('\n')[0]}) -----\n${printGraph(graph)}`);
  }
}

const DUMP_FILE = /^\d{3}-.*\.ir$/;

/**
 * Writes `000-input.ir`, then `NNN-<pass>.ir` after every pass (and `NNN-<pass>.failed.ir` for a
 * graph that failed verification), each a plain IR file that `tessera dump` reads back.
 */
export class DumpDirInstrument implements PassInstrument {
  private readonly files: string[] = [];

  constructor(private readonly dir: string) {}

  /** The files written so far, in order. */
  get written(): readonly string[] {
    return this.files;
  }

  beforePipeline(graph: Graph): void {
    mkdirSync(this.dir, { recursive: true });
    // Numbered files left by an earlier, longer run would read as part of this one.
    for (const f of readdirSync(this.dir)) if (DUMP_FILE.test(f)) rmSync(join(this.dir, f));
    this.write('000-input.ir', graph);
  }

  afterPass(pos: PassPosition, graph: Graph): void {
    this.write(`${String(pos.index + 1).padStart(3, '0')}-${pos.step.pass.name}.ir`, graph);
  }

  afterPassFailed(pos: PassPosition, graph: Graph): void {
    this.write(`${String(pos.index + 1).padStart(3, '0')}-${pos.step.pass.name}.failed.ir`, graph);
  }

  private write(name: string, graph: Graph): void {
    const path = join(this.dir, name);
    writeFileSync(path, printGraph(graph));
    this.files.push(path);
  }
}
