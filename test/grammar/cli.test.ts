// tessera generate --grammar-file / --json-schema / --json, in process.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { hasShared, sharedPath } from '../helpers/shared.js';
import { validate } from './helpers/json-validate.js';

async function cli(...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) }, cwd: process.cwd(), env: process.env });
  return { code, stdout, stderr };
}

const SCHEMA = { type: 'object', properties: { name: { type: 'string', maxLength: 8 }, age: { type: 'integer', minimum: 1, maximum: 99 } }, required: ['name', 'age'], additionalProperties: false };

describe.runIf(hasShared('models', 'stories260K'))('tessera generate with structured output', () => {
  const bin = sharedPath('models', 'stories260K', 'stories260K.bin');
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-grammar-'));
    writeFileSync(join(dir, 'person.json'), JSON.stringify(SCHEMA));
    writeFileSync(join(dir, 'list.gbnf'), 'root ::= word ("," word)*\nword ::= [a-z]+\n');
    writeFileSync(join(dir, 'bad.gbnf'), 'root ::= word\nword ::= [a-z]+ (\n');
    writeFileSync(join(dir, 'bad.json'), '{"type": ');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('--json-schema: stdout is the prompt and JSON that validates', async () => {
    const r = await cli('generate', '-m', bin, '-p', 'Tom', '--json-schema', join(dir, 'person.json'), '-t', '1.2', '--seed', '4', '-n', '300');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/stop: eos/);
    expect(r.stdout.startsWith('Tom')).toBe(true);
    expect(validate(JSON.parse(r.stdout.slice(3)), SCHEMA)).toEqual([]);
  });

  it('--grammar-file and --json constrain greedy decoding too', async () => {
    const list = await cli('generate', '-m', bin, '-p', 'Tom', '--grammar-file', join(dir, 'list.gbnf'), '-n', '20');
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout.slice(3).trimEnd()).toMatch(/^[a-z]+(,[a-z]+)*$/);
    const json = await cli('generate', '-m', bin, '-p', 'Tom', '--json', '-n', '20');
    expect(json.code, json.stderr).toBe(0);
    expect(json.stdout.slice(3)).toMatch(/^\{/);
  });

  it('a malformed grammar or schema fails before the model loads, naming file:line:column or the JSON error', async () => {
    const bad = await cli('generate', '-m', bin, '-p', 'Tom', '--grammar-file', join(dir, 'bad.gbnf'));
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/bad\.gbnf:3:1: expecting '\)' to close the group opened at 2:17, found the end of the grammar/);
    const badJson = await cli('generate', '-m', bin, '-p', 'Tom', '--json-schema', join(dir, 'bad.json'));
    expect(badJson.stderr).toMatch(/--json-schema '.*bad\.json' is not valid JSON/);
    const both = await cli('generate', '-m', bin, '-p', 'Tom', '--json', '--grammar-file', join(dir, 'list.gbnf'));
    expect(both.stderr).toMatch(/at most one of --grammar-file, --json-schema and --json/);
  });
});
