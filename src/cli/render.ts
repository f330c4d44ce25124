// Output formats for graphs: text IR, JSON, Graphviz DOT, and SVG rendered by Graphviz's `dot`.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { graphToDot } from '../../ir/dot.js';
import type { Graph } from '../../ir/graph.js';
import { printGraphJSON } from '../../ir/json.js';
import { printGraph } from '../../ir/printer.js';
import { CliError } from './command.js';
import type { CliIO } from './io.js';
import { outputFilePath } from './paths.js';

export const FORMATS = ['text', 'json', 'dot', 'svg'] as const;
export type Format = (typeof FORMATS)[number];

/** The format an output file's extension asks for, when --format is not given. */
export function formatForPath(path: string | undefined): Format {
  if (path?.endsWith('.json')) return 'json';
  if (path?.endsWith('.dot') || path?.endsWith('.gv')) return 'dot';
  if (path?.endsWith('.svg')) return 'svg';
  return 'text';
}

/** Runs `dot -Tsvg` found on io.env's PATH. */
export function dotToSvg(dot: string, io: CliIO): string {
  const r = spawnSync('dot', ['-Tsvg'], { input: dot, encoding: 'utf8', env: { ...io.env }, maxBuffer: 1 << 30 });
  if (r.error) {
    if ((r.error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new CliError(
        "--format svg needs Graphviz's 'dot' program, which is not on PATH.\n" +
          'Install Graphviz (Debian/Ubuntu: apt-get install graphviz; Fedora: dnf install graphviz; macOS: brew install graphviz),\n' +
          'or write DOT with --format dot and render it elsewhere.',
      );
    }
    throw new CliError(`could not run 'dot': ${r.error.message}`);
  }
  if (r.status !== 0) throw new CliError(`'dot -Tsvg' failed (exit ${r.status ?? r.signal}): ${r.stderr.trim()}`);
  return r.stdout;
}

export function renderGraph(g: Graph, format: Format, io: CliIO): string {
  switch (format) {
    case 'text': return printGraph(g);
    case 'json': return printGraphJSON(g);
    case 'dot': return graphToDot(g);
    case 'svg': return dotToSvg(graphToDot(g), io);
  }
}

/** Writes to the file `path` (relative to io.cwd), or to standard output when there is none. */
export function writeOutput(text: string, path: string | undefined, io: CliIO): void {
  if (!path || path === '-') {
    io.stdout.write(text);
    return;
  }
  const file = outputFilePath(io, path, 'output');
  try {
    writeFileSync(file, text);
  } catch (e) {
    throw new CliError(`cannot write '${path}': ${(e as Error).message}`);
  }
}
