// Command-line parsing on node:util parseArgs, with messages that say what to type instead.
// parseArgs runs non-strict with tokens so that every problem is reported here in our words.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { didYouMean } from '../../ir/parse/suggest.js';
import { type Command, type Invocation, type OptionSpec, type OptionValue, UsageError } from './command.js';

export const HELP_OPTION: OptionSpec = { type: 'boolean', short: 'h', help: 'show this help' };

/** The command's options plus --help, which every command takes. */
export function allOptions(cmd: Command): Record<string, OptionSpec> {
  return { ...cmd.options, help: HELP_OPTION };
}

export function parseCommandArgs(cmd: Command, argv: readonly string[]): Invocation {
  const specs = allOptions(cmd);
  const config: NonNullable<ParseArgsConfig['options']> = {};
  for (const [name, s] of Object.entries(specs)) {
    // parseArgs rejects keys that are present but undefined.
    config[name] = { type: s.type, ...(s.short ? { short: s.short } : {}), ...(s.multiple ? { multiple: true } : {}) };
  }
  const fail = (msg: string): never => {
    throw new UsageError(msg, cmd.name);
  };

  const parsed = parseArgs({ args: [...argv], options: config, strict: false, allowPositionals: true, tokens: true });
  const seen = new Set<string>();
  for (const t of parsed.tokens) {
    if (t.kind !== 'option') continue;
    const spec = specs[t.name];
    if (!spec) {
      const names = Object.keys(specs).map((n) => `--${n}`);
      fail(`unknown option '${t.rawName}'${didYouMean(`--${t.name}`, names)}`);
    }
    if (spec.type === 'string') {
      const placeholder = spec.value ?? 'VALUE';
      if (t.value === undefined) fail(`option '${t.rawName}' needs a value: ${t.rawName} ${placeholder}`);
      // `--passes --timing` almost always means a forgotten value, not a pipeline named --timing;
      // a negative number (`-n -1`, `--frequency-penalty -0.5`) is a value, checked by its command.
      if (!t.inlineValue && t.value!.startsWith('-') && t.value !== '-' && !/^-\.?\d/.test(t.value!)) fail(`option '${t.rawName}' needs a value, got the option '${t.value}' (write ${t.rawName}=${t.value} if you mean it)`);
      if (spec.choices && !spec.choices.includes(t.value!)) fail(`option '${t.rawName}' must be one of ${spec.choices.join(', ')}, got '${t.value}'`);
    } else if (t.value !== undefined) {
      fail(`option '${t.rawName}' takes no value (got '${t.value}')`);
    }
    if (!spec.multiple && seen.has(t.name)) fail(`option '--${t.name}' is given twice`);
    seen.add(t.name);
  }
  const values = parsed.values as Record<string, OptionValue>;
  if (values.help !== true) {
    const n = parsed.positionals.length;
    const { min, max } = cmd.positionals;
    if (n < min) fail(`missing argument: tessera ${cmd.name} ${cmd.args}`);
    if (n > max) fail(`too many arguments (${parsed.positionals.slice(max).map((p) => `'${p}'`).join(', ')}): tessera ${cmd.name} ${cmd.args}`);
  }
  return { command: cmd.name, values, positionals: parsed.positionals };
}
