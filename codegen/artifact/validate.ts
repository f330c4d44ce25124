// The manifest's schema, checked on load: every field's type and range, every path confined to the
// artifact folder and naming one file for one purpose, every program node of the final graphs
// backed by kernels. A failure names the field (`targets.wasm.programs.last.nodes[12]`) so a
// damaged or hand-edited manifest is refused instead of running as garbage.
import { isDType, storageBytes } from '../../ir/dtype.js';
import type { Graph } from '../../ir/graph.js';
import type { ArtifactFiles } from './files.js';
import { ARTIFACT_FORMAT, ARTIFACT_VERSION, ArtifactError, type ArtifactManifest, MANIFEST_FILE, type PlanData } from './manifest.js';

/** The manifest's sha256 in hex, beside it: the manifest is checksummed like every file it names. */
export const MANIFEST_CHECKSUM_FILE = 'manifest.sha256';

type Check = (v: unknown, path: string) => void;

class FieldError extends Error {
  constructor(readonly path: string, readonly problem: string) {
    super(`${path} ${problem}`);
  }
}

const fail = (path: string, problem: string): never => { throw new FieldError(path, problem); };
const show = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v).slice(0, 60) : Array.isArray(v) ? 'an array' : v === null ? 'null' : typeof v === 'object' ? 'an object' : String(v));

const str: Check = (v, p) => { if (typeof v !== 'string') fail(p, `is ${show(v)}, not a string`); };
const hex64: Check = (v, p) => { if (typeof v !== 'string' || !/^[0-9a-f]{64}$/.test(v)) fail(p, `is ${show(v)}, not a sha256 in hex`); };
const count: Check = (v, p) => { if (!Number.isSafeInteger(v) || (v as number) < 0) fail(p, `is ${show(v)}, not a whole number ≥ 0`); };
const int: Check = (v, p) => { if (!Number.isSafeInteger(v)) fail(p, `is ${show(v)}, not a whole number`); };
const num: Check = (v, p) => { if (typeof v !== 'number' || !Number.isFinite(v)) fail(p, `is ${show(v)}, not a finite number`); };
const bool: Check = (v, p) => { if (typeof v !== 'boolean') fail(p, `is ${show(v)}, not true or false`); };
const oneOf = (...values: readonly unknown[]): Check => (v, p) => { if (!values.includes(v)) fail(p, `is ${show(v)}, not one of ${values.map(show).join(', ')}`); };
const plainObject = (v: unknown, p: string): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : fail(p, `is ${show(v)}, not an object`));

/** An object with exactly these fields (a `?` suffix marks an optional one). */
function object(fields: Readonly<Record<string, Check>>): Check {
  return (v, p) => {
    const o = plainObject(v, p);
    for (const [key, check] of Object.entries(fields)) {
      const name = key.endsWith('?') ? key.slice(0, -1) : key;
      if (o[name] === undefined) {
        if (!key.endsWith('?')) fail(`${p}.${name}`, 'is missing');
        continue;
      }
      check(o[name], `${p}.${name}`);
    }
    const known = new Set(Object.keys(fields).map((k) => k.replace(/\?$/, '')));
    for (const key of Object.keys(o)) if (!known.has(key)) fail(`${p}.${key}`, 'is not a field this Tessera knows');
  };
}
const array = (item: Check): Check => (v, p) => {
  if (!Array.isArray(v)) fail(p, `is ${show(v)}, not an array`);
  (v as unknown[]).forEach((x, i) => item(x, `${p}[${i}]`));
};
const record = (item: Check): Check => (v, p) => {
  for (const [k, x] of Object.entries(plainObject(v, p))) item(x, `${p}.${k}`);
};
const tuple3 = (item: Check): Check => (v, p) => {
  if (!Array.isArray(v) || v.length !== 3) fail(p, `is ${show(v)}, not an array of 3`);
  (v as unknown[]).forEach((x, i) => item(x, `${p}[${i}]`));
};
/** A file inside the artifact folder, named relative to it. */
const relPath: Check = (v, p) => {
  str(v, p);
  const s = v as string;
  // Plain: relative, '/'-separated, no empty, '.' or '..' segment (what path.normalize leaves alone).
  if (s.includes('\\') || s.split('/').some((seg) => seg === '' || seg === '.' || seg === '..')) fail(p, `is ${show(s)}, not a plain path inside the artifact folder`);
};

const operandBinding = object({ kind: oneOf('operand', 'result'), index: count });
const wasmBinding: Check = (v, p) => {
  const kind = plainObject(v, p).kind;
  if (kind === 'scratch') object({ kind: str, slot: count, bytes: str, perThread: bool })(v, p);
  else if (kind === 'counter') object({ kind: str })(v, p);
  else operandBinding(v, p);
};
const wgslBinding: Check = (v, p) => {
  const kind = plainObject(v, p).kind;
  if (kind === 'scratch') object({ kind: str, id: count, bytes: str })(v, p);
  else if (kind === 'operand') object({ kind: str, index: count, 'rows?': object({ first: count, count: count }) })(v, p);
  else operandBinding(v, p);
};

const STORAGE_ROLES = ['param', 'input', 'state', 'activation', 'output', 'tail'] as const;
const planData = object({
  bounds: record(count),
  arenaBytes: count,
  peakActivationBytes: str,
  unsharedActivationBytes: count,
  storages: array(object({ id: count, role: oneOf(...STORAGE_ROLES), owner: str, bytes: str, maxBytes: count, 'offset?': count, firstDef: int, lastUse: int, 'tailOf?': count })),
  storageOf: record(count),
});
const wasmProgram = object({ plan: planData, nodes: array(object({ kernels: array(object({ name: str, bindings: array(wasmBinding), dims: array(str) })) })) });
const wgslProgram = object({
  plan: planData,
  nodes: array(object({
    kernels: array(object({ key: str, file: relPath, entryPoint: str, label: str, bindings: array(wgslBinding), uniformDims: array(str), grid: tuple3(str), 'when?': object({ dim: str, 'min?': num, 'max?': num }) })),
    'aliasOf?': count,
  })),
  dims: object({ key: str, symbols: array(str), table: array(str), file: relPath }),
});

const manifestSchema = object({
  format: oneOf(ARTIFACT_FORMAT),
  version: oneOf(ARTIFACT_VERSION),
  tessera: str,
  created: str,
  model: object({ source: str, sourceFormat: str, config: plainObject }),
  'tokenizer?': object({ file: relPath, files: record(hex64) }),
  passes: str,
  graphs: record(plainObject),
  weights: object({ file: relPath, bytes: count, sha256: hex64, tensors: record(object({ dtype: str, shape: array(count), offset: count, bytes: count, source: str })) }),
  targets: object({
    'webgpu?': object({ programs: record(wgslProgram), files: record(hex64) }),
    'wasm?': object({ file: relPath, sha256: hex64, 'source?': object({ file: relPath, sha256: hex64 }), kernels: array(str), 'features?': array(str), programs: record(wasmProgram) }),
  }),
});

/** Checks that hold between fields: plans point at their own storages, weights fit their file, paths name one file each. */
function checkConsistency(m: ArtifactManifest): void {
  const w = m.weights;
  for (const [name, e] of Object.entries(w.tensors)) {
    const p = `weights.tensors.${name}`;
    if (!isDType(e.dtype)) return fail(`${p}.dtype`, `is ${show(e.dtype)}, a dtype this Tessera does not know`);
    if (storageBytes(e.dtype, e.shape) !== e.bytes) fail(`${p}.bytes`, `is ${e.bytes}, which a ${e.dtype}[${String(e.shape)}] tensor is not`);
    if (e.offset + e.bytes > w.bytes) fail(p, `lies outside ${w.file} (bytes ${e.offset}…${e.offset + e.bytes} of ${w.bytes})`);
  }
  const paths = new Map<string, string>([[MANIFEST_FILE, '(the manifest)'], [MANIFEST_CHECKSUM_FILE, '(the manifest checksum)']]);
  const claim = (file: string, field: string) => {
    const other = paths.get(file);
    if (other !== undefined) fail(field, `names ${show(file)}, which ${other} names too`);
    paths.set(file, field);
  };
  claim(w.file, 'weights.file');
  if (m.tokenizer) {
    if (!(m.tokenizer.file in m.tokenizer.files)) fail('tokenizer.file', `is ${show(m.tokenizer.file)}, which is not one of tokenizer.files (so it has no checksum)`);
    for (const f of Object.keys(m.tokenizer.files)) claim(f, `tokenizer.files.${f}`);
  }
  const wasm = m.targets.wasm;
  if (wasm) {
    claim(wasm.file, 'targets.wasm.file');
    if (wasm.source) claim(wasm.source.file, 'targets.wasm.source.file');
    const kernels = new Set(wasm.kernels);
    for (const [role, prog] of Object.entries(wasm.programs)) {
      const p = `targets.wasm.programs.${role}`;
      checkPlan(prog.plan, `${p}.plan`);
      prog.nodes.forEach((n, i) => n.kernels.forEach((k, j) => {
        if (!kernels.has(k.name)) fail(`${p}.nodes[${i}].kernels[${j}].name`, `is ${show(k.name)}, which targets.wasm.kernels (cpu.wasm) does not have`);
      }));
    }
  }
  const gpu = m.targets.webgpu;
  if (gpu) {
    for (const f of Object.keys(gpu.files)) claim(f, `targets.webgpu.files.${f}`);
    for (const [role, prog] of Object.entries(gpu.programs)) {
      const p = `targets.webgpu.programs.${role}`;
      checkPlan(prog.plan, `${p}.plan`);
      const listed = (file: string, field: string) => { if (!(file in gpu.files)) fail(field, `is ${show(file)}, which is not one of targets.webgpu.files (so it has no checksum)`); };
      listed(prog.dims.file, `${p}.dims.file`);
      prog.nodes.forEach((n, i) => n.kernels.forEach((k, j) => listed(k.file, `${p}.nodes[${i}].kernels[${j}].file`)));
    }
  }
}

function checkPlan(plan: PlanData, p: string): void {
  plan.storages.forEach((s, i) => {
    if (s.id !== i) fail(`${p}.storages[${i}].id`, `is ${s.id}, not its index ${i}`);
    if ((s.role === 'tail') !== (s.tailOf !== undefined)) fail(`${p}.storages[${i}]`, `has role ${s.role} ${s.tailOf === undefined ? 'without' : 'with'} tailOf`);
    if (s.tailOf !== undefined && plan.storages[s.tailOf]?.role !== 'state') fail(`${p}.storages[${i}].tailOf`, `is ${s.tailOf}, which is not a state storage`);
    if (s.role === 'activation' && (s.offset === undefined || s.offset + s.maxBytes > plan.arenaBytes)) fail(`${p}.storages[${i}]`, `is an activation outside the arena of ${plan.arenaBytes} bytes`);
  });
  for (const [name, id] of Object.entries(plan.storageOf)) {
    if (id >= plan.storages.length) fail(`${p}.storageOf.${name}`, `is ${id}, but there are ${plan.storages.length} storages`);
  }
}

/** Parses and checks a manifest's JSON: an ArtifactError names the first field that is wrong and says to recompile. */
export function validateManifest(json: unknown, dir: string): ArtifactManifest {
  try {
    const o = plainObject(json, 'manifest');
    // Format and version first: an older artifact is told to recompile, not listed field by field.
    if (o.format !== ARTIFACT_FORMAT) throw new ArtifactError(dir, `${MANIFEST_FILE} is not a Tessera artifact manifest (format ${JSON.stringify(o.format)})`);
    if (o.version !== ARTIFACT_VERSION) throw new ArtifactError(dir, `artifact format version ${String(o.version)} is not the one this Tessera reads (${ARTIFACT_VERSION}): recompile it with \`tessera compile\``);
    manifestSchema(json, 'manifest');
    checkConsistency(json as ArtifactManifest);
    return json as ArtifactManifest;
  } catch (e) {
    throw e instanceof FieldError ? damaged(dir, e.path.replace(/^manifest\.?/, '') || 'manifest', e.problem) : e;
  }
}

function damaged(dir: string, field: string, problem: string): ArtifactError {
  return new ArtifactError(dir, `${MANIFEST_FILE}: ${field} ${problem} (a damaged or edited manifest: recompile the model with \`tessera compile\`)`);
}

/** The manifest checked against manifest.sha256, which the writer puts beside it. */
export function checkManifestChecksum(files: ArtifactFiles): void {
  const dir = files.location;
  if (files.size(MANIFEST_CHECKSUM_FILE, MANIFEST_CHECKSUM_FILE) === undefined) throw new ArtifactError(dir, `${MANIFEST_CHECKSUM_FILE} is missing (recompile the model with \`tessera compile\`)`);
  const want = new TextDecoder().decode(files.bytes(MANIFEST_CHECKSUM_FILE)).trim();
  if (files.sha256(MANIFEST_FILE) !== want) throw new ArtifactError(dir, `${MANIFEST_FILE} does not match ${MANIFEST_CHECKSUM_FILE} (edited after compilation: recompile the model with \`tessera compile\`)`);
}

/**
 * Every node of each final graph has its kernels on each target: a node without any is allowed only
 * when each of its results shares storage with one of its operands (a view or an in-place update).
 */
export function checkProgramsCoverGraphs(m: ArtifactManifest, graphs: Readonly<Record<string, Graph>>, dir: string): void {
  const targets = [['wasm', m.targets.wasm?.programs], ['webgpu', m.targets.webgpu?.programs]] as const;
  for (const [target, programs] of targets) {
    for (const [role, prog] of Object.entries(programs ?? {})) {
      const p = `targets.${target}.programs.${role}`;
      const g = graphs[role];
      if (!g) throw damaged(dir, p, `is a program for a graph the manifest does not have (graphs has ${Object.keys(graphs).join(', ')})`);
      if (prog.nodes.length !== g.nodes.length) throw damaged(dir, `${p}.nodes`, `has ${prog.nodes.length} entries, but graphs.${role} has ${g.nodes.length} nodes`);
      const storage = (name: string) => prog.plan.storageOf[name];
      g.nodes.forEach((node, i) => {
        const n = prog.nodes[i];
        const where = `${p}.nodes[${i}]`;
        for (const v of [...node.inputs, ...node.outputs]) if (storage(v.name) === undefined) throw damaged(dir, `${p}.plan.storageOf`, `has no storage for %${v.name} (node ${i}, ${node.op})`);
        const aliased = 'aliasOf' in n && n.aliasOf !== undefined;
        if (n.kernels.length === 0 && !aliased && !node.outputs.every((o) => node.inputs.some((x) => storage(x.name) === storage(o.name)))) {
          throw damaged(dir, `${where}.kernels`, `is empty, but node ${i} (${node.op} → %${node.outputs[0]?.name}) computes a new value`);
        }
        n.kernels.forEach((k: { readonly bindings: readonly { readonly kind: string; readonly index?: number }[] }, j: number) => k.bindings.forEach((b, s) => {
          if ((b.kind === 'operand' && b.index! >= node.inputs.length) || (b.kind === 'result' && b.index! >= node.outputs.length)) {
            throw damaged(dir, `${where}.kernels[${j}].bindings[${s}].index`, `is ${b.index}, but ${node.op} has ${b.kind === 'operand' ? node.inputs.length : node.outputs.length} ${b.kind}s`);
          }
        }));
      });
    }
  }
}
