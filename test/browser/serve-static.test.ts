// `tessera serve-static`: files under the folder with the COOP/COEP headers (or without, when
// asked), nothing outside it, and the CLI command starts it.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveStatic, type StaticServer } from '../../src/cli/serve-static.js';

const CLI = resolve(__dirname, '../../bin/tessera.js');

describe('serve-static', () => {
  let dir: string;
  let server: StaticServer;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-serve-static-'));
    mkdirSync(join(dir, 'site'));
    writeFileSync(join(dir, 'site', 'index.html'), '<p>hi</p>');
    writeFileSync(join(dir, 'site', 'cpu.wasm'), new Uint8Array([0, 97, 115, 109]));
    writeFileSync(join(dir, 'secret.txt'), 'outside');
    server = await serveStatic(join(dir, 'site'));
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves a folder index and files with the isolation headers and their types', async () => {
    const page = await fetch(server.url);
    expect(page.status).toBe(200);
    expect(await page.text()).toBe('<p>hi</p>');
    expect(page.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    expect(page.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    const wasm = await fetch(`${server.url}cpu.wasm`);
    expect(wasm.headers.get('content-type')).toBe('application/wasm');
    expect(wasm.headers.get('content-length')).toBe('4');
  });

  it('answers 404 for a missing file and 403 for a path leading out of the folder', async () => {
    expect((await fetch(`${server.url}nope.js`)).status).toBe(404);
    expect((await fetch(`${server.url}..%2fsecret.txt`)).status).toBe(403);
  });

  it('serves one byte range with 206 and Content-Range, refuses one past the end with 416', async () => {
    const part = await fetch(`${server.url}cpu.wasm`, { headers: { Range: 'bytes=1-2' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe('bytes 1-2/4');
    expect(Array.from(new Uint8Array(await part.arrayBuffer()))).toEqual([97, 115]);
    const tail = await fetch(`${server.url}cpu.wasm`, { headers: { Range: 'bytes=2-' } });
    expect(Array.from(new Uint8Array(await tail.arrayBuffer()))).toEqual([115, 109]);
    expect((await fetch(`${server.url}cpu.wasm`, { headers: { Range: 'bytes=9-' } })).status).toBe(416);
    expect((await fetch(`${server.url}cpu.wasm`)).headers.get('accept-ranges')).toBe('bytes');
  });

  it('leaves the headers out when isolation is off', async () => {
    const plain = await serveStatic(join(dir, 'site'), { isolate: false });
    const r = await fetch(plain.url);
    expect(r.headers.get('cross-origin-opener-policy')).toBeNull();
    await plain.close();
  });

  it('tessera serve-static DIR says where it serves, until interrupted', async () => {
    const child = spawn(process.execPath, [CLI, 'serve-static', join(dir, 'site'), '--port', '0'], { stdio: 'pipe' });
    const line = await new Promise<string>((done, fail) => {
      child.stdout.on('data', (b: Buffer) => done(b.toString()));
      child.once('exit', (code) => fail(new Error(`exited with ${code}`)));
    });
    expect(line).toMatch(/^serving .*site at http:\/\/localhost:\d+\/ \(cross-origin isolated: COOP\/COEP\)/);
    const url = /(http:\S+)/.exec(line)![1];
    expect((await fetch(url)).headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    child.kill('SIGINT');
    expect(await new Promise((done) => child.once('exit', done))).toBe(0);
  });
});
