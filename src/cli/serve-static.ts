// `tessera serve-static DIR`: a folder over HTTP with the headers that make a page cross-origin
// isolated (COOP/COEP), which a browser needs before it shares WebAssembly memory with worker
// threads. For the web demo (examples/web/) and the browser tests; not a production server.
import { createReadStream, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, resolve, sep } from 'node:path';
import { CliError, EXIT_OK, stringOpt, UsageError } from './command.js';
import { registerCommand } from './registry.js';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
  '.wgsl': 'text/plain; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.sha256': 'text/plain; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

/** The response headers that make a page cross-origin isolated (and let it load its own files). */
export const ISOLATION_HEADERS: Readonly<Record<string, string>> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

export interface StaticServerOptions {
  readonly port?: number;
  readonly host?: string;
  /** Send the COOP/COEP headers (default true); false serves a page that is not isolated. */
  readonly isolate?: boolean;
  /** Told of every request: its path and Range header (the browser tests count downloads with it). */
  readonly onRequest?: (r: { readonly path: string; readonly range?: string }) => void;
}

/** `bytes=a-b` (b optional) within a file of `size` bytes, or undefined when it is not one range we serve. */
export function parseRange(header: string, size: number): { start: number; end: number } | undefined {
  const m = /^bytes=(\d+)-(\d*)$/.exec(header.trim());
  if (!m) return undefined;
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  return start <= end ? { start, end } : undefined;
}

export interface StaticServer {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

/** Serves `dir` (files only, nothing outside it) until close(). */
export function serveStatic(dir: string, opts: StaticServerOptions = {}): Promise<StaticServer> {
  const root = resolve(dir);
  const isolate = opts.isolate ?? true;
  const server = createServer((req, res) => {
    const headers: Record<string, string> = { 'Cache-Control': 'no-cache', ...(isolate ? ISOLATION_HEADERS : {}) };
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    opts.onRequest?.({ path, ...(req.headers.range ? { range: req.headers.range } : {}) });
    let file = resolve(join(root, path));
    if (file !== root && !file.startsWith(root + sep)) {
      res.writeHead(403, headers).end('outside the served folder');
      return;
    }
    let size: number;
    try {
      let st = statSync(file);
      if (st.isDirectory()) {
        file = join(file, 'index.html');
        st = statSync(file);
      }
      size = st.size;
    } catch {
      res.writeHead(404, headers).end('not found');
      return;
    }
    const type = TYPES[extname(file)] ?? 'application/octet-stream';
    // One byte range (how a browser fetches a file over 2 GiB in pieces); anything else gets it all.
    const range = req.headers.range === undefined ? undefined : parseRange(req.headers.range, size);
    if (req.headers.range !== undefined && !range) {
      res.writeHead(416, { ...headers, 'Content-Range': `bytes */${size}` }).end();
      return;
    }
    const { start, end } = range ?? { start: 0, end: size - 1 };
    res.writeHead(range ? 206 : 200, {
      ...headers,
      'Content-Type': type,
      'Content-Length': String(end - start + 1),
      'Accept-Ranges': 'bytes',
      ...(range ? { 'Content-Range': `bytes ${start}-${end}/${size}` } : {}),
    });
    if (req.method === 'HEAD' || size === 0) res.end();
    else createReadStream(file, { start, end }).pipe(res);
  });
  return new Promise((done, fail) => {
    server.once('error', fail);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      const a = server.address() as AddressInfo;
      const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
      done({
        url: `http://${host === '127.0.0.1' ? 'localhost' : host}:${a.port}/`,
        server,
        close: () => new Promise<void>((closed) => { server.closeAllConnections(); server.close(() => closed()); }),
      });
    });
  });
}

registerCommand({
  name: 'serve-static',
  summary: 'serve a folder over HTTP with the COOP/COEP headers a threaded web page needs',
  args: '<dir>',
  positionals: { min: 1, max: 1 },
  description: `Serves the files under DIR (index.html for a folder) on localhost, with
Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp, so pages
from it are cross-origin isolated: tessera/web then runs WebAssembly on worker threads sharing one
memory. Runs until interrupted. For development and tests, not production.`,
  options: {
    port: { type: 'string', short: 'p', value: 'N', help: 'port to listen on (default 8080; 0 picks a free one)' },
    host: { type: 'string', value: 'HOST', help: 'address to listen on (default 127.0.0.1)' },
    'no-isolation': { type: 'boolean', help: 'leave the COOP/COEP headers out (to see the one-thread fallback)' },
  },
  examples: [
    { command: 'npm run build:web && tessera serve-static examples/web', says: 'the demo page at http://localhost:8080/' },
  ],
  async run(inv, io) {
    const dir = resolve(io.cwd, inv.positionals[0]);
    try {
      if (!statSync(dir).isDirectory()) throw new Error('not a folder');
    } catch (e) {
      throw new CliError(`${dir}: cannot serve it (${(e as Error).message})`);
    }
    const portText = stringOpt(inv, 'port') ?? '8080';
    const port = Number(portText);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a whole number in 0..65535, got '${portText}'`);
    const s = await serveStatic(dir, { port, host: stringOpt(inv, 'host'), isolate: inv.values['no-isolation'] !== true });
    io.stdout.write(`serving ${dir} at ${s.url}${inv.values['no-isolation'] === true ? ' (not cross-origin isolated)' : ' (cross-origin isolated: COOP/COEP)'}\n`);
    await new Promise<void>((stop) => {
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    await s.close();
    return EXIT_OK;
  },
});
