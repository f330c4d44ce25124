#!/usr/bin/env node
// The CLI entry point: runs the compiled TypeScript in dist/ (built by `npm ci` via the prepare
// script), bundled where the bundle is current (cli-entry.js says when).
import { cliEntry } from './cli-entry.js';

const cli = cliEntry(new URL('../dist/', import.meta.url));
if (!cli) {
  console.error('tessera: dist/ is missing; run `npm ci` (or `npm run build`) in the project folder first.');
  process.exit(1);
}
const { main } = await import(cli.href);
process.exitCode = await main(process.argv.slice(2));
