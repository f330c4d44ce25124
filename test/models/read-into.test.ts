// Every reader writes a tensor's bytes into caller-owned memory (a runtime's linear memory) exactly
// as `read` returns them, and refuses a destination of the wrong size by name. The resolver streams
// only plain stored tensors of their declared type.
import { describe, expect, it } from 'vitest';
import { readArtifact } from '../../codegen/artifact/read.js';
import { FormatError, type TensorStore } from '../../models/formats/store.js';
import { openModel } from '../../models/open.js';
import { compile } from '../../src/compile.js';
import { Model, paramResolver } from '../../src/model.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasShared, sharedPath } from '../helpers/shared.js';

function expectSameBytes(store: TensorStore): void {
  for (const name of store.names()) {
    const t = store.read(name);
    const want = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    // A shared buffer with an offset, as wasm memory is.
    const dest = new Uint8Array(new SharedArrayBuffer(want.length + 24), 8, want.length);
    store.readInto(name, dest);
    expect(Buffer.compare(Buffer.from(dest), Buffer.from(want)), `${store.format} ${name}`).toBe(0);
  }
  const first = store.names()[0];
  // Byte ranges (quantize-as-you-load reads a few rows at a time): the same bytes, bounds checked.
  for (const name of store.names().slice(0, 4)) {
    const t = store.read(name);
    const all = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    const at = Math.floor(all.length / 3), part = new Uint8Array(Math.floor(all.length / 2));
    store.readRangeInto!(name, at, part);
    expect(Buffer.compare(Buffer.from(part), all.subarray(at, at + part.length)), `${store.format} ${name} range`).toBe(0);
    expect(() => store.readRangeInto!(name, all.length - 1, new Uint8Array(2))).toThrow(/bytes \d+…\d+ are outside it/);
  }
  expect(() => store.readInto(first, new Uint8Array(3))).toThrow(FormatError);
  expect(() => store.readInto(first, new Uint8Array(3))).toThrow(new RegExp(`tensor "${first.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}" is \\d+ bytes, not the 3 asked for`));
}

describe.runIf(hasShared('models'))('readInto', () => {
  it('llama2c, GGUF (f32, F16, Q8_0) and safetensors give the bytes read() gives', () => {
    for (const path of [
      sharedPath('models', 'stories260K', 'stories260K.bin'),
      sharedPath('models', 'stories260K', 'stories260K.gguf'),
      sharedPath('models', 'tinystories-656k'),
      sharedPath('models', 'tinystories-656k', 'TinyStories-656K-Q8_0.gguf'),
    ]) expectSameBytes(openModel(path).store);
  });

  it('artifacts too; the resolver writes every weight, plain or built, straight into its destination', async () => {
    const out = mkdtempSync(join(tmpdir(), 'tessera-readinto-'));
    try {
      await compile(sharedPath('models', 'stories260K', 'stories260K.bin'), { out, passes: 'default', targets: [] });
      const a = readArtifact(out);
      const dest = new Uint8Array(a.weightEntry(a.weightNames()[0]).bytes);
      a.readWeightInto(a.weightNames()[0], dest);
      const t = a.readWeight(a.weightNames()[0]);
      expect(Buffer.compare(Buffer.from(dest), Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))).toBe(0);
    } finally {
      rmSync(out, { recursive: true });
    }
    const model = Model.load(sharedPath('models', 'stories260K', 'stories260K.bin'), { passes: 'default' });
    const resolve = paramResolver(model.source);
    const params = model.graph({ logits: 'last' }).params;
    // Every weight is written straight into its destination: plain tensors from the file, merged
    // QKV / gate-up and norm-folded ones built in place, byte for byte what evaluation gives.
    const built = params.filter((p) => p.def.kind === 'param' && p.def.source.kind === 'call');
    expect(built.length).toBeGreaterThan(0);
    expect(built.length).toBeLessThan(params.length);
    for (const p of params) {
      const s = resolve.streamer?.(p);
      expect(s, p.name).toBeDefined();
      const dest = new Uint8Array(s!.bytes);
      s!.write(dest);
      const t = resolve(p);
      expect(Buffer.compare(Buffer.from(dest), Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)), p.name).toBe(0);
    }
  });
});
