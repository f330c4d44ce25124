// The structured-output flags shared by the text-generating commands: --grammar-file F.gbnf,
// --json-schema F.json, --json. Files are read and compiled before the model loads, so a bad
// grammar fails at once with file:line:column (or a bad schema with its JSON pointer).
import { readFileSync } from 'node:fs';
import { buildGrammar, jsonSchemaToGbnf } from '../../runtime/grammar/index.js';
import type { StructuredOutputParams } from '../../runtime/grammar/options.js';
import { CliError, flagOpt, type Invocation, type OptionSpec, stringOpt, UsageError } from './command.js';
import type { CliIO } from './io.js';
import { inputPath } from './paths.js';

export const STRUCTURED_OUTPUT_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  'grammar-file': { type: 'string', value: 'F.gbnf', help: 'the output follows this GBNF grammar (llama.cpp format, start rule root)' },
  'json-schema': { type: 'string', value: 'F.json', help: 'the output is JSON valid against this JSON schema' },
  json: { type: 'boolean', help: 'the output is a JSON object' },
};

/** The options the flags ask for ({} when none); at most one of them. */
export function structuredOutputParams(inv: Invocation, io: CliIO): StructuredOutputParams {
  const grammarFile = stringOpt(inv, 'grammar-file');
  const schemaFile = stringOpt(inv, 'json-schema');
  const json = flagOpt(inv, 'json');
  const given = [grammarFile !== undefined && '--grammar-file', schemaFile !== undefined && '--json-schema', json && '--json'].filter(Boolean);
  if (given.length > 1) throw new UsageError(`give at most one of --grammar-file, --json-schema and --json (got ${given.join(' and ')})`, inv.command);
  if (grammarFile !== undefined) {
    const path = inputPath(io, grammarFile, 'grammar-file');
    const grammar = readText(path, 'grammar-file');
    buildGrammar(grammar, { file: grammarFile });
    return { grammar };
  }
  if (schemaFile !== undefined) {
    const path = inputPath(io, schemaFile, 'json-schema');
    let jsonSchema: unknown;
    try {
      jsonSchema = JSON.parse(readText(path, 'json-schema'));
    } catch (e) {
      if (e instanceof CliError) throw e;
      throw new CliError(`--json-schema '${schemaFile}' is not valid JSON: ${(e as Error).message}`);
    }
    if (typeof jsonSchema !== 'object' || jsonSchema === null || Array.isArray(jsonSchema)) throw new CliError(`--json-schema '${schemaFile}' must hold a JSON object (a schema)`);
    buildGrammar(jsonSchemaToGbnf(jsonSchema));
    return { jsonSchema };
  }
  return json ? { json: true } : {};
}

function readText(path: string, option: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new CliError(`--${option} '${path}' cannot be read: ${(e as Error).message}`);
  }
}
