// Tessera inside an application started with Node/V8 flags: the CPU backend's worker threads must
// not inherit flags that Node refuses for workers (it throws ERR_WORKER_INVALID_EXEC_ARGV for
// --expose-gc, for example), nor a parent's --input-type.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasShared, sharedPath } from '../helpers/shared.js';

const INDEX = resolve(__dirname, '../../dist/src/index.js');

describe.runIf(hasShared('models', 'stories260K'))('a host process with its own flags', () => {
  it('runs the wasm backend on 2 threads under --expose-gc and --input-type=module', () => {
    const script = `
      import { Model } from ${JSON.stringify(INDEX)};
      const m = await Model.open(${JSON.stringify(sharedPath('models', 'stories260K', 'stories260K.bin'))}, { backend: 'wasm', threads: 2 });
      const logits = await m.logits([1, 2, 3]);
      await m.dispose();
      globalThis.gc();
      console.log(m.backendReason.split(':')[0], logits.length);`;
    const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.stderr).not.toMatch(/ERR_WORKER_INVALID_EXEC_ARGV/);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(`wasm ${3 * 512}`);
  });
});
