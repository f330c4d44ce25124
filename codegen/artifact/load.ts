// Reads a compiled artifact from its files (files.ts: a folder in Node, fetched bytes in a
// browser): checks the manifest's schema, version and every checksum, reads the stored graphs
// (JSON form), and serves packed weights straight from weights.bin. Runs no pass and no compiler.
import { type DType, isDType, storageBytes } from '../../ir/dtype.js';
import type { Graph } from '../../ir/graph.js';
import { graphFromJSON } from '../../ir/json.js';
import { type HostTensor, tensorFromBytes } from '../../ir/tensor.js';
import { verifyIssues } from '../../ir/verifier.js';
import type { WgslProgram } from '../wgsl/program.js';
import { programFromData } from '../wgsl/serialize.js';
import type { CompiledModule } from '../wasm/module.js';
import type { WasmProgram } from '../wasm/program.js';
import { moduleFromBinary, wasmProgramFromData } from '../wasm/serialize.js';
import type { ArtifactFiles } from './files.js';
import { ArtifactError, type ArtifactManifest, MANIFEST_FILE, type WeightEntry } from './manifest.js';
import { checkManifestChecksum, checkProgramsCoverGraphs, validateManifest } from './validate.js';

export interface LoadedArtifact {
  /** Where it came from (a folder or URL), as errors name it. */
  readonly dir: string;
  /** Its files (the tokenizer is read from them where there are no paths). */
  readonly files: ArtifactFiles;
  readonly manifest: ArtifactManifest;
  readonly graphs: Readonly<Record<string, Graph>>;
  readonly tokenizerPath?: string;
  weightNames(): string[];
  weightEntry(name: string): WeightEntry;
  readWeight(name: string): HostTensor;
  /** A weight's packed bytes written into `dest` (exactly its size), without an intermediate copy. */
  readWeightInto(name: string, dest: Uint8Array): void;
  /** The stored WebGPU programs, bound to the parsed graphs. */
  webgpuPrograms(maxWorkgroups: number): Readonly<Record<string, WgslProgram>> | undefined;
  /** The stored CPU module and programs. */
  wasmTarget(): Promise<{ readonly module: CompiledModule; readonly programs: Readonly<Record<string, WasmProgram>> } | undefined>;
}

/** Checks an artifact's manifest (schema, checksum, version) and every file's checksum, then reads its graphs. */
export function loadArtifact(files: ArtifactFiles): LoadedArtifact {
  const dir = files.location;
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(files.bytes(MANIFEST_FILE)));
  } catch (e) {
    throw new ArtifactError(dir, `${MANIFEST_FILE} cannot be read: ${(e as Error).message}`);
  }
  const manifest = validateManifest(json, dir);
  checkManifestChecksum(files);
  const w = manifest.weights;
  const size = files.size(w.file, 'weights.file');
  if (size === undefined) throw new ArtifactError(dir, `${w.file} is missing`);
  if (size !== w.bytes) throw new ArtifactError(dir, `${w.file} has ${size} bytes, the manifest says ${w.bytes} (truncated or replaced: recompile)`);
  if (files.sha256(w.file) !== w.sha256) throw new ArtifactError(dir, `${w.file} does not match its checksum (modified after compilation: recompile)`);
  const check = (file: string, sha: string, field: string) => {
    if (files.size(file, field) === undefined) throw new ArtifactError(dir, `${file} is missing`);
    if (files.sha256(file) !== sha) throw new ArtifactError(dir, `${file} does not match its checksum (modified after compilation: recompile)`);
  };
  for (const [file, sha] of Object.entries(manifest.targets.webgpu?.files ?? {})) check(file, sha, `targets.webgpu.files.${file}`);
  if (manifest.targets.wasm) check(manifest.targets.wasm.file, manifest.targets.wasm.sha256, 'targets.wasm.file');
  if (manifest.targets.wasm?.source) check(manifest.targets.wasm.source.file, manifest.targets.wasm.source.sha256, 'targets.wasm.source.file');
  for (const [file, sha] of Object.entries(manifest.tokenizer?.files ?? {})) check(file, sha, `tokenizer.files.${file}`);

  const graphs: Record<string, Graph> = {};
  // Graphs are stored in their JSON form, read without the text parser (chevrotain stays unloaded).
  for (const [role, json] of Object.entries(manifest.graphs)) {
    let g: Graph;
    try {
      g = graphFromJSON(json);
    } catch (e) {
      throw new ArtifactError(dir, `the stored ${role} graph cannot be read: ${(e as Error).message}`);
    }
    const [issue] = verifyIssues(g);
    if (issue) throw new ArtifactError(dir, `the stored ${role} graph is not valid: ${issue.message} (a damaged manifest: recompile)`);
    graphs[role] = g;
  }
  checkProgramsCoverGraphs(manifest, graphs, dir);
  const entry = (name: string): WeightEntry => {
    const e = w.tensors[name];
    if (!e) throw new ArtifactError(dir, `${w.file} has no tensor "${name}"`);
    if (!isDType(e.dtype)) throw new ArtifactError(dir, `tensor "${name}" has unknown dtype ${e.dtype}`);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0) || storageBytes(e.dtype, e.shape) !== e.bytes) {
      throw new ArtifactError(dir, `tensor "${name}" is ${e.bytes} bytes, which a ${e.dtype}[${String(e.shape)}] tensor is not (a damaged manifest: recompile)`);
    }
    if (e.offset < 0 || e.offset + e.bytes > w.bytes) throw new ArtifactError(dir, `tensor "${name}" lies outside ${w.file}`);
    return e;
  };
  const readWeightInto = (name: string, dest: Uint8Array): void => {
    const e = entry(name);
    if (dest.length !== e.bytes) throw new ArtifactError(dir, `tensor "${name}" is ${e.bytes} bytes, not the ${dest.length} asked for`);
    files.readInto(w.file, e.offset, dest);
  };
  return {
    dir,
    files,
    manifest,
    graphs,
    tokenizerPath: manifest.tokenizer && files.path ? files.path(manifest.tokenizer.file) : undefined,
    weightNames: () => Object.keys(w.tensors),
    weightEntry: entry,
    readWeight(name) {
      const e = entry(name);
      const bytes = new Uint8Array(e.bytes);
      readWeightInto(name, bytes);
      return tensorFromBytes(e.dtype as DType, e.shape, bytes);
    },
    readWeightInto,
    async wasmTarget() {
      const t = manifest.targets.wasm;
      if (!t) return undefined;
      let module;
      try {
        module = await moduleFromBinary(files.bytes(t.file), t.kernels, t.features ?? [], await files.compiledWasm?.(t.file));
      } catch (e) {
        throw new ArtifactError(dir, (e as Error).message);
      }
      const programs: Record<string, WasmProgram> = {};
      for (const [role, data] of Object.entries(t.programs)) {
        const g = graphs[role];
        if (!g) throw new ArtifactError(dir, `the CPU program "${role}" has no graph`);
        programs[role] = wasmProgramFromData(data, g);
      }
      return { module, programs };
    },
    webgpuPrograms(maxWorkgroups) {
      const t = manifest.targets.webgpu;
      if (!t) return undefined;
      const out: Record<string, WgslProgram> = {};
      for (const [role, data] of Object.entries(t.programs)) {
        const g = graphs[role];
        if (!g) throw new ArtifactError(dir, `the WebGPU program "${role}" has no graph`);
        out[role] = programFromData(data, g, (file) => new TextDecoder().decode(files.bytes(file)), maxWorkgroups);
      }
      return out;
    },
  };
}
