// Help texts: the overview, one page per command (usage, options, examples), and the list of
// passes and pipelines; plus the `help` command that shows them.
import { listPasses } from '../../passes/registry.js';
import { listPipelines } from '../../passes/pipeline.js';
import { allOptions } from './args.js';
import { type Command, EXIT_OK, UsageError } from './command.js';
import { findCommand, listCommands, registerCommand } from './registry.js';
import { packageVersion } from './version.js';
import { didYouMean } from '../../ir/parse/suggest.js';

/** Two columns: terms padded to the widest, descriptions after. */
function columns(rows: readonly [string, string][], indent = '  '): string {
  const width = Math.max(0, ...rows.map(([a]) => a.length));
  return rows.map(([a, b]) => `${indent}${a.padEnd(width)}  ${b}`.trimEnd()).join('\n');
}

export function overviewHelp(): string {
  return `tessera ${packageVersion()}: a compiler and runtime for transformer language models

Usage: tessera <command> [options]

Commands:
${columns(listCommands().map((c) => [c.name, c.summary]))}

Options:
${columns([['-h, --help', 'show help (also: tessera help <command>)'], ['-V, --version', 'print the version']])}

Exit codes: 0 success; 1 failure (unreadable or invalid input, a pass or check failed); 2 usage error.
Run 'tessera help <command>' for a command's options and examples, 'tessera help passes' for passes and pipelines.
`;
}

export function commandHelp(cmd: Command): string {
  const opts = Object.entries(allOptions(cmd)).map(([name, s]): [string, string] => {
    const flag = `${s.short ? `-${s.short}, ` : '    '}--${name}${s.type === 'string' ? ` ${s.value ?? 'VALUE'}` : ''}`;
    const choices = s.choices ? ` (${s.choices.join('|')})` : '';
    return [flag, `${s.help}${choices}${s.multiple ? ' (repeatable)' : ''}`];
  });
  const examples = cmd.examples.map((e) => `  ${e.command}\n      ${e.says}`).join('\n');
  return `tessera ${cmd.name}: ${cmd.summary}

Usage: tessera ${cmd.name} ${cmd.args}${cmd.args ? ' ' : ''}[options]
${cmd.description ? `\n${cmd.description.trim()}\n` : ''}
Options:
${columns(opts)}
${examples ? `\nExamples:\n${examples}\n` : ''}`;
}

export function passesHelp(): string {
  const passes = listPasses().map((p): [string, string] => {
    const opts = Object.entries(p.options ?? {}).map(([k, s]) => `${k}=${s.type}${s.default !== undefined ? ` (default ${String(s.default)})` : ''}`);
    return [p.name, `${p.description}${opts.length ? `; options: ${opts.join(', ')}` : ''}`];
  });
  const pipelines = listPipelines().map((p): [string, string] => [
    p.target ? `${p.name} (target ${p.target})` : p.name,
    `${p.passes || '(no passes)'}${p.description !== p.passes ? `: ${p.description}` : ''}`,
  ]);
  return `Passes:
${columns(passes)}

Pipelines:
${columns(pipelines)}

A pipeline string lists passes and pipelines separated by commas; a pass may take options in
braces: --passes 'canonicalize,flash-attention{tile=64}'.
`;
}

registerCommand({
  name: 'help',
  summary: 'show help for a command, or list the passes and pipelines',
  args: '[command|passes]',
  positionals: { min: 0, max: 1 },
  options: {},
  examples: [
    { command: 'tessera help dump', says: "the options of 'tessera dump'" },
    { command: 'tessera help passes', says: 'every registered pass and named pipeline' },
  ],
  async run(inv, io) {
    const topic = inv.positionals[0];
    if (!topic) io.stdout.write(overviewHelp());
    else if (topic === 'passes' || topic === 'pipelines') io.stdout.write(passesHelp());
    else {
      const cmd = findCommand(topic);
      const names = [...listCommands().map((c) => c.name), 'passes'];
      if (!cmd) throw new UsageError(`no help for '${topic}'${didYouMean(topic, names)} (topics: ${names.join(', ')})`);
      io.stdout.write(commandHelp(cmd));
    }
    return EXIT_OK;
  },
});
