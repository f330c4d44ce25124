// Opening what a user names as a model — a checkpoint or a compiled artifact folder — and the
// backend that can run it. Model and Encoder both start here, so artifacts are checked and
// narrowed to their compiled targets the same way for decoders and encoders.
import { isArtifactDir, type LoadedArtifact, readArtifact } from '../codegen/artifact/read.js';
import type { Graph } from '../ir/graph.js';
import { ConfigError } from '../models/config/model-config.js';
import { withAdapterLeaves } from '../models/lora/leaves.js';
import { openModel, type ModelSource, type OpenOptions } from '../models/open.js';
import { artifactSource } from './artifact-source.js';
import { BackendError, type BackendName, type ResolvedBackend, resolveBackend } from './backends.js';
import { withVerifiedWeights } from './verified-weights.js';

export interface SourceOptions extends OpenOptions {
  readonly passes?: string;
  readonly transform?: (g: Graph) => Graph;
}

export interface OpenedSource {
  readonly source: ModelSource;
  readonly artifact?: LoadedArtifact;
  /** Remembers that the weights loaded so far passed their NaN/Inf scan (src/verified-weights.ts); call once loading succeeded. */
  readonly recordVerified: () => void;
}

/** A model directory/file, or a compiled artifact folder (version and checksums checked). */
export function openSource(path: string, opts: SourceOptions): OpenedSource {
  if (!isArtifactDir(path)) {
    const verified = withVerifiedWeights(openModel(path, opts));
    // Checkpoints also resolve LoRA factors named by merged weights (lora:<file>#<tensor>).
    return { source: withAdapterLeaves(verified.source), recordVerified: verified.record };
  }
  if (opts.transform || (opts.passes && opts.passes !== 'none')) throw new ConfigError(path, 'a compiled artifact already ran its passes; --passes applies when compiling');
  const artifact = readArtifact(path);
  const source = artifactSource(artifact);
  return { source: opts.tokenizer ? { ...source, tokenizerPath: opts.tokenizer } : source, artifact, recordVerified: () => undefined };
}

/** Resolves `requested` (default auto); an artifact runs only the kernels it was compiled with, or the interpreter. */
export async function chooseBackend(path: string, requested: BackendName | undefined, artifact?: LoadedArtifact): Promise<ResolvedBackend> {
  const backend = await resolveBackend(requested ?? 'auto');
  if (!artifact || backend.name === 'reference' || artifact.manifest.targets[backend.name]) return backend;
  const has = Object.keys(artifact.manifest.targets);
  if (requested && requested !== 'auto') throw new BackendError(`${path} was compiled for ${has.join(', ') || 'no kernel target'}, not ${backend.name}: compile again with --target ${backend.name}`);
  return has.includes('wasm') ? { name: 'wasm', why: `${backend.why}; the artifact has no ${backend.name} kernels` } : { name: 'reference', why: `the artifact has no ${backend.name} kernels` };
}
