// The command registry. src/cli/commands.ts imports every command module; each registers itself.
import type { Command } from './command.js';

const commands = new Map<string, Command>();

export function registerCommand(cmd: Command): Command {
  if (commands.has(cmd.name)) throw new Error(`command '${cmd.name}' is registered twice`);
  commands.set(cmd.name, cmd);
  return cmd;
}

export function findCommand(name: string): Command | undefined {
  return commands.get(name);
}

/** Every command, sorted by name. */
export function listCommands(): Command[] {
  return [...commands.values()].sort((a, b) => a.name.localeCompare(b.name));
}
