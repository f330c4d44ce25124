// `tessera serve` as a process (the built CLI in dist/): it says where it listens, and SIGTERM
// drains it: a stream in flight finishes with [DONE], new connections are refused, exit code 0.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { hasShared, sharedPath } from '../helpers/shared.js';

const CLI = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../bin/tessera.js');
const TEMPLATE = fileURLToPath(new URL('../chat/fixtures/tinystories.jinja', import.meta.url));

async function until(check: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !check(); waited += 20) {
    if (waited > 60_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.runIf(hasShared('models', 'tinystories-656k'))('tessera serve (process)', () => {
  it('SIGTERM lets the running stream finish, refuses new connections and exits 0', async () => {
    const child = spawn(process.execPath, [CLI, 'serve', '-m', sharedPath('models', 'tinystories-656k'), '--chat-template', TEMPLATE, '--port', '0', '--backend', 'reference', '--api-key', 'k'], { stdio: 'pipe' }) as ChildProcessWithoutNullStreams;
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
    try {
      await until(() => /serving .* on http:\/\/127\.0\.0\.1:\d+\/v1/.test(stderr), 'the server to listen');
      const base = /on (http:\/\/127\.0\.0\.1:\d+)\/v1/.exec(stderr)![1];
      expect(stderr).toMatch(/1 slot, backend reference, API key required/);
      const res = await fetch(`${base}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: 'Bearer k', 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'tinystories-656k', messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 60, temperature: 0, stream: true }),
      });
      expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
      const reader = res.body!.getReader();
      let body = new TextDecoder().decode((await reader.read()).value);
      child.kill('SIGTERM');
      await until(() => /draining/.test(stderr), 'the drain to start');
      for (let r = await reader.read(); !r.done; r = await reader.read()) body += new TextDecoder().decode(r.value);
      const events = body.split('\n\n').filter(Boolean);
      expect(events.at(-1)).toBe('data: [DONE]');
      expect(events.every((e) => e.startsWith('data: '))).toBe(true);
      const last = JSON.parse(events.at(-2)!.slice('data: '.length));
      expect(['length', 'stop']).toContain(last.choices[0].finish_reason);
      expect(await exited).toBe(0);
      await expect(fetch(`${base}/health`)).rejects.toThrow();
      expect(stderr).toMatch(/stopped/);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
