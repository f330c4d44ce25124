// User mistakes on the command line are user errors (issue 18, items 9 and 11): refused before any
// output, with exit 2 for a bad command line and 1 for input the model or file system cannot take,
// and a message naming the option or path and what to do — never "internal error".
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { errorMessage, exitCodeFor, isUserError } from '../../src/cli/errors.js';
import { hasShared, sharedPath } from '../helpers/shared.js';

async function cli(argv: readonly string[], cwd = process.cwd()) {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) }, cwd, env: process.env });
  return { code, stdout, stderr };
}

/** The command fails with `code` and `message` on stderr, prints nothing on stdout, and blames the user. */
async function expectUserError(argv: readonly string[], code: 1 | 2, message: RegExp, cwd?: string): Promise<void> {
  const r = await cli(argv, cwd);
  const what = argv.join(' ').slice(0, 120);
  expect(r.stderr, what).toMatch(message);
  expect(r.stderr, what).not.toMatch(/internal error|please report/);
  expect(r.code, what).toBe(code);
  expect(r.stdout, `${what}: nothing is printed before the check`).toBe('');
}

describe('file-system errors on a named path are user errors', () => {
  const fsError = (code: string, path: string) => Object.assign(new Error(`${code}: raw`), { code, path });

  it('say what is wrong with the path and what to do, exit 1', () => {
    const cases: [Error, RegExp][] = [
      [fsError('ENOENT', '/no/such/folder/file.bin'), /^'\/no\/such\/folder\/file\.bin': the folder '\/no\/such\/folder' does not exist/],
      [fsError('ENOENT', join(tmpdir(), 'missing.bin')), /missing\.bin' does not exist \(check the path\)$/],
      [fsError('EISDIR', '/tmp'), /^'\/tmp' is a folder; name a file instead$/],
      [fsError('EEXIST', '/tmp/x'), /^'\/tmp\/x' already exists and is not a folder; remove it or choose another path$/],
      [fsError('EACCES', '/root/x'), /permission denied for '\/root\/x'/],
    ];
    for (const [e, message] of cases) {
      expect(isUserError(e), (e as NodeJS.ErrnoException).code).toBe(true);
      expect(errorMessage(e)).toMatch(message);
      expect(exitCodeFor(e)).toBe(1);
    }
    expect(isUserError(new TypeError('x')), 'a bug stays a bug').toBe(false);
    expect(isUserError(Object.assign(new Error('x'), { code: 'ENOENT' })), 'without a path it is not the user\'s').toBe(false);
  });
});

describe('graph output paths', () => {
  it('dump -o onto a folder or into a missing one is refused (exit 1)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-hardening-'));
    writeFileSync(join(dir, 'g.ir'), 'graph @g(%x: f32[4]) {\n  %a = silu(%x) : f32[4]\n  output y = %a\n}\n');
    await expectUserError(['dump', 'g.ir', '-o', '.'], 1, /--output '\.' is a folder; name a file to write/, dir);
    await expectUserError(['dump', 'g.ir', '-o', 'missing/g.ir'], 1, /--output 'missing\/g\.ir': the folder '.*missing' does not exist/, dir);
  });
});

describe.runIf(hasShared('models', 'stories260K'))('model commands refuse bad input before any output', () => {
  const bin = sharedPath('models', 'stories260K', 'stories260K.bin');
  const gen = (...args: string[]) => ['generate', '-m', bin, '--backend', 'reference', ...args];
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-hardening-'));
  });

  it('flags out of range name the flag and the valid range (exit 2)', async () => {
    const cases: [string[], RegExp][] = [
      [['-p', 'Once', '-n', '99999999999999999999'], /--max-tokens must be at most 9007199254740991, got '99999999999999999999'/],
      [['-p', 'Once', '-n', '-1'], /--max-tokens must be ≥ 0, got -1/],
      [['-p', 'Once', '--repeat-penalty', '0'], /--repeat-penalty must be > 0, got 0/],
      [['-p', 'Once', '--seed', 'NaN'], /--seed must be a whole number, got 'NaN' \(valid: in \[0, 4294967295\]\)/],
      [['-p', 'Once', '--top-p', '0'], /--top-p must be in \(0, 1\], got 0/],
      [['-p', 'Once', '--threads', '0'], /--threads must be in \[1, 1024\], got 0/],
      [['-p', 'Once', '--spin-micros', '-5'], /--spin-micros must be ≥ 0, got -5/],
      [['-p', 'Once', '--logit-bias', '99999=1'], /--logit-bias: token id 99999 is outside the vocabulary \[0, 512\)/],
      [['-p', 'Once', '--logit-bias', '2=x'], /--logit-bias expects ID=BIAS/],
      [['--ids', '999999'], /--ids: token id 999999 is outside the vocabulary \[0, 512\)/],
      [['-n', '3'], /give the prompt with either --prompt TEXT or --ids 1,2,3/],
    ];
    for (const [args, message] of cases) await expectUserError(gen(...args), 2, message);
    await expectUserError(['logits', '-m', bin, '--backend', 'reference', '--ids', '1,999999'], 2, /--ids: token id 999999 is outside the vocabulary \[0, 512\)/);
  });

  it('a prompt longer than the context is refused before it is echoed (exit 1)', async () => {
    await expectUserError(gen('-p', 'Once upon a time '.repeat(200)), 1, /the prompt has \d+ tokens, more than the model's context of 512; shorten it/);
    await expectUserError(gen('--ids', new Array(513).fill(5).join(',')), 1, /the prompt has 513 tokens, more than the model's context of 512/);
  });

  it('a missing --tokenizer is named (exit 1)', async () => {
    await expectUserError(gen('-p', 'Once', '--tokenizer', 'no/such/tok.bin'), 1, /--tokenizer 'no\/such\/tok\.bin' does not exist \(check the path\)/);
    await expectUserError(['info', '-m', bin, '--tokenizer', 'no/such/tok.bin'], 1, /--tokenizer 'no\/such\/tok\.bin' does not exist/);
  });

  it('-o into a missing folder or onto a folder is refused before the model runs (exit 1)', async () => {
    const logits = (out: string) => ['logits', '-m', bin, '--backend', 'reference', '--ids', '1,2', '-o', out];
    await expectUserError(logits('missing/x.bin'), 1, /--out 'missing\/x\.bin': the folder '.*missing' does not exist \(create it first/, dir);
    await expectUserError(logits('.'), 1, /--out '\.' is a folder; name a file to write/, dir);
  });

  it('compile -o onto an existing file says so (exit 1)', async () => {
    writeFileSync(join(dir, 'a-file'), 'x');
    await expectUserError(['compile', '-m', bin, '-o', 'a-file', '--target', 'none', '-q'], 1, /--output 'a-file' is a file; name a folder for the artifact \(or remove the file\)/, dir);
  }, 60_000);

  it('--backend webgpu without an adapter names the option and the way out (exit 1)', async () => {
    // An adapter filter that matches nothing stands in for a machine without one.
    const saved = process.env.TESSERA_WEBGPU_ADAPTER;
    process.env.TESSERA_WEBGPU_ADAPTER = 'no adapter is called this';
    try {
      await expectUserError(['generate', '-m', bin, '--backend', 'webgpu', '-p', 'Once', '-n', '2'], 1, /^tessera generate: --backend webgpu: [^]*Run on the CPU with --backend wasm, or let --backend auto choose\.$/m);
    } finally {
      if (saved === undefined) delete process.env.TESSERA_WEBGPU_ADAPTER;
      else process.env.TESSERA_WEBGPU_ADAPTER = saved;
    }
  }, 60_000);
});
