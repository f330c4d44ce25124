// The `tessera` command line: `main(argv, io)` dispatches to the registered commands and turns
// errors into messages and exit codes (0 ok, 1 failure, 2 usage). bin/tessera.js calls it.
import '../ir/ops/index.js';
import '../passes/index.js';
import { setCompileCacheEnabled } from '../codegen/compile-cache.js';
import { didYouMean } from '../ir/parse/suggest.js';
import { parseCommandArgs } from './cli/args.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from './cli/command.js';
import { errorMessage, exitCodeFor, isUserError } from './cli/errors.js';
import { commandHelp, overviewHelp } from './cli/help.js';
import { type CliIO, processIO } from './cli/io.js';
import { loadAllCommands, loadCommand } from './cli/commands.js';
import { findCommand, listCommands } from './cli/registry.js';
import { packageVersion } from './cli/version.js';

export type { CliIO } from './cli/io.js';

export async function main(argv: readonly string[], io: CliIO = processIO()): Promise<number> {
  const [first, ...rest] = argv;
  let command: string | undefined;
  try {
    // Only the command that runs is loaded; help (and an unknown name's answer) lists them all.
    if (first === undefined || first === '--help' || first === '-h' || first === 'help') await loadAllCommands();
    else await loadCommand(first);
    if (first === undefined) {
      io.stderr.write(overviewHelp());
      return EXIT_USAGE;
    }
    if (first === '--version' || first === '-V') {
      io.stdout.write(`tessera ${packageVersion()}\n`);
      return EXIT_OK;
    }
    if (first === '--help' || first === '-h') {
      io.stdout.write(overviewHelp());
      return EXIT_OK;
    }
    if (first.startsWith('-')) throw new UsageError(`unknown option '${first}' (options come after the command: tessera <command> [options])`);
    const cmd = findCommand(first);
    if (!cmd) {
      await loadAllCommands();
      const names = listCommands().map((c) => c.name);
      throw new UsageError(`unknown command '${first}'${didYouMean(first, names)} (commands: ${names.join(', ')})`);
    }
    command = cmd.name;
    const inv = parseCommandArgs(cmd, rest);
    if (inv.values.help === true) {
      io.stdout.write(commandHelp(cmd));
      return EXIT_OK;
    }
    const noCache = inv.values['no-cache'] === true;
    if (noCache) setCompileCacheEnabled(false);
    try {
      return await cmd.run(inv, io);
    } finally {
      if (noCache) setCompileCacheEnabled(undefined);
    }
  } catch (e) {
    const who = command ? `tessera ${command}` : 'tessera';
    if (isUserError(e)) {
      io.stderr.write(`${who}: ${errorMessage(e)}\n`);
      if (e instanceof UsageError) io.stderr.write(`Run 'tessera help${command ? ` ${command}` : ''}' for usage.\n`);
      return exitCodeFor(e);
    }
    // Anything else is a bug in Tessera, not in the user's input.
    io.stderr.write(`${who}: internal error: ${errorMessage(e)}\n`);
    if (io.env.TESSERA_DEBUG && e instanceof Error && e.stack) io.stderr.write(`${e.stack}\n`);
    else io.stderr.write('(set TESSERA_DEBUG=1 for the stack trace; please report this)\n');
    return EXIT_FAILURE;
  }
}
