// The demo page (examples/web/) staged for a browser test: its script and the engine worker bundled
// with esbuild into a temporary folder beside the artifacts it opens, served by `tessera serve-static`'s server.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The demo's page script and its engine worker, bundled as `npm run build:web` does. */
export const DEMO_BUILD = {
  entryPoints: { main: join(ROOT, 'examples/web/main.ts'), worker: join(ROOT, 'src/web/worker-entry.ts') },
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  logLevel: 'warning',
} as const;

export interface StagedSite {
  readonly dir: string;
  /** Where artifact `name` is, relative to the page. */
  artifactUrl(name: string): string;
  remove(): void;
}

/** The demo page built into a fresh folder, with each artifact folder linked under artifacts/. */
export async function stageDemoSite(artifacts: Readonly<Record<string, string>>): Promise<StagedSite> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-web-'));
  copyFileSync(join(ROOT, 'examples/web/index.html'), join(dir, 'index.html'));
  await build({ ...DEMO_BUILD, outdir: join(dir, 'dist') });
  mkdirSync(join(dir, 'artifacts'));
  for (const [name, path] of Object.entries(artifacts)) symlinkSync(resolve(path), join(dir, 'artifacts', name));
  return { dir, artifactUrl: (name) => `artifacts/${name}/`, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
