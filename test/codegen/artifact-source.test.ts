// An artifact keeps the AssemblyScript of its CPU module beside cpu.wasm (cpu.ts), with a checksum
// in the manifest like every other file: the reader refuses a cpu.ts edited after compilation.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MANIFEST_FILE } from '../../codegen/artifact/manifest.js';
import { readArtifact } from '../../codegen/artifact/read.js';
import { writeArtifact } from '../../codegen/artifact/write.js';

const SOURCE = 'export function k_0(args: usize, tid: i32, nthreads: i32): void {}\n';

describe('artifact CPU source', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-cpu-source-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  writeArtifact(dir, {
    tessera: 'test', model: { source: 'none', sourceFormat: 'none', config: {} }, passes: 'none', graphs: {},
    resolve: () => { throw new Error('no weights'); },
    wasm: { binary: new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]), source: SOURCE, kernels: [], features: [], programs: {} },
  });

  it('writes cpu.ts with the module source and lists it in the manifest', () => {
    expect(readFileSync(join(dir, 'cpu.ts'), 'utf8')).toBe(SOURCE);
    const manifest = JSON.parse(readFileSync(join(dir, MANIFEST_FILE), 'utf8'));
    expect(manifest.targets.wasm.source).toEqual({ file: 'cpu.ts', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(() => readArtifact(dir)).not.toThrow();
  });

  it('refuses a cpu.ts changed after compilation', () => {
    writeFileSync(join(dir, 'cpu.ts'), `${SOURCE}// edited\n`);
    expect(() => readArtifact(dir)).toThrow(/cpu\.ts does not match its checksum/);
  });
});
