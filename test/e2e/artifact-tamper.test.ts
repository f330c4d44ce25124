// Issue 18 item 5: a compiled artifact's manifest.json is checksummed (manifest.sha256) and checked
// against its schema on load. Each tampered copy below is made at test time from a fresh
// stories260K artifact, and each is refused with an ArtifactError naming the field. Most cases
// rehash the manifest, as a careless tool would, so that the schema check (not the checksum) is
// what refuses them.
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArtifactError, MANIFEST_FILE } from '../../codegen/artifact/manifest.js';
import { readArtifact } from '../../codegen/artifact/read.js';
import { MANIFEST_CHECKSUM_FILE } from '../../codegen/artifact/validate.js';
import { compile } from '../../src/compile.js';
import { Model } from '../../src/model.js';
import { hasShared, sharedPath } from '../helpers/shared.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a manifest being edited by hand
type Json = any;

describe.runIf(hasShared('models', 'stories260K'))('tampered artifact manifests are refused, naming the field', () => {
  let root: string;
  let original: string;
  let copies = 0;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'tessera-tamper-'));
    original = join(root, 'original');
    await compile(sharedPath('models', 'stories260K', 'stories260K.bin'), { out: original, targets: ['wasm'] });
  }, 300_000);
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  /** A copy of the artifact with its manifest edited by `edit`; `rehash` rewrites manifest.sha256 to match. */
  function tampered(edit: (m: Json) => void, rehash = true): string {
    const dir = join(root, `copy${copies++}`);
    cpSync(original, dir, { recursive: true });
    const m = JSON.parse(readFileSync(join(dir, MANIFEST_FILE), 'utf8')) as Json;
    edit(m);
    const text = `${JSON.stringify(m, null, 1)}\n`;
    writeFileSync(join(dir, MANIFEST_FILE), text);
    if (rehash) writeFileSync(join(dir, MANIFEST_CHECKSUM_FILE), `${createHash('sha256').update(text).digest('hex')}\n`);
    return dir;
  }

  function refused(dir: string, message: RegExp): void {
    let error: unknown;
    try {
      readArtifact(dir);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ArtifactError);
    expect((error as Error).message).toMatch(message);
  }

  it('loads the untouched artifact', () => {
    expect(() => readArtifact(original)).not.toThrow();
  });

  it("a node whose kernels were removed (it would compute nothing: garbage text)", () => {
    const dir = tampered((m) => { m.targets.wasm.programs.last.nodes[1].kernels = []; });
    refused(dir, /targets\.wasm\.programs\.last\.nodes\[1\]\.kernels is empty, but node 1 \(rope_matmul .*computes a new value.*recompile/);
  });

  it('a number turned into a string, or out of range', () => {
    refused(tampered((m) => { m.weights.bytes = String(m.weights.bytes); }), /weights\.bytes is "\d+", not a whole number/);
    refused(tampered((m) => { m.targets.wasm.programs.all.plan.arenaBytes = -1; }), /targets\.wasm\.programs\.all\.plan\.arenaBytes is -1, not a whole number ≥ 0/);
    refused(tampered((m) => { m.targets.wasm.programs.last.plan.storageOf['x.embed'] = 9999; }), /targets\.wasm\.programs\.last\.plan\.storageOf\.x\.embed is 9999, but there are \d+ storages/);
  });

  it('tokenizer.file pointing outside the folder, or at another of its files', () => {
    refused(tampered((m) => { m.tokenizer.file = '../../etc/passwd'; }), /tokenizer\.file is "\.\.\/\.\.\/etc\/passwd", not a plain path inside the artifact folder/);
    refused(tampered((m) => { m.tokenizer.file = '/etc/passwd'; }), /tokenizer\.file is "\/etc\/passwd", not a plain path/);
    refused(tampered((m) => { m.tokenizer.file = 'cpu.wasm'; }), /tokenizer\.file is "cpu\.wasm", which is not one of tokenizer\.files/);
    refused(tampered((m) => {
      m.tokenizer.file = 'cpu.wasm';
      m.tokenizer.files['cpu.wasm'] = m.targets.wasm.sha256;
    }), /targets\.wasm\.file names "cpu\.wasm", which tokenizer\.files\.cpu\.wasm names too/);
  });

  it('a tokenizer file replaced by a link that leads outside the folder', () => {
    const dir = tampered(() => {});
    unlinkSync(join(dir, 'tokenizer.bin'));
    symlinkSync('/etc/passwd', join(dir, 'tokenizer.bin'));
    refused(dir, /tokenizer\.files\.tokenizer\.bin is "tokenizer\.bin", a link that leads outside the artifact folder/);
  });

  it('a kernel cpu.wasm does not have, a missing field, an unknown one', () => {
    refused(tampered((m) => { m.targets.wasm.programs.last.nodes[0].kernels[0].name = 'no_such_kernel'; }), /targets\.wasm\.programs\.last\.nodes\[0\]\.kernels\[0\]\.name is "no_such_kernel", which targets\.wasm\.kernels/);
    refused(tampered((m) => { delete m.weights.sha256; }), /weights\.sha256 is missing/);
    refused(tampered((m) => { m.targets.wasm.programs.last.extra = 1; }), /targets\.wasm\.programs\.last\.extra is not a field this Tessera knows/);
  });

  it('a model config with a value out of range or of the wrong shape', async () => {
    await expect(Model.open(tampered((m) => { m.model.config.norm.eps = -1; }), { backend: 'reference' })).rejects.toThrow(/manifest\.json model\.config: .*epsilon must be a finite number > 0/);
    await expect(Model.open(tampered((m) => { delete m.model.config.norm; }), { backend: 'reference' })).rejects.toThrow(ArtifactError);
  });

  it('a truncated manifest', () => {
    const dir = tampered(() => {});
    truncateSync(join(dir, MANIFEST_FILE), 500);
    refused(dir, /manifest\.json cannot be read/);
  });

  it('an edit the schema allows is caught by the checksum; a missing checksum is refused', () => {
    refused(tampered((m) => { m.created = '2000-01-01T00:00:00.000Z'; }, false), /manifest\.json does not match manifest\.sha256.*recompile/);
    const dir = tampered(() => {});
    unlinkSync(join(dir, MANIFEST_CHECKSUM_FILE));
    refused(dir, /manifest\.sha256 is missing/);
  });

  it('the public API refuses it too, before running anything', async () => {
    const dir = tampered((m) => { m.targets.wasm.programs.last.nodes[8].kernels = []; });
    await expect(Model.open(dir, { backend: 'wasm' })).rejects.toThrow(ArtifactError);
  });
});
