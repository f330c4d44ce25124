// Writes a compiled artifact folder: weights evaluated (merged, folded, quantized) and packed
// aligned into weights.bin, the final graphs re-bound to those packed tensors, per-target kernels,
// the tokenizer, and a manifest with checksums.
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { storageBytes } from '../../ir/dtype.js';
import { cloneGraph, type Graph, type Value } from '../../ir/graph.js';
import { type GraphJSON, graphToJSON } from '../../ir/json.js';
import { formatWeight } from '../../ir/printer.js';
import type { HostTensor } from '../../ir/tensor.js';
import { weightTensor } from '../../ir/weights.js';
import type { WgslProgram } from '../wgsl/program.js';
import { programToData } from '../wgsl/serialize.js';
import type { WasmProgram } from '../wasm/program.js';
import { wasmProgramToData } from '../wasm/serialize.js';
import { MANIFEST_CHECKSUM_FILE } from './validate.js';
import { ARTIFACT_FORMAT, ARTIFACT_VERSION, type ArtifactManifest, MANIFEST_FILE, WEIGHT_ALIGN, type WeightEntry, WEIGHTS_FILE } from './manifest.js';

export interface ArtifactInput {
  readonly tessera: string;
  readonly model: ArtifactManifest['model'];
  readonly passes: string;
  /** Final graphs by role (`last`/`all` for decoders, `batch` for encoders). Params still name their sources. */
  readonly graphs: Readonly<Record<string, Graph>>;
  /** Evaluates a parameter's source into its tensor. */
  readonly resolve: (p: Value) => HostTensor;
  /** The first file is the one to load; the others sit beside it (e.g. tokenizer_config.json). */
  readonly tokenizer?: readonly { readonly file: string; readonly bytes: Uint8Array }[];
  readonly webgpu?: Readonly<Record<string, WgslProgram>>;
  /** The CPU module (its binary and the AssemblyScript it was compiled from) and the programs that call into it. */
  readonly wasm?: { readonly binary: Uint8Array; readonly source: string; readonly kernels: readonly string[]; readonly features: readonly string[]; readonly programs: Readonly<Record<string, WasmProgram>> };
  readonly onProgress?: (phase: string, done: number, total: number) => void;
}

export interface ArtifactSummary {
  readonly dir: string;
  readonly weightBytes: number;
  readonly tensors: number;
  readonly kernelFiles: number;
  readonly phaseMs: Readonly<Record<string, number>>;
}

const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

export function writeArtifact(dir: string, input: ArtifactInput): ArtifactSummary {
  mkdirSync(dir, { recursive: true });
  const phaseMs: Record<string, number> = {};
  let t = performance.now();
  const lap = (phase: string) => { const now = performance.now(); phaseMs[phase] = now - t; t = now; };

  // One packed tensor per distinct source, named after the first parameter that reads it.
  const bySource = new Map<string, { name: string; param: Value }>();
  const taken = new Set<string>();
  for (const g of Object.values(input.graphs)) {
    for (const p of g.params) {
      if (p.def.kind !== 'param') continue;
      const key = formatWeight(p.def.source);
      if (bySource.has(key)) continue;
      let name = p.name;
      for (let i = 1; taken.has(name); i++) name = `${p.name}.${i}`;
      taken.add(name);
      bySource.set(key, { name, param: p });
    }
  }
  const tensors: Record<string, WeightEntry> = {};
  const hash = createHash('sha256');
  const fd = openSync(join(dir, WEIGHTS_FILE), 'w');
  let offset = 0;
  const pad = new Uint8Array(WEIGHT_ALIGN);
  try {
    let done = 0;
    for (const [source, { name, param }] of bySource) {
      const gap = (WEIGHT_ALIGN - (offset % WEIGHT_ALIGN)) % WEIGHT_ALIGN;
      if (gap) { writeSync(fd, pad, 0, gap); hash.update(pad.subarray(0, gap)); offset += gap; }
      const tensor = input.resolve(param);
      const bytes = new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
      // The reader checks every entry's size against the dtype table; so does the writer, first.
      if (bytes.byteLength !== storageBytes(tensor.dtype, tensor.shape)) throw new Error(`internal error: weight "${name}" ${tensor.dtype}[${tensor.shape.join(', ')}] has ${bytes.byteLength} bytes, not ${storageBytes(tensor.dtype, tensor.shape)}`);
      writeSync(fd, bytes);
      hash.update(bytes);
      tensors[name] = { dtype: tensor.dtype, shape: [...tensor.shape], offset, bytes: bytes.byteLength, source };
      offset += bytes.byteLength;
      input.onProgress?.('weights', ++done, bySource.size);
    }
  } finally {
    closeSync(fd);
  }
  lap('weights');

  // The graphs as stored: every parameter reads its packed tensor by name.
  const graphs: Record<string, GraphJSON> = {};
  for (const [role, g] of Object.entries(input.graphs)) {
    const c = cloneGraph(g);
    for (const p of c.params) if (p.def.kind === 'param') p.def = { kind: 'param', source: weightTensor(bySource.get(formatWeight(p.def.source))!.name) };
    graphs[role] = graphToJSON(c);
  }
  lap('graphs');

  let webgpu: ArtifactManifest['targets']['webgpu'];
  let kernelFiles = 0;
  if (input.webgpu) {
    const programs: Record<string, ReturnType<typeof programToData>['data']> = {};
    const files: Record<string, string> = {};
    for (const [role, p] of Object.entries(input.webgpu)) {
      const { data, files: sources } = programToData(p);
      programs[role] = data;
      for (const [path, text] of sources) {
        if (files[path]) continue;
        mkdirSync(dirname(join(dir, path)), { recursive: true });
        writeFileSync(join(dir, path), text);
        files[path] = sha256(text);
        kernelFiles++;
      }
    }
    webgpu = { programs, files };
  }
  let wasm: ArtifactManifest['targets']['wasm'];
  if (input.wasm) {
    writeFileSync(join(dir, 'cpu.wasm'), input.wasm.binary);
    // The source beside the binary, so the CPU kernels can be read as the WGSL ones can.
    writeFileSync(join(dir, 'cpu.ts'), input.wasm.source);
    const programs: Record<string, ReturnType<typeof wasmProgramToData>> = {};
    for (const [role, p] of Object.entries(input.wasm.programs)) programs[role] = wasmProgramToData(p);
    const source = { file: 'cpu.ts', sha256: sha256(input.wasm.source) };
    wasm = { file: 'cpu.wasm', sha256: sha256(input.wasm.binary), source, kernels: input.wasm.kernels, ...(input.wasm.features.length ? { features: input.wasm.features } : {}), programs };
    kernelFiles += 2;
  }
  lap('kernels');

  let tokenizer: ArtifactManifest['tokenizer'];
  if (input.tokenizer?.length) {
    const files: Record<string, string> = {};
    for (const f of input.tokenizer) {
      writeFileSync(join(dir, f.file), f.bytes);
      files[f.file] = sha256(f.bytes);
    }
    tokenizer = { file: input.tokenizer[0].file, files };
  }
  const manifest: ArtifactManifest = {
    format: ARTIFACT_FORMAT,
    version: ARTIFACT_VERSION,
    tessera: input.tessera,
    created: new Date().toISOString(),
    model: input.model,
    ...(tokenizer ? { tokenizer } : {}),
    passes: input.passes,
    graphs,
    weights: { file: WEIGHTS_FILE, bytes: offset, sha256: hash.digest('hex'), tensors },
    targets: { ...(webgpu ? { webgpu } : {}), ...(wasm ? { wasm } : {}) },
  };
  const manifestText = `${JSON.stringify(manifest, null, 1)}\n`;
  writeFileSync(join(dir, MANIFEST_FILE), manifestText);
  writeFileSync(join(dir, MANIFEST_CHECKSUM_FILE), `${sha256(manifestText)}\n`);
  lap('manifest');
  return { dir, weightBytes: offset, tensors: bySource.size, kernelFiles, phaseMs };
}
