// `tessera verify`: parse and verify graph files; report every problem with file:line:column.
import type { Graph } from '../../ir/graph.js';
import { EXIT_FAILURE, EXIT_OK, flagOpt } from './command.js';
import { loadGraph, verifyMessages } from './load.js';
import { registerCommand } from './registry.js';
import { errorMessage } from './errors.js';

const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

function summary(g: Graph): string {
  const state = g.stateInputs().length;
  const parts = [count(g.nodes.length, 'node'), count(g.params.length, 'param'), `${count(g.inputs.length, 'input')}${state ? ` (${state} state)` : ''}`, count(g.outputs.length, 'output')];
  if (g.updates.length) parts.push(count(g.updates.length, 'state update'));
  return parts.join(', ');
}

registerCommand({
  name: 'verify',
  summary: 'check that graph files parse and are well formed',
  args: '<file.ir>...',
  positionals: { min: 1, max: Infinity },
  description: `Parses each file and runs the verifier (SSA form, known ops, attributes, declared symbols,
result types equal to what each op infers). Prints "ok: …" for a valid graph; otherwise every
problem, located as file:line:column, on standard error. Exit code 1 if any file fails. A file is
held to what running it needs (at least one output, an update for every state input, eps > 0)
unless --fragment says it is a piece of a graph.`,
  options: {
    fragment: { type: 'boolean', help: 'a piece of a graph: no outputs, states without updates and eps 0 are allowed' },
  },
  examples: [
    { command: 'tessera verify model.ir', says: 'ok: 412 nodes, 291 params, 2 inputs, 1 output' },
    { command: 'tessera verify build/*.ir', says: 'check several files; each line starts with the file name' },
  ],
  async run(inv, io) {
    let failed = 0;
    const many = inv.positionals.length > 1;
    for (const file of inv.positionals) {
      let graph: Graph;
      try {
        graph = await loadGraph(file, io);
      } catch (e) {
        io.stderr.write(`${errorMessage(e)}\n`);
        failed++;
        continue;
      }
      const issues = verifyMessages(graph, file, !flagOpt(inv, 'fragment'));
      if (issues.length === 0) {
        io.stdout.write(`${many ? `${file}: ` : ''}ok: ${summary(graph)}\n`);
        continue;
      }
      failed++;
      io.stderr.write(`${issues.join('\n')}\n${file}: ${count(issues.length, 'error')}\n`);
    }
    return failed ? EXIT_FAILURE : EXIT_OK;
  },
});
