// Which compiled CLI bin/tessera.js runs: the bundle in dist/cli/ (scripts/build-cli.mjs, a few
// files instead of ~190 modules) while it is at least as new as tsc's output in dist/src/, else
// tsc's output itself. tsc rewrites every output on each build, so a `tsc` run after the bundle
// (a developer's rebuild) makes dist/src/cli.js newer and the stale bundle is passed over; an npm
// install sets every mtime alike, which counts as fresh. Two stats per start.
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The module to import for `main`, or undefined when dist/ holds no build. */
export function cliEntry(dist) {
  const compiled = new URL('src/cli.js', dist);
  const bundle = new URL('cli/cli.js', dist);
  const mtime = (url) => statSync(fileURLToPath(url), { throwIfNoEntry: false })?.mtimeMs;
  const compiledAt = mtime(compiled);
  if (compiledAt === undefined) return undefined;
  const bundledAt = mtime(bundle);
  return bundledAt !== undefined && bundledAt >= compiledAt ? bundle : compiled;
}
