// Reading graphs named on the command line: text IR, or the JSON form for files ending in .json.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Graph } from '../../ir/graph.js';
import { parseGraphJSON } from '../../ir/json.js';
import { verifyIssues } from '../../ir/verifier.js';
import { CliError } from './command.js';
import type { CliIO } from './io.js';

export function readTextFile(path: string, io: CliIO): string {
  try {
    return readFileSync(resolve(io.cwd, path), 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    throw new CliError(`cannot read '${path}': ${why}`);
  }
}

/**
 * Parses a graph file without verifying it (callers report every verifier issue, see
 * verifyMessages); syntax errors are IRErrors whose message starts with file:line:column. The text
 * parser (chevrotain) is imported here, on demand: commands that never read IR text skip its cost.
 */
export async function loadGraph(path: string, io: CliIO): Promise<Graph> {
  const text = readTextFile(path, io);
  if (path.endsWith('.json')) return parseGraphJSON(text, path);
  const { parseGraphUnverified } = await import('../../ir/parser.js');
  return parseGraphUnverified(text, path);
}

/**
 * The verifier's findings as `file:line:column: message` lines (empty when the graph is valid);
 * `complete` holds the graph to what running it needs (outputs, every state updated, eps > 0).
 */
export function verifyMessages(g: Graph, path: string, complete = false): string[] {
  return verifyIssues(g, { complete }).map((i) => `${i.loc ? `${i.loc.file ?? path}:${i.loc.line}:${i.loc.column}` : path}: ${i.message}`);
}
