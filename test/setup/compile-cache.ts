// Every test run gets its own empty compile cache: tests never read what an earlier run (or the
// developer's own use of the CLI) left in ~/.cache/tessera, so a run on CI and here see the same
// cold start, while the test files of one run share the modules they compile.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-test-cache-'));
  process.env.TESSERA_CACHE_DIR = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}
