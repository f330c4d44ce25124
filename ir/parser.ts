// The text IR parser: the inverse of printer.ts. `parseGraph(printGraph(g))` gives g back, and any
// other input gives a verified graph or an IRError that says where (line:column) and what was
// expected. Stages, one file each under parse/: lexer → grammar (syntax tree) → build (Graph).
import './ops/index.js';
import { IRError, locToString } from './errors.js';
import type { Graph } from './graph.js';
import { buildGraph } from './parse/build.js';
import { parseGraphAst } from './parse/grammar.js';
import { tokenize } from './parse/lexer.js';
import { verifyIssues } from './verifier.js';

/** Runs a parse, turning anything but an IRError (a bug, or a stack overflow) into one. */
function guarded<T>(parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (e instanceof IRError) throw e;
    const why = e instanceof RangeError ? 'the input nests too deeply' : `internal parser error: ${(e as Error)?.message ?? String(e)}`;
    throw new IRError(why);
  }
}

/**
 * Parses a graph without verifying it: syntax, names (defined once, before use), dtypes, declared
 * symbols, attribute and weight-source schemas are checked; op typing is not. For tools that want
 * every verifier issue rather than the first.
 */
export function parseGraphUnverified(text: string, file?: string): Graph {
  return guarded(() => buildGraph(parseGraphAst(tokenize(text, file), file), text, file));
}

/**
 * Parses and verifies a graph. A verifier failure throws an IRError located at the first issue,
 * listing the others (each with its line:column) on the following lines.
 */
export function parseGraph(text: string, file?: string): Graph {
  const g = parseGraphUnverified(text, file);
  const issues = guarded(() => verifyIssues(g));
  if (issues.length === 0) return g;
  const [first, ...rest] = issues;
  const more = rest.map((i) => `\n  ${i.loc ? `${locToString(i.loc)}: ` : ''}${i.message}`).join('');
  throw new IRError(`${first.message}${more}`, first.loc);
}

// A lone dim is read by hand (parse/dim.ts), so readers of stored dims need not load this parser.
export { parseDim } from './parse/dim.js';
