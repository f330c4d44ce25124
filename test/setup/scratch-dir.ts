// Every test run writes its temporary files under one fresh directory, removed when the run ends:
// TMPDIR is what os.tmpdir() reads, in the test workers and in the CLI processes they spawn, so a
// test that forgets to clean up (or fails before it can) leaves nothing behind in /tmp.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-test-run-'));
  for (const name of ['TMPDIR', 'TMP', 'TEMP']) process.env[name] = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}
