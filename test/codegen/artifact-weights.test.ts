// Artifact weights of every storage type: written as their bytes, read back as the same tensor, and
// an entry whose byte count the dtype table contradicts (a damaged manifest) refused by name.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MANIFEST_FILE } from '../../codegen/artifact/manifest.js';
import { readArtifact } from '../../codegen/artifact/read.js';
import { writeArtifact } from '../../codegen/artifact/write.js';
import { GraphBuilder } from '../../ir/builder.js';
import { CONVERT_DTYPES, type DType, storageBytes } from '../../ir/dtype.js';
import { convertF32, f32, type HostTensor } from '../../ir/tensor.js';

/** [rows, 45]: 45 is no multiple of any block, so quantized rows end in a padded block. */
const SHAPE = [3, 45];

describe('artifact weights', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-weights-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const b = new GraphBuilder('weights');
  const weights = new Map<string, HostTensor>();
  for (const d of CONVERT_DTYPES) {
    const t = convertF32(f32(SHAPE, Array.from({ length: 3 * 45 }, (_, i) => Math.sin(i) * 3)), d as DType);
    weights.set(`w_${d}`, t);
    b.output(`y_${d}`, b.param(`w_${d}`, d as DType, SHAPE, `w_${d}`));
  }
  writeArtifact(dir, {
    tessera: 'test', model: { source: 'none', sourceFormat: 'none', config: {} }, passes: 'none', graphs: { all: b.graph },
    resolve: (p) => weights.get(p.name)!,
  });

  it('reads back every dtype the writer stores, byte for byte', () => {
    const art = readArtifact(dir);
    for (const [name, t] of weights) {
      expect(art.weightEntry(name).bytes, name).toBe(storageBytes(t.dtype, SHAPE));
      const back = art.readWeight(name);
      expect(back.dtype, name).toBe(t.dtype);
      expect(back.data.constructor, name).toBe(t.data.constructor);
      expect(Array.from(back.data), name).toEqual(Array.from(t.data));
    }
  });

  it('refuses an entry whose bytes do not fit its dtype and shape', () => {
    const manifestPath = join(dir, MANIFEST_FILE);
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    manifest.weights.tensors.w_q4_0.shape = [3, 96];
    writeFileSync(manifestPath, JSON.stringify(manifest));
    // The manifest is checked when the artifact is read, before any weight is asked for.
    expect(() => readArtifact(dir)).toThrow(/weights\.tensors\.w_q4_0\.bytes is 108, which a q4_0\[3,96\] tensor is not/);
  });
});
