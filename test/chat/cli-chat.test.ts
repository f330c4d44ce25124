// `tessera chat`: one answer to --messages (in process), and the interactive loop driven through
// piped standard input of the built CLI (dist/): turns, /reset, /exit, Ctrl-C, a GGUF's own template.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { hasShared, sharedPath } from '../helpers/shared.js';
import { ggufWithMetadata } from './gguf-with-template.js';

const CLI = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../bin/tessera.js');
const TEMPLATE = fileURLToPath(new URL('./fixtures/tinystories.jinja', import.meta.url));

async function cli(...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) }, cwd: process.cwd(), env: process.env });
  return { code, stdout, stderr };
}

/** The built CLI with piped stdio; `output` collects what it wrote so far. */
function start(...argv: string[]) {
  const child = spawn(process.execPath, [CLI, ...argv], { stdio: 'pipe' }) as ChildProcessWithoutNullStreams;
  const output = { stdout: '', stderr: '' };
  child.stdout.on('data', (d: Buffer) => (output.stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output.stderr += d.toString()));
  const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
  return { child, output, exited };
}

const until = async (check: () => boolean, what: string) => {
  for (let waited = 0; !check(); waited += 20) {
    if (waited > 60_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe.runIf(hasShared('models', 'tinystories-656k'))('tessera chat', () => {
  const model = sharedPath('models', 'tinystories-656k');
  let tmp: string;
  beforeAll(() => { tmp = mkdtempSync(join(tmpdir(), 'tessera-chat-cli-')); });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('--messages FILE.json writes one answer to stdout, statistics to stderr', async () => {
    const file = join(tmp, 'talk.json');
    writeFileSync(file, JSON.stringify({ messages: [{ role: 'user', content: 'Once upon a time' }] }));
    const r = await cli('chat', '-m', model, '--chat-template', TEMPLATE, '--messages', file, '-n', '12', '--backend', 'reference', '--system', 'Tom was a boy.');
    expect(r.stderr).toMatch(/\[reference\] prompt \d+ tokens \(0 cached\) · 12 tokens at [\d.]+ tok\/s · stop: max_tokens/);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().length).toBeGreaterThan(10);
    expect(r.stdout.endsWith('\n')).toBe(true);
  });

  it('--json-schema constrains the answer (the vocabulary has no braces, so a scalar schema); a bad schema fails before the model loads', async () => {
    const messages = join(tmp, 'ask.json');
    writeFileSync(messages, JSON.stringify([{ role: 'user', content: 'Is the sky blue?' }]));
    const schema = join(tmp, 'bool.json');
    writeFileSync(schema, JSON.stringify({ type: 'boolean' }));
    const r = await cli('chat', '-m', model, '--chat-template', TEMPLATE, '--messages', messages, '-n', '8', '-t', '1.5', '--seed', '3', '--backend', 'reference', '--json-schema', schema);
    expect(r.code).toBe(0);
    expect(typeof JSON.parse(r.stdout)).toBe('boolean');
    const bad = join(tmp, 'bad-schema.json');
    writeFileSync(bad, JSON.stringify({ not: {} }));
    const b = await cli('chat', '-m', model, '--chat-template', TEMPLATE, '--messages', messages, '--json-schema', bad);
    expect(b.code).not.toBe(0);
    expect(b.stderr).toMatch(/not/);
  });

  it('a model without a template, none given: exit 1 naming --chat-template; a bad conversation names the message', async () => {
    const r = await cli('chat', '-m', model, '--backend', 'reference', '--messages', join(tmp, 'none.json'));
    expect(r.code).toBe(1);
    const file = join(tmp, 'bad.json');
    writeFileSync(file, JSON.stringify([{ role: 'user', content: 3 }]));
    const bad = await cli('chat', '-m', model, '--chat-template', TEMPLATE, '--backend', 'reference', '--messages', file);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/bad\.json: messages\[0\]\.content must be a string/);
    writeFileSync(file, JSON.stringify([{ role: 'user', content: 'Hi' }]));
    const missing = await cli('chat', '-m', model, '--backend', 'reference', '--messages', file);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/has no chat template.*--chat-template FILE/);
  });

  it('interactive over piped stdin: answers per line, later turns reuse the cache, /reset and /exit', async () => {
    const run = start('chat', '-m', model, '--chat-template', TEMPLATE, '-n', '16', '--backend', 'reference', '--system', 'Tom was a boy.');
    run.child.stdin.end('Once upon a time\nThe dog\n\n/reset\nA cat\n/exit\nnot read\n');
    expect(await run.exited).toBe(0);
    const stats = [...run.output.stderr.matchAll(/prompt (\d+) tokens \((\d+) cached\)/g)].map((m) => [Number(m[1]), Number(m[2])]);
    expect(stats).toHaveLength(3);
    expect(stats[0][1]).toBe(0);
    expect(stats[1][1]).toBeGreaterThan(stats[0][0]); // the first turn and its answer were cached
    expect(stats[2][1]).toBeLessThan(stats[1][1]); // after /reset only the system prompt matches
    expect(run.output.stderr).toMatch(/\(conversation reset\)/);
    expect(run.output.stdout.trim().split('\n').length).toBeGreaterThanOrEqual(3);
  });

  it('Ctrl-C stops the answer being written, not the program', async () => {
    const run = start('chat', '-m', model, '--chat-template', TEMPLATE, '-n', '500', '--backend', 'reference');
    run.child.stdin.write('Once upon a time\n');
    await until(() => run.output.stdout.length > 0, 'the first answer to start');
    run.child.kill('SIGINT');
    await until(() => /stop: /.test(run.output.stderr), 'the first answer to end');
    expect(run.output.stderr).toMatch(/stop: aborted \(Ctrl-C\)/);
    run.child.stdin.end('Lily\n/exit\n');
    expect(await run.exited).toBe(0);
    expect(run.output.stderr.match(/stop: /g)).toHaveLength(2);
  });

  it('holds a conversation with a GGUF that carries its own template (no --chat-template)', async () => {
    const gguf = join(tmp, 'with-template.gguf');
    writeFileSync(gguf, ggufWithMetadata(join(model, 'TinyStories-656K.f16.gguf'), { 'tokenizer.chat_template': '{{ bos_token }}{% for m in messages %}{{ m.content }}{% if m.role == "assistant" %} {{ eos_token }} {% endif %}{% endfor %}' }));
    const run = start('chat', '-m', gguf, '-n', '16', '--backend', 'reference');
    run.child.stdin.end('Once upon a time\nThe bird\n');
    expect(await run.exited).toBe(0);
    const cached = [...run.output.stderr.matchAll(/\((\d+) cached\)/g)].map((m) => Number(m[1]));
    expect(cached).toHaveLength(2);
    expect(cached[1]).toBeGreaterThan(0);
    expect(run.output.stderr).toMatch(/\[reference\]/);
  });
});
