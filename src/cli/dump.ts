// `tessera dump`: read a graph, run a pass pipeline with the instrumentation flags a compiler
// engineer expects (print IR around passes, dump files, timing), and print the result.
import { resolve } from 'node:path';
import type { PassFilter } from '../../passes/instruments.js';
import { runPipeline } from '../../passes/pass-manager.js';
import { formatTimingReport } from '../../passes/timing.js';
import { cloneGraph, type Graph } from '../../ir/graph.js';
import { opCountTable } from '../../passes/stats.js';
import { Encoder } from '../encoder.js';
import { Model, modelTask } from '../model.js';
import { CliError, EXIT_OK, flagOpt, type Invocation, listOpt, stringOpt, UsageError } from './command.js';
import { loadGraph, verifyMessages } from './load.js';
import { EMIT_LANGUAGES, type EmitLanguage, kernelText } from './kernel-text.js';
import { registerCommand } from './registry.js';
import { type Format, formatForPath, FORMATS, renderGraph, writeOutput } from './render.js';

/** `--print-ir-after a,b --print-ir-after c` → [a, b, c]; 'all' anywhere, or the -all flag, selects every pass. */
function passFilter(inv: Invocation, option: string): PassFilter | undefined {
  if (flagOpt(inv, `${option}-all`)) return 'all';
  const names = listOpt(inv, option).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  if (names.includes('all')) return 'all';
  return names.length ? names : undefined;
}

/** A model's graph as its builder makes it (no passes yet). */
function modelGraph(path: string, logits: 'all' | 'last'): Graph {
  return modelTask(path) === 'decoder' ? Model.load(path).graph({ logits }) : Encoder.load(path).graph();
}

registerCommand({
  name: 'dump',
  summary: 'print a graph (text IR, JSON, DOT or SVG) after running passes',
  args: '[<file.ir>]',
  positionals: { min: 0, max: 1 },
  description: `Reads a graph (text IR, or the JSON form when the file ends in .json), verifies it, runs the
pass pipeline given by --passes (none by default) and prints the result to standard output, or
to the file given by -o. IR printed around passes and the timing table go to standard error.
The text output parses back to the same graph.`,
  options: {
    model: { type: 'string', short: 'm', value: 'PATH', help: "a model (HF directory, .gguf, llama2.c .bin) instead of a graph file: dump its step graph" },
    logits: { type: 'string', value: 'WHICH', choices: ['all', 'last'], help: "with --model: the decoder graph's logits for every position or only the last (default all)" },
    passes: { type: 'string', value: 'PIPELINE', help: "passes to run: pass and pipeline names, e.g. 'default' or 'canonicalize,cse' (default: none)" },
    target: { type: 'string', value: 'TARGET', help: 'pick the named pipelines for this target (e.g. webgpu, wasm)' },
    'print-ir-before': { type: 'string', multiple: true, value: 'PASSES', help: 'print the IR before these passes (comma-separated names)' },
    'print-ir-after': { type: 'string', multiple: true, value: 'PASSES', help: 'print the IR after these passes' },
    'print-ir-before-all': { type: 'boolean', help: 'print the IR before every pass' },
    'print-ir-after-all': { type: 'boolean', help: 'print the IR after every pass' },
    'print-ir-after-change': { type: 'boolean', help: 'print after a pass only if it changed the IR (alone: after every pass that did)' },
    'dump-dir': { type: 'string', value: 'DIR', help: 'write 000-input.ir and NNN-<pass>.ir after every pass into DIR' },
    timing: { type: 'boolean', help: 'print a table of per-pass wall time and statistics' },
    stats: { type: 'boolean', help: 'print node counts by op before and after the pipeline (to standard error)' },
    'no-verify-each': { type: 'boolean', help: 'do not verify the graph after every pass' },
    emit: { type: 'string', value: 'LANG', choices: EMIT_LANGUAGES, help: "print the generated kernel source instead of the graph: 'wgsl' (webgpu, default target) or 'as' (wasm's AssemblyScript)" },
    node: { type: 'string', value: 'NAME', help: 'with --emit: only the kernels of the node with this result (e.g. %rms_norm_3)' },
    format: { type: 'string', value: 'FORMAT', choices: FORMATS, help: 'output format (default: from the -o extension, else text)' },
    output: { type: 'string', short: 'o', value: 'FILE', help: 'write the result to FILE instead of standard output' },
  },
  examples: [
    { command: 'tessera dump model.ir', says: 'check and pretty-print a graph' },
    { command: 'tessera dump -m ../shared/models/tinystories-656k --passes default --print-ir-after-all', says: "a model's step graph after each pass" },
    { command: 'tessera dump -m ../shared/refs/gemma2 --passes default --stats -o /dev/null', says: 'node counts by op before and after the default pipeline' },
    { command: 'tessera dump model.ir --passes default --timing', says: 'run the default pipeline; show what each pass did and how long it took' },
    { command: 'tessera dump model.ir --passes canonicalize --print-ir-after-change', says: 'show the IR after each pass that changed it' },
    { command: "tessera dump model.ir --passes 'cse,dce' --dump-dir /tmp/ir", says: 'write /tmp/ir/000-input.ir, 001-cse.ir, 002-dce.ir' },
    { command: 'tessera dump model.ir --format svg -o model.svg', says: 'draw the graph (needs Graphviz)' },
    { command: 'tessera dump -m ../shared/models/stories260K/stories260K.bin --passes default --emit wgsl', says: "every kernel of the model's fused step graph, as WGSL" },
    { command: 'tessera dump -m ../shared/models/stories260K/stories260K.bin --emit as --node rms_norm', says: 'the AssemblyScript of one node (named by its result)' },
  ],
  async run(inv, io) {
    const file = inv.positionals[0];
    const modelPath = stringOpt(inv, 'model');
    if ((file === undefined) === (modelPath === undefined)) throw new UsageError('give either a graph file or --model PATH', 'dump');
    const out = stringOpt(inv, 'output');
    const format = (stringOpt(inv, 'format') ?? formatForPath(out)) as Format;
    const emit = stringOpt(inv, 'emit') as EmitLanguage | undefined;
    if (stringOpt(inv, 'node') !== undefined && !emit) throw new UsageError('--node selects kernels: give --emit wgsl or --emit as with it', 'dump');
    let graph: Graph;
    if (modelPath !== undefined) {
      graph = modelGraph(resolve(io.cwd, modelPath), (stringOpt(inv, 'logits') ?? 'all') as 'all' | 'last');
    } else {
      graph = await loadGraph(file!, io);
      const issues = verifyMessages(graph, file!);
      if (issues.length) throw new CliError(`${file} is not a valid graph:\n  ${issues.join('\n  ')}`);
    }

    const before = flagOpt(inv, 'stats') ? cloneGraph(graph) : undefined;
    const dumpDir = stringOpt(inv, 'dump-dir');
    const run = runPipeline(graph, stringOpt(inv, 'passes') ?? 'none', {
      target: stringOpt(inv, 'target'),
      verifyEach: !flagOpt(inv, 'no-verify-each'),
      printIRBefore: passFilter(inv, 'print-ir-before'),
      printIRAfter: passFilter(inv, 'print-ir-after'),
      printIRAfterChange: flagOpt(inv, 'print-ir-after-change'),
      dumpDir: dumpDir ? resolve(io.cwd, dumpDir) : undefined,
      log: (text) => io.stderr.write(text),
    });
    if (flagOpt(inv, 'timing')) io.stderr.write(formatTimingReport(run));
    if (before) io.stderr.write(`${opCountTable(before, run.graph)}\n`);
    if (emit) {
      writeOutput(kernelText(run.graph, emit, stringOpt(inv, 'node')), out, io);
      return EXIT_OK;
    }
    writeOutput(renderGraph(run.graph, format, io), out, io);
    return EXIT_OK;
  },
});
